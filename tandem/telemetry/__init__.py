"""Telemetry: metrics (minute buckets, sketches, queries), logs (capture, filters, queries)
and usage (CPU, memory, GPU, disk of process trees). No HTTP in here."""

__all__: list[str] = []
