"""The sample requests in requests/, with what each should produce.

requests/manifest.json lists every sample body: its file, the Content-Type to send it with, and
the expected outcome. For a good sample that is status 200 and one label per row; for a bad one
it is the status the failing container answers (400) and that container's hostname. Through the
endpoint a container's 4xx reaches the client as SageMaker's ModelError (HTTP 424) carrying that
status as OriginalStatusCode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from examples.wine_pipeline import REQUESTS_DIR

__all__ = ["SampleRequest", "load_samples"]


@dataclass(frozen=True)
class SampleRequest:
    """One request body from requests/ and the outcome the pipeline should give it."""

    name: str
    path: Path
    content_type: str
    status: int
    labels: tuple[str, ...] = ()
    container: str | None = None  # for a bad sample: the container that rejects it
    about: str = ""

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()

    @property
    def ok(self) -> bool:
        return self.status == 200


def load_samples(requests_dir: Path = REQUESTS_DIR) -> list[SampleRequest]:
    """Every sample in the manifest, good ones first, in manifest order."""
    entries = json.loads((requests_dir / "manifest.json").read_text(encoding="utf-8"))
    samples = [
        SampleRequest(
            name=entry["file"],
            path=requests_dir / entry["file"],
            content_type=entry["content_type"],
            status=int(entry["status"]),
            labels=tuple(entry.get("labels", ())),
            container=entry.get("container"),
            about=entry.get("about", ""),
        )
        for entry in entries
    ]
    return sorted(samples, key=lambda sample: not sample.ok)
