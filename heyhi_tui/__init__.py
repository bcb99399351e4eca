"""heyhi-tui: HeyHi's terminal UI (Textual). It reaches the daemon only through ``heyhi.wire.aclient``
(or ``heyhi.wire.remote``); ``heyhi_tui.main:main`` is the console script."""
