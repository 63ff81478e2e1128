"""The peers' programs, run with their own venv's python (never imported by the bench)."""

__all__: list[str] = []
