"""The object-store contract, run on both backends: the local directory and a real S3 server
(SeaweedFS started by the ``s3_server`` fixture)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from storage.errors import IntegrityError, InvalidKey, KeyConflict, ObjectNotFound
from storage.objects import ObjectStore, key_for_bytes, open_store


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_store(str(tmp_path / "objects"))
    server = request.getfixturevalue("s3_server")
    st = open_store(server.url(retention_days=1))
    st._server = server  # for tamper()
    return st


def tamper(store: ObjectStore, key: str, data: bytes) -> None:
    """Write different bytes under a key behind the store's back."""
    if hasattr(store, "_server"):
        store._server.client().put_object(store.bucket, key, io.BytesIO(data), len(data))
    else:
        path = Path(store.root) / key
        os.chmod(path, 0o644)
        path.write_bytes(data)


def test_put_get_roundtrip_and_key_format(store: ObjectStore) -> None:
    data = "Quyết định số 123/QĐ-UBND".encode() * 100
    key = store.put(data)
    hexd = hashlib.sha256(data).hexdigest()
    assert key == f"sha256/{hexd[:2]}/{hexd[2:4]}/{hexd}"
    assert store.exists(key)
    assert store.get(key) == data
    assert store.stat(key).size == len(data)
    assert key in set(store.iter_keys())


def test_put_accepts_streams_and_paths(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    f = tmp_path / "in.bin"
    f.write_bytes(data)
    k1 = store.put(f)
    k2 = store.put(io.BytesIO(data))
    r, w = os.pipe()  # a non-seekable stream is spooled while hashing
    os.write(w, data[:60000])
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        k3 = store.put(pipe)
    assert k1 == k2 == key_for_bytes(data)
    offset = io.BytesIO(b"header" + data)  # a file the caller already read into: stored from there
    offset.read(6)
    assert store.put(offset) == k1
    assert k3 == key_for_bytes(data[:60000])
    assert store.get(k3) == data[:60000]


def test_second_put_stores_nothing_new(store: ObjectStore) -> None:
    data = b"same bytes for every recipient"
    key = store.put(data)
    before = _snapshot(store, key)
    assert store.put(data) == key
    assert _snapshot(store, key) == before


def _snapshot(store: ObjectStore, key: str):
    if hasattr(store, "_server"):
        client = store._server.client()
        return [
            (o.object_name, o.version_id)
            for o in client.list_objects(store.bucket, prefix=key, include_version=True)
        ]
    path = Path(store.root) / key
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, sorted(p.name for p in path.parent.iterdir()))


def test_unknown_and_invalid_keys(store: ObjectStore) -> None:
    missing = key_for_bytes(b"never stored")
    assert not store.exists(missing)
    with pytest.raises(ObjectNotFound) as err:
        store.get(missing)
    assert "Không có đối tượng" in str(err.value) and "no object" in err.value.message_en
    for bad in [
        "../etc/passwd",
        "sha256/00/01/" + "0" * 64,
        "sha256/AB/CD/" + "AB" * 32,
        "sha256/ab/cd/xyz",
        "",
    ]:
        with pytest.raises(InvalidKey):
            store.get(bad)


def test_expected_key_mismatch_refused(store: ObjectStore) -> None:
    key = store.put(b"original")
    with pytest.raises(KeyConflict):
        store.put(b"forged", expected_key=key)
    assert store.get(key) == b"original"


def test_tampered_object_is_refused_on_read_and_reported_by_check(store: ObjectStore) -> None:
    good = store.put(b"intact original")
    key = store.put(b"the signed original")
    tamper(store, key, b"the signed originaL")
    with pytest.raises(IntegrityError) as err:
        store.get(key)
    assert "không khớp mã băm" in err.value.message_vi
    with pytest.raises(IntegrityError), store.open(key) as f:
        f.read()
    problems = store.check()
    assert [(p.key, p.kind) for p in problems if p.kind != "stale-temp"] == [(key, "mismatch")]
    assert store.get(good) == b"intact original"


def test_download_is_verified_and_atomic(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    key = store.put(data)
    out = tmp_path / "out.bin"
    assert store.download(key, out) == len(data)
    assert out.read_bytes() == data
    tamper(store, key, b"x" * 10)
    bad = tmp_path / "bad.bin"
    with pytest.raises(IntegrityError):
        store.download(key, bad)
    assert not bad.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bad")] == []
