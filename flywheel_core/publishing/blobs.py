"""Content-addressed blobs: every enqueued file stored once under its sha256, checked when read."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Protocol

from flywheel_core.fsutil import atomic_write, sha256_bytes
from flywheel_core.publishing.storage import ContentMissing, QueueError

__all__ = ["BlobStore", "ContentMissing", "FileBlobStore"]


class BlobStore(Protocol):
    """Where the bytes of enqueued files live, by their sha256 (a folder here; a table in PostgreSQL)."""

    location: str

    def put(self, data: bytes) -> str:
        """Store ``data`` (once; atomically) and return its sha256."""
        ...

    def get(self, digest: str) -> bytes:
        """The bytes stored under ``digest``; :class:`ContentMissing` when they are missing or altered."""
        ...

    def path(self, digest: str) -> Path:
        """A local file holding the blob, to hard-link or copy and never to write (a database's
        blobs are cached in the state folder); :class:`ContentMissing` when it is missing."""
        ...

    def digests(self) -> Iterator[str]:
        """Every stored digest (``flywheel queue export``)."""
        ...

    def count(self) -> int:
        ...


class FileBlobStore:
    """``<state_dir>/blobs/<sha256>``: one file per distinct content, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.location = str(self.folder)

    def put(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        path = self.folder / digest
        try:
            if not path.is_file() or path.stat().st_size != len(data):
                atomic_write(path, data)
        except OSError as exc:
            raise QueueError(f"{self.folder}: cannot store enqueued content: {exc.strerror}") from None
        return digest

    def get(self, digest: str) -> bytes:
        try:
            data = (self.folder / digest).read_bytes()
        except FileNotFoundError:
            raise ContentMissing(f"content {digest[:12]} is missing from {self.folder}") from None
        except OSError as exc:
            raise QueueError(f"content {digest[:12]} in {self.folder} cannot be read: {exc.strerror}") from None
        if sha256_bytes(data) != digest:
            raise ContentMissing(f"content {digest[:12]} in {self.folder} is corrupt")
        return data

    def path(self, digest: str) -> Path:
        path = self.folder / digest
        if not path.is_file():
            raise ContentMissing(f"content {digest[:12]} is missing from {self.folder}")
        return path

    def digests(self) -> Iterator[str]:
        if self.folder.is_dir():
            yield from sorted(p.name for p in self.folder.iterdir() if not p.name.startswith("."))

    def count(self) -> int:
        return sum(1 for p in self.folder.iterdir() if not p.name.startswith(".")) if self.folder.is_dir() else 0
