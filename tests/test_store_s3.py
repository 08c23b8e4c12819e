"""S3-specific guarantees against a real server (SeaweedFS): object lock, retention, legal hold,
multipart streaming and clear errors for a misconfigured or unreachable server."""

from __future__ import annotations

import io
import os
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio.error import S3Error

from storage.errors import StoreAuthError, StoreConfigError, StoreUnavailable
from storage.objects import key_for_bytes, open_store
from tests.fixtures.s3 import free_ports

pytestmark = pytest.mark.s3
ROOT = Path(__file__).resolve().parent.parent


def test_bucket_created_with_versioning_and_lock(s3_server) -> None:
    store = open_store(s3_server.url(retention_days=2))
    client = s3_server.client()
    assert client.get_bucket_versioning(store.bucket).status == "Enabled"
    client.get_object_lock_config(store.bucket)  # raises if the bucket has no object lock


def test_every_original_has_compliance_retention(s3_server) -> None:
    store = open_store(s3_server.url(retention_days=2))
    key = store.put(b"signed original with retention")
    info = store.stat(key)
    assert info.retention_mode == "COMPLIANCE"
    expected = datetime.now(UTC) + timedelta(days=2)
    assert abs((info.retain_until - expected).total_seconds()) < 120
    assert info.legal_hold is False


def test_retention_years_and_legal_hold(s3_server) -> None:
    store = open_store(s3_server.url(retention_years=3, legal_hold=1))
    key = store.put(b"held original")
    info = store.stat(key)
    assert info.legal_hold is True
    assert info.retain_until > datetime.now(UTC) + timedelta(days=3 * 365 - 2)


def test_delete_of_locked_version_refused_even_with_bypass(s3_server) -> None:
    store = open_store(s3_server.url(retention_days=1))
    data = b"evidence that must not vanish"
    key = store.put(data)
    version = store.stat(key).version_id
    client = s3_server.client()
    with pytest.raises(S3Error):
        client.remove_object(store.bucket, key, version_id=version)
    with pytest.raises(S3Error):
        client._execute(
            "DELETE",
            store.bucket,
            key,
            query_params={"versionId": version},
            headers={"x-amz-bypass-governance-retention": "true"},
        )
    # shortening a COMPLIANCE retention is refused too
    from minio.commonconfig import COMPLIANCE
    from minio.retention import Retention

    with pytest.raises(S3Error):
        client.set_object_retention(
            store.bucket,
            key,
            Retention(COMPLIANCE, datetime.now(UTC) + timedelta(minutes=1)),
            version_id=version,
        )
    # a delete without version only adds a delete marker: the locked version is still there
    client.remove_object(store.bucket, key)
    versions = [
        o
        for o in client.list_objects(store.bucket, prefix=key, include_version=True)
        if not o.is_delete_marker
    ]
    assert [o.version_id for o in versions] == [version]
    resp = client.get_object(store.bucket, key, version_id=version)
    assert resp.read() == data


def test_anonymous_write_refused(s3_server) -> None:
    from minio import Minio

    store = open_store(s3_server.url(retention_days=1))
    anon = Minio(s3_server.endpoint, secure=False)
    with pytest.raises(S3Error) as err:
        anon.put_object(store.bucket, "x", io.BytesIO(b"x"), 1)
    assert err.value.code == "AccessDenied"


def test_large_file_multipart_streamed(s3_server, tmp_path: Path) -> None:
    store = open_store(s3_server.url(retention_days=1, part_size_mb=5))
    path = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(13):
            f.write(block[i:] + block[:i])
    key = store.put(path)
    client = s3_server.client()
    etag = client.stat_object(store.bucket, key).etag
    assert "-" in etag  # multipart upload: the ETag is "<md5 of part md5s>-<parts>"
    out = tmp_path / "back.bin"
    assert store.download(key, out) == path.stat().st_size
    assert out.read_bytes() == path.read_bytes()


def test_bucket_without_object_lock_refused(s3_server) -> None:
    bucket = s3_server.new_bucket_name("nolock")
    s3_server.client().make_bucket(bucket)
    with pytest.raises(StoreConfigError) as err:
        open_store(s3_server.url(bucket, retention_days=1))
    assert "object lock" in err.value.message_en


def test_missing_bucket_without_create_refused(s3_server) -> None:
    with pytest.raises(StoreConfigError):
        open_store(s3_server.url(retention_days=1), create=False)


def test_wrong_credentials(s3_server) -> None:
    url = s3_server.url(retention_days=1).replace(s3_server.secret_key, "wrong-secret")
    with pytest.raises(StoreAuthError) as err:
        open_store(url)
    assert "wrong-secret" not in str(err.value)


def test_server_down() -> None:
    (port,) = free_ports(1)
    with pytest.raises(StoreUnavailable) as err:
        open_store(f"s3://K:S@127.0.0.1:{port}/bucket?secure=0")
    assert "Không kết nối được" in err.value.message_vi


@pytest.mark.parametrize(
    "url",
    [
        "s3://127.0.0.1:9000/bucket",  # no credentials
        "s3://k:s@127.0.0.1:9000/",  # no bucket
        "s3://k:s@127.0.0.1:9000/b?retention_days=0",
        "s3://k:s@127.0.0.1:9000/b?retention_days=1&retention_years=1",
        "s3://k:s@127.0.0.1:9000/b?secure=maybe",
        "s3://k:s@127.0.0.1:9000/b?colour=blue",
        "ftp://host/dir",
        "s3://k:s@127.0.0.1:1/B_",  # invalid bucket name, refused before any connection
    ],
)
def test_bad_urls_are_explained(url: str) -> None:
    with pytest.raises(StoreConfigError) as err:
        open_store(url)
    assert "EDOC_STORE" in str(err.value)
    assert ":s@" not in str(err.value)


def test_filer_port_bypasses_lock_as_documented(s3_server) -> None:
    """Keep docs/storage.md honest: SeaweedFS's filer HTTP port deletes locked objects, so it must
    never be reachable in production. If this ever stops being true, update the warning."""
    store = open_store(s3_server.url(retention_days=1))
    key = store.put(b"locked, but not through the filer")
    req = urllib.request.Request(
        f"{s3_server.filer_url}/buckets/{store.bucket}/{key}.versions?recursive=true",
        method="DELETE",
    )
    urllib.request.urlopen(req, timeout=10)
    assert not store.exists(key)
    doc = (ROOT / "docs" / "storage.md").read_text(encoding="utf-8")
    assert "filer" in doc and "MinIO" in doc


def test_key_of_bytes_matches_s3_key(s3_server) -> None:
    store = open_store(s3_server.url(retention_days=1))
    assert store.put(b"abc") == key_for_bytes(b"abc")


def test_concurrent_puts_of_same_bytes_store_one_version(s3_server) -> None:
    import threading

    store = open_store(s3_server.url(retention_days=1))
    data = os.urandom(150_000)
    keys: list[str] = []
    barrier = threading.Barrier(6)

    def put() -> None:
        barrier.wait()
        keys.append(store.put(data))

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(keys) == {key_for_bytes(data)}
    versions = list(
        s3_server.client().list_objects(store.bucket, prefix=keys[0], include_version=True)
    )
    assert len(versions) == 1
    assert store.get(keys[0]) == data


class _ChangesAfterHashing(io.BytesIO):
    """A seekable source whose bytes change once they have been hashed (a file still being
    written by another program): the first rewind flips a byte."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._rewinds = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self._rewinds += 1
        if self._rewinds == 1:
            self.getbuffer()[-1] ^= 0xFF
        return super().seek(pos, whence)


@pytest.mark.parametrize("size", [100_000, 6 * 1024 * 1024], ids=["single-put", "multipart"])
def test_source_changed_after_hashing_is_refused(s3_server, size: int) -> None:
    from storage.errors import StorageError

    store = open_store(s3_server.url(retention_days=1, part_size_mb=5))
    data = os.urandom(size)
    with pytest.raises(StorageError) as err:
        store.put(_ChangesAfterHashing(data))
    assert "changed while it was being stored" in err.value.message_en
    client = s3_server.client()
    assert list(client.list_objects(store.bucket, prefix="sha256/", recursive=True)) == []
    uploads = client._list_multipart_uploads(store.bucket).uploads
    assert uploads == []  # the multipart upload was aborted, not left behind


def test_payload_digest_is_the_key_digest_not_hashed_again(s3_server, monkeypatch) -> None:
    """Over HTTP the body's SHA-256 is signed; the store reuses the one it computed for the key."""
    import minio.api

    store = open_store(s3_server.url(retention_days=1))
    hashed: list[int] = []
    real = minio.api.sha256_hash

    def spy(data):
        hashed.append(len(data or b""))
        return real(data)

    monkeypatch.setattr(minio.api, "sha256_hash", spy)
    data = os.urandom(200_000)
    key = store.put(data)
    assert key == key_for_bytes(data)
    assert max(hashed, default=0) < 1000  # only small bodies (none) hashed by the SDK
    assert store.get(key) == data
