"""Local-directory store: atomic, read-only, never overwritten, and crash-safe (a writer killed
with SIGKILL mid-write leaves no object), and a full disk leaves nothing behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from storage.errors import KeyConflict
from storage.objects import LocalStore, key_for_bytes, open_store

ROOT = Path(__file__).resolve().parent.parent


def test_objects_are_read_only(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "o"))
    key = store.put(b"read-only original")
    mode = (tmp_path / "o" / key).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_altered_object_is_not_silently_replaced(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "o"))
    key = store.put(b"original")
    path = tmp_path / "o" / key
    os.chmod(path, 0o644)
    path.write_bytes(b"altered!")
    with pytest.raises(KeyConflict):
        store.put(b"original")
    assert path.read_bytes() == b"altered!"  # evidence of the tampering kept for the operator


def test_concurrent_puts_of_same_bytes(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "o"))
    data = os.urandom(500_000)
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(store.put(data))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(keys) == {key_for_bytes(data)}
    assert list(store.iter_keys()) == [key_for_bytes(data)]
    assert list((tmp_path / "o" / ".tmp").iterdir()) == []


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from storage.objects import open_store

    class Slow:
        def __init__(self):
            self.n = 0
        def read(self, size=-1):
            self.n += 1
            if self.n > 200:
                return b""
            if self.n == 3:
                print("writing", flush=True)
            time.sleep(0.02)
            return bytes([self.n % 256]) * 65536

    store = open_store({store!r})
    store._unnamed = store._unnamed and {unnamed!r}
    store.put(Slow())
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("unnamed", [True, False], ids=["o_tmpfile", "named_temp"])
def test_kill_9_mid_write_leaves_no_partial_object(tmp_path: Path, unnamed: bool) -> None:
    """Killed mid-write: no object, ever. An unnamed (O_TMPFILE) temp file vanishes with the
    process; a named one (file systems without O_TMPFILE) is left for ``check`` to report and
    ``clean_temp`` to remove."""
    root = tmp_path / "o"
    unnamed = unnamed and LocalStore(root)._unnamed  # where this file system can
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT), store=str(root), unnamed=unnamed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    store = LocalStore(root)
    assert list(store.iter_keys()) == []
    assert not (root / "sha256").exists() or not any((root / "sha256").rglob("*/*/*"))
    problems = store.check()
    assert [p.kind for p in problems] == ([] if unnamed else ["stale-temp"])
    assert store.clean_temp(older_than_s=0) == (0 if unnamed else 1)
    assert store.check() == []
    # the same bytes written again (complete this time) are stored normally
    data = b"".join(bytes([n % 256]) * 65536 for n in range(1, 201))
    assert store.get(store.put(data)) == data


def test_disk_full_leaves_nothing(tmp_path: Path) -> None:
    """A file-size limit makes the write fail like a full disk (EFBIG/ENOSPC)."""
    root = tmp_path / "o"
    code = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from storage.objects import open_store
        from storage.errors import StoreFull
        store = open_store({str(root)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            store.put(b"x" * 1_000_000)
        except StoreFull as exc:
            print("full:", exc.message_en)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "full: no space left" in out.stdout, out.stderr
    store = LocalStore(root)
    assert list(store.iter_keys()) == [] and store.check() == []


def test_a_digest_the_caller_computed_is_not_computed_again(tmp_path: Path, monkeypatch) -> None:
    """A hub hashes each arriving file once and hands the digest to the store: for immutable
    bytes the store takes it; for anything that could change since (a bytearray) it hashes."""
    import hashlib

    import storage.objects.local as local

    data = os.urandom(300_000)
    digest = hashlib.sha256(data).hexdigest()
    expected, mutable_key = key_for_bytes(data), key_for_bytes(b"mutable")
    calls = []
    real = hashlib.sha256

    class Counting:
        def __init__(self, data: bytes = b"") -> None:
            self._h = real(data)
            calls.append(len(data))

        def update(self, data: bytes) -> None:
            calls.append(len(data))
            self._h.update(data)

        def hexdigest(self) -> str:
            return self._h.hexdigest()

    def counting(*args):
        return Counting(*args)

    monkeypatch.setattr(local.hashlib, "sha256", counting)
    store = LocalStore(tmp_path / "o", create=True)
    key = store.put(data, sha256=digest)
    assert key == expected
    assert not any(calls)  # no byte hashed by the store
    calls.clear()
    assert store.put(bytearray(b"mutable"), sha256=digest) == mutable_key
    assert calls  # hashed: the caller's digest is not trusted for mutable bytes
    monkeypatch.setattr(local.hashlib, "sha256", real)
    assert store.get(key) == data  # reads re-hash: the object is what its key says
    with pytest.raises(Exception, match="sha256/ab/cd"):
        store.put(b"x", sha256="not-a-digest")
