"""The cli wing: the commands (``heyhi run``, ``ctl``, ``sweep``, ``stubs``) and asking on the terminal.
Nothing here is for other programs: ``__all__`` is empty; the console script is ``heyhi.cli.main:main``."""

__all__: list[str] = []
