"""The side-by-side pipeline benchmark: ``python -m bench.pipeline`` (see ``__main__``).

Three JSON stages (parse, add 1, serialise) served by two floors (one process; a minimal
aiohttp router over three stage processes), tandem (command containers and handler-runtime
containers), Ray Serve and BentoML, all loaded by the same wrk script.
"""

__all__: list[str] = []
