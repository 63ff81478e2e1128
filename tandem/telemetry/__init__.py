"""Telemetry: metrics (minute buckets, sketches, queries), logs (capture, filters, queries)
and usage (CPU, memory, GPU, disk of process trees). No HTTP in here, except ``shipping``: the
client edge a remote agent uses to send its lines and samples to a server."""

__all__: list[str] = []
