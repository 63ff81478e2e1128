"""The programs under test that are ours: the stage, the two floors and the handler module.

Each is a plain script run as its own process (``python apps/<name>.py``); they import only
the standard library and aiohttp, so a stage is exactly the same code whether floor B or
tandem (as a command container) starts it.
"""

__all__: list[str] = []
