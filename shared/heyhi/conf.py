"""``heyhi.conf``: the original HeyHi's module of that name. Importing it gives ``heyhi.compat.conf``,
which implements it, under this name too (one module object: ``heyhi.conf is heyhi.compat.conf``), so
``heyhi.conf.NAME``, ``from heyhi.conf import NAME`` and monkeypatching either reach the same names."""

import sys

from heyhi.compat import conf as _impl

sys.modules[__name__] = _impl
