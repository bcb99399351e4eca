"""heyhi-tui: HeyHi's terminal UI (Textual). It reaches the daemon only through ``heyhi.aclient``
(or ``heyhi.remote``); ``heyhi_tui.main:main`` is the console script."""
