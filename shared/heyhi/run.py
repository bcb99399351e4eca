"""``heyhi.run``: the original HeyHi's module of that name. Importing it gives ``heyhi.compat.run``,
which implements it, under this name too (one module object: ``heyhi.run is heyhi.compat.run``), so
``heyhi.run.NAME``, ``from heyhi.run import NAME`` and monkeypatching either reach the same names."""

import sys

from heyhi.compat import run as _impl

sys.modules[__name__] = _impl
