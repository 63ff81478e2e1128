"""Job data locations: SageMaker's S3 URIs become local paths or file:// URLs here.

Training channels, transform input and every output path (S3OutputPath) name local files;
relative paths resolve against a base directory (the YAML file's, or the server's working
directory for API calls). Remote URLs are refused with a message naming the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ValidationException

__all__ = ["local_path", "join_location"]


def local_path(location: object, base_dir: Path, *, field: str) -> Path:
    """The absolute path ``location`` names (it need not exist yet)."""
    if not isinstance(location, str) or not location.strip():
        raise ValidationException(f"{field}: must be a non-empty local path or file:// URL")
    text = location.strip()
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValidationException(f"{field}: file:// URL names host {parts.netloc!r}; only "
                                      "local files are supported")
        path = Path(unquote(parts.path))
    elif "://" in text:
        raise ValidationException(f"{field}: tandem runs locally: use a local path or file:// "
                                  f"URL instead of {text}")
    else:
        path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return Path(os.path.abspath(path))


def join_location(location: str, *parts: str) -> str:
    """``location`` with path parts appended, keeping a file:// URL a URL (as S3 keys join)."""
    return "/".join([location.rstrip("/"), *parts])
