"""``heyhi.util``: the original HeyHi's module of that name. Importing it gives ``heyhi.compat.util``,
which implements it, under this name too (one module object: ``heyhi.util is heyhi.compat.util``), so
``heyhi.util.NAME``, ``from heyhi.util import NAME`` and monkeypatching either reach the same names."""

import sys

from heyhi.compat import util as _impl

sys.modules[__name__] = _impl
