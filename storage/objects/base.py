"""The object-store interface and what both backends share: content keys, hashing while
spooling, and a reader that re-hashes what it streams.

A signed original is evidence, so the key IS the SHA-256 of the bytes (``sha256/ab/cd/<hex>``):
identical bytes are stored once, and any read can prove it returned exactly what was stored.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from storage.errors import IntegrityError, InvalidKey, StorageError

CHUNK = 1024 * 1024
KEY_RE = re.compile(r"^sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})$")

Source = bytes | bytearray | memoryview | BinaryIO | Path


def key_for_digest(hexdigest: str) -> str:
    """``sha256/ab/cd/<hex>`` for a SHA-256 hex digest."""
    hexdigest = hexdigest.lower()
    return f"sha256/{hexdigest[0:2]}/{hexdigest[2:4]}/{hexdigest}"


def key_for_bytes(data: bytes) -> str:
    return key_for_digest(hashlib.sha256(data).hexdigest())


def digest_of_key(key: str) -> str:
    """The hex digest a key names; ``InvalidKey`` for anything else (path tricks included)."""
    m = KEY_RE.match(key or "")
    if not m or m.group(3)[0:2] != m.group(1) or m.group(3)[2:4] != m.group(2):
        raise InvalidKey(
            f"Khóa đối tượng không hợp lệ: {key!r}; khóa phải có dạng sha256/ab/cd/<64 ký tự hex>",
            f"invalid object key {key!r}; expected sha256/ab/cd/<64 hex digits>",
        )
    return m.group(3)


def mismatch_error(key: str, actual_hex: str) -> IntegrityError:
    return IntegrityError(
        f"Dữ liệu của đối tượng {key} không khớp mã băm (đọc được sha256={actual_hex}): bản gốc "
        "đã bị thay đổi hoặc hỏng; không sử dụng, hãy báo quản trị viên để khôi phục",
        f"object {key} does not match its hash (read sha256={actual_hex}): the stored original "
        "was altered or corrupted; do not use it, ask the operator to restore it",
    )


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    retain_until: datetime | None = None
    retention_mode: str | None = None
    legal_hold: bool = False
    version_id: str | None = None


@dataclass(frozen=True)
class Problem:
    """One finding of ``check()``: ``kind`` is mismatch, unreadable or stale-temp."""

    key: str
    kind: str
    detail: str


@dataclass
class Spooled:
    """A source ready to upload: its digest, size, and a seekable stream positioned at 0."""

    hexdigest: str
    size: int
    stream: BinaryIO
    owned: bool  # we created the stream (temp file / BytesIO) and must close it
    data: bytes | None = None  # the bytes themselves when the caller passed bytes (no copy)

    def read_small(self) -> bytes:
        """The whole content, for objects small enough to hold in memory. A file read again
        after hashing must still have the digest it was stored under: one that changed between
        the two passes is refused rather than stored under a key that does not name its bytes."""
        if self.data is not None:
            return self.data
        data = self.stream.read()
        if len(data) != self.size or hashlib.sha256(data).hexdigest() != self.hexdigest:
            raise _changed_while_storing()
        return data

    def checked_stream(self) -> BinaryIO:
        """The stream for a second pass (multipart upload), re-hashed as it is read: reading its
        last byte raises if the bytes differ from the first pass, so the upload is aborted
        instead of completed under a key that does not name its bytes."""
        return _RehashingReader(self)  # type: ignore[return-value]

    @property
    def key(self) -> str:
        return key_for_digest(self.hexdigest)

    def close(self) -> None:
        if self.owned:
            self.stream.close()


def known_digest(source: Source, sha256: str | None) -> str | None:
    """The caller's SHA-256 of ``source``, when it can be taken without hashing again: only for
    immutable ``bytes`` (a bytearray, a view or a file may change after the caller hashed it)."""
    if sha256 is None or type(source) is not bytes:
        return None
    digest_of_key(key_for_digest(sha256))  # 64 lowercase hex digits, or a clear error
    return sha256


def spool(source: Source, *, temp_dir: str | os.PathLike | None = None,
          sha256: str | None = None) -> Spooled:
    """Hash the source and make it re-readable without holding a large file in memory.

    bytes are hashed in place (not at all when the caller hashed these very bytes: ``sha256``,
    see ``known_digest``); a seekable file is hashed in a first pass and rewound (two-pass);
    a non-seekable stream is copied to a temporary file while hashing.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        hexdigest = known_digest(source, sha256) or hashlib.sha256(data).hexdigest()
        return Spooled(hexdigest, len(data), io.BytesIO(data), True, data)
    if isinstance(source, Path):
        f = open(source, "rb")  # noqa: SIM115 - closed by Spooled.close
        try:
            return _two_pass(f, owned=True)
        except BaseException:
            f.close()
            raise
    if _seekable(source):
        return _two_pass(source, owned=False)
    tmp = tempfile.TemporaryFile(dir=temp_dir)  # noqa: SIM115 - closed by Spooled.close
    try:
        h = hashlib.sha256()
        size = 0
        while chunk := source.read(CHUNK):
            h.update(chunk)
            tmp.write(chunk)
            size += len(chunk)
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise
    return Spooled(h.hexdigest(), size, tmp, True)


def _seekable(f: BinaryIO) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _two_pass(f: BinaryIO, *, owned: bool) -> Spooled:
    start = f.tell()
    h = hashlib.sha256()
    size = 0
    while chunk := f.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
    f.seek(start)
    if start:
        f = _Window(f, start, size)
    return Spooled(h.hexdigest(), size, f, owned)


def _changed_while_storing() -> StorageError:
    return StorageError(
        "Tệp đã thay đổi trong khi đang lưu (mã băm khác lần đọc đầu); không ghi gì, hãy lưu "
        "lại khi tệp đã ghi xong",
        "the file changed while it was being stored (its hash differs from the first read); "
        "nothing was written, store it again once it is complete",
    )


class _RehashingReader(io.RawIOBase):
    """See ``Spooled.checked_stream``."""

    def __init__(self, sp: Spooled) -> None:
        self._sp = sp
        self._h = hashlib.sha256()
        self._seen = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        if size is None or size < 0:
            size = self._sp.size - self._seen
        data = self._sp.stream.read(min(size, self._sp.size - self._seen))
        self._h.update(data)
        self._seen += len(data)
        at_end = (not data and size) or self._seen == self._sp.size
        if at_end and (self._seen != self._sp.size or self._h.hexdigest() != self._sp.hexdigest):
            raise _changed_while_storing()
        return data


class _Window(io.RawIOBase):
    """A view of a file from ``start`` on, so readers see offset 0 where the caller left it."""

    def __init__(self, f: BinaryIO, start: int, size: int) -> None:
        self._f, self._start, self._size = f, start, size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            pos = self._start + offset
        elif whence == 1:
            pos = self._f.tell() + offset
        else:
            pos = self._start + self._size + offset
        return self._f.seek(pos) - self._start

    def tell(self) -> int:
        return self._f.tell() - self._start

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self._f.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


class VerifyingReader(io.RawIOBase):
    """Streams an object and re-hashes it; at end of stream raises ``IntegrityError`` on a
    mismatch. Callers must read to the end before trusting (or committing) what they read;
    ``ObjectStore.download`` does that for them."""

    def __init__(self, key: str, raw: BinaryIO, on_close=None) -> None:
        self._key = key
        self._expected = digest_of_key(key)
        self._raw = raw
        self._h = hashlib.sha256()
        self._done = False
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        if data:
            self._h.update(data)
            b[: len(data)] = data
            return len(data)
        if not self._done:
            self._done = True
            actual = self._h.hexdigest()
            if actual != self._expected:
                raise mismatch_error(self._key, actual)
        return 0

    def close(self) -> None:
        if not self.closed:
            try:
                if self._on_close:
                    self._on_close()
                else:
                    self._raw.close()
            finally:
                super().close()


class ObjectStore(ABC):
    """Immutable, content-addressed storage of originals.

    There is deliberately no delete: an issued original is evidence. ``put`` returns the key;
    storing the same bytes again stores nothing new. Every read re-hashes.
    Order rule for callers: put the object FIRST, then commit the metadata row that names the key,
    so no row ever points at a missing object (an orphan object is harmless, a dangling row is not).
    """

    url: str

    @abstractmethod
    def put(self, data: Source, *, expected_key: str | None = None,
            sha256: str | None = None) -> str:
        """Store ``data`` (bytes, a binary file or a Path). ``expected_key`` is the key the
        caller believes the bytes have (e.g. announced by a peer): refused if they differ.
        ``sha256``: the digest the caller itself computed from these very ``bytes`` (a hub
        hashes every arriving file once), so they are not hashed again; ignored for anything
        mutable."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A stream of the object that raises ``IntegrityError`` at its end on a mismatch."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo: ...

    @abstractmethod
    def iter_keys(self) -> Iterator[str]:
        """Every key in the store (for ``check`` and audits)."""

    def get(self, key: str) -> bytes:
        """The whole object, verified. For large objects prefer ``open`` or ``download``."""
        with self.open(key) as f:
            return f.read()

    def download(self, key: str, dest: str | os.PathLike) -> int:
        """Copy the object to ``dest`` atomically: written to a temp file beside it, verified,
        then renamed. Nothing is left at ``dest`` on a mismatch. Returns the size."""
        dest = Path(dest)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, self.open(key) as f:
                while chunk := f.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def verify(self, key: str) -> None:
        """Re-hash one object; raises ``IntegrityError`` on a mismatch."""
        with self.open(key) as f:
            while f.read(CHUNK):
                pass

    def check(self) -> list[Problem]:
        """Re-hash every object; an empty list means everything is intact."""
        problems: list[Problem] = []
        for key in self.iter_keys():
            try:
                self.verify(key)
            except IntegrityError as exc:
                problems.append(Problem(key, "mismatch", str(exc)))
            except StorageError as exc:
                problems.append(Problem(key, "unreadable", str(exc)))
        return problems

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (S3) — a no-op for the local store."""
