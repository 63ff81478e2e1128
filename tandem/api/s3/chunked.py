"""The ``aws-chunked`` content encoding, decoded incrementally (pure).

SigV4 streaming uploads frame the body as ``<hex size>[;chunk-signature=<sig>]\\r\\n<bytes>\\r\\n``
chunks, a zero-size chunk, then optional trailer lines (``x-amz-checksum-crc32:<b64>``) and a
blank line. botocore sends it over https with unsigned chunks and a checksum trailer; other
SDKs sign each chunk. HTTP's own chunking, when present, is already removed by the server.
"""

from __future__ import annotations

import hashlib

__all__ = ["AwsChunkedDecoder", "ChunkedError"]

_MAX_LINE = 64 * 1024


class ChunkedError(ValueError):
    """The body is not valid aws-chunked framing."""


class AwsChunkedDecoder:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = "size"
        self._remaining = 0
        self.trailers: dict[str, str] = {}
        self.signatures: list[str] = []
        # (chunk-signature, SHA-256 hex of the chunk's data) per signed chunk, final one last.
        self.signed_chunks: list[tuple[str, str]] = []
        self._chunk_hash = hashlib.sha256()
        self._chunk_signature: str | None = None
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        """The payload bytes ``data`` completes (in order)."""
        if self.done:
            if data.strip():
                raise ChunkedError("data after the final chunk")
            return []
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._state == "data":
                if not self._buf:
                    return out
                take = min(self._remaining, len(self._buf))
                piece = bytes(self._buf[:take])
                if self._chunk_signature is not None:
                    self._chunk_hash.update(piece)
                out.append(piece)
                del self._buf[:take]
                self._remaining -= take
                if self._remaining:
                    return out
                self._end_chunk()
                self._state = "crlf"
            elif self._state == "crlf":
                if len(self._buf) < 2:
                    return out
                if self._buf[:2] != b"\r\n":
                    raise ChunkedError("chunk data is longer than its declared size")
                del self._buf[:2]
                self._state = "size"
            else:
                line = self._line()
                if line is None:
                    return out
                if self._state == "size":
                    self._chunk_header(line)
                elif not line:
                    self.done = True
                    if self._buf.strip():
                        raise ChunkedError("data after the final chunk")
                    return out
                else:
                    name, sep, value = line.partition(":")
                    if not sep:
                        raise ChunkedError(f"trailer line without ':': {line[:40]!r}")
                    self.trailers[name.strip().lower()] = value.strip()

    def _line(self) -> str | None:
        end = self._buf.find(b"\r\n")
        if end < 0:
            if len(self._buf) > _MAX_LINE:
                raise ChunkedError("chunk header line too long")
            return None
        line = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[: end + 2]
        return line

    def _chunk_header(self, line: str) -> None:
        size_text, _, extensions = line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise ChunkedError(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise ChunkedError("negative chunk size")
        self._chunk_signature = None
        self._chunk_hash = hashlib.sha256()
        for extension in extensions.split(";") if extensions else ():
            name, _, value = extension.partition("=")
            if name.strip() == "chunk-signature":
                self.signatures.append(value.strip())
                self._chunk_signature = value.strip()
        if size == 0:
            self._end_chunk()
            self._state = "trailer"
        else:
            self._state = "data"
            self._remaining = size

    def _end_chunk(self) -> None:
        if self._chunk_signature is not None:
            self.signed_chunks.append((self._chunk_signature, self._chunk_hash.hexdigest()))
            self._chunk_signature = None

    def finish(self) -> None:
        """At the end of the body: raises unless the final chunk was seen."""
        if self.done:
            return
        if self._state == "trailer" and not self._buf:
            self.done = True  # a final chunk without the closing blank line
            return
        raise ChunkedError("the body ended before its final chunk")
