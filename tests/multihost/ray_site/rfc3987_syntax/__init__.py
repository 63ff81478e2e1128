"""Stands in for rfc3987-syntax in the rig's Ray processes (PYTHONPATH): the real one builds
a grammar at import, 2.3 s of CPU in every Ray agent and worker (jsonschema imports it when
present), which on a loaded 2-core machine outlasts the ~25 s a raylet waits for its agents.
jsonschema treats the ImportError as "no IRI format checker"; nothing in the rig checks IRIs."""

raise ImportError("rfc3987_syntax is left out of the multihost rig's Ray processes")
