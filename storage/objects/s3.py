"""S3 object store (MinIO in production, SeaweedFS in tests) through the ``minio`` SDK.

The bucket has versioning and object lock; every original is written with a COMPLIANCE retention
(nobody, not even the root account, can delete or shorten it before the date) and optionally a
legal hold. Keys are content hashes, so a second put of the same bytes finds the object and writes
nothing. Large files are streamed in multipart uploads of ``part_size`` bytes (a few parts in
memory at once), after hashing in a first pass (seekable input) or while spooling to a temp file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException, S3Error
from minio.helpers import genheaders
from minio.retention import Retention

from storage.errors import (
    KeyConflict,
    ObjectNotFound,
    StorageError,
    StoreAuthError,
    StoreConfigError,
    StoreUnavailable,
)
from storage.objects.base import (
    ObjectInfo,
    ObjectStore,
    Source,
    VerifyingReader,
    digest_of_key,
    spool,
)

PART_SIZE = 8 * 1024 * 1024
PAYLOAD_SHA256 = "x-edoc-payload-sha256"  # internal: never sent, see _DigestReusingMinio
AUTH_CODES = {
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
}
NO_LOCK_CODES = {
    "ObjectLockConfigurationNotFoundError",
    "ObjectLockConfigurationNotFound",
    "NoSuchObjectLockConfiguration",
    "InvalidRequest",
}


class S3Store(ObjectStore):
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str | None = None,
        retention_days: int | None = None,
        retention_years: int | None = None,
        legal_hold: bool = False,
        create_bucket: bool = True,
        part_size: int = PART_SIZE,
        url: str | None = None,
    ) -> None:
        if retention_days is None and retention_years is None:
            retention_years = 10
        self.endpoint = endpoint
        self.bucket = bucket
        self.retention = (
            timedelta(days=retention_days)
            if retention_days is not None
            else timedelta(days=365 * int(retention_years or 0) + int(retention_years or 0) // 4)
        )
        if self.retention <= timedelta(0):
            raise StoreConfigError(
                "Thời hạn lưu giữ (retention) phải lớn hơn 0",
                "the retention period must be positive",
            )
        self.legal_hold = legal_hold
        self.part_size = part_size
        self.url = url or f"s3://{endpoint}/{bucket}"
        self._http = _http_client(secure)
        self.client = _DigestReusingMinio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=self._http,
        )
        self._ensure_bucket(create_bucket, region)

    # -- setup -----------------------------------------------------------------------------
    def _ensure_bucket(self, create: bool, region: str | None) -> None:
        with self._errors():
            if not self.client.bucket_exists(self.bucket):
                if not create:
                    raise StoreConfigError(
                        f"Bucket {self.bucket} không tồn tại trên {self.endpoint}",
                        f"bucket {self.bucket} does not exist on {self.endpoint}",
                    )
                try:
                    self.client.make_bucket(self.bucket, location=region, object_lock=True)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            try:
                self.client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code in NO_LOCK_CODES:
                    raise self._no_lock() from None
                raise
            status = self.client.get_bucket_versioning(self.bucket).status
            if status != "Enabled":
                raise self._no_lock()

    def _no_lock(self) -> StoreConfigError:
        return StoreConfigError(
            f"Bucket {self.bucket} không bật khóa đối tượng (object lock) và versioning: không thể "
            "bảo đảm bản gốc không bị xóa/sửa; hãy dùng bucket mới (edoc tự tạo với object lock) "
            "hoặc tạo bucket với --with-lock",
            f"bucket {self.bucket} has no object lock/versioning: originals could be deleted or "
            "overwritten; use a new bucket (edoc creates it with object lock) or create it with "
            "object lock enabled",
        )

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Translate SDK and network failures into bilingual storage errors."""
        try:
            yield
        except StorageError:
            raise
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion") and key:
                raise ObjectNotFound(
                    f"Không có đối tượng với khóa {key} trong bucket {self.bucket}",
                    f"no object with key {key} in bucket {self.bucket}",
                ) from None
            if exc.code in AUTH_CODES:
                raise StoreAuthError(
                    f"Máy chủ S3 {self.endpoint} từ chối thông tin xác thực ({exc.code}); kiểm tra "
                    "access key/secret key trong EDOC_STORE",
                    f"S3 server {self.endpoint} refused the credentials ({exc.code}); check the "
                    "access key / secret key in EDOC_STORE",
                ) from None
            if exc.code == "NoSuchBucket":
                raise StoreConfigError(
                    f"Bucket {self.bucket} không tồn tại trên {self.endpoint}",
                    f"bucket {self.bucket} does not exist on {self.endpoint}",
                ) from None
            raise StorageError(
                f"Máy chủ S3 báo lỗi {exc.code}: {exc.message}",
                f"S3 server error {exc.code}: {exc.message}",
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(
                f"Không kết nối được máy chủ lưu trữ S3 {self.endpoint}: máy chủ tắt, sai địa chỉ "
                "hoặc mạng lỗi; không có gì được ghi, hãy thử lại sau",
                f"cannot reach S3 server {self.endpoint} (down, wrong address or network); "
                "nothing was written, retry later",
            ) from exc
        except ValueError as exc:  # the SDK's checks of names (bucket, endpoint)
            raise StoreConfigError(
                f"Cấu hình S3 (EDOC_STORE) không hợp lệ: {exc}",
                f"invalid S3 configuration (EDOC_STORE): {exc}",
            ) from exc
        except MinioException as exc:
            raise StorageError(f"Lỗi S3: {exc}", f"S3 error: {exc}") from exc

    # -- writing ---------------------------------------------------------------------------
    def put(self, data: Source, *, expected_key: str | None = None,
            sha256: str | None = None) -> str:
        if expected_key is not None:
            digest_of_key(expected_key)
        sp = spool(data, sha256=sha256)
        try:
            key = sp.key
            if expected_key is not None and key != expected_key:
                raise KeyConflict(
                    f"Dữ liệu không khớp khóa {expected_key} (mã băm thực: {sp.hexdigest}); "
                    "không ghi gì",
                    f"bytes do not match key {expected_key} (actual sha256 {sp.hexdigest}); "
                    "nothing written",
                )
            with self._errors(key):
                if sp.size <= self.part_size:
                    self._put_small(key, sp)
                else:
                    self._put_large(key, sp)
            return key
        finally:
            sp.close()

    def _headers(self, hexdigest: str) -> dict:
        headers = genheaders(
            {"x-amz-meta-sha256": hexdigest},
            None,
            None,
            Retention(COMPLIANCE, self._retain_until()),
            self.legal_hold,
        )
        headers["Content-Type"] = "application/octet-stream"
        return headers

    def _put_small(self, key: str, sp) -> None:
        """One request: a conditional PUT (``If-None-Match: *``) that the server refuses with
        412 when the key exists — the existence check and the write in one round trip, and a
        concurrent put of the same bytes cannot add a second version. (A server that ignored
        the header would only add an identical locked version: harmless.)"""
        data = sp.read_small()
        headers = self._headers(sp.hexdigest)
        headers["If-None-Match"] = "*"
        # No explicit Content-MD5: over HTTP the body's SHA-256 is signed (the one we computed for
        # the key, not computed again; MinIO and AWS check it); over HTTPS the SDK adds
        # Content-MD5 itself (AWS wants one with lock headers).
        headers[PAYLOAD_SHA256] = sp.hexdigest
        try:
            self.client._put_object(self.bucket, key, data, headers)
        except S3Error as exc:
            if exc.code not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise

    def _put_large(self, key: str, sp) -> None:
        """Multipart, streamed in ``part_size`` parts; existence checked first so identical
        large files are not uploaded again. A concurrent put of the same bytes may slip in
        between: it only adds a second locked version with identical content (harmless)."""
        if self._exists(key):
            return
        self.client.put_object(
            self.bucket,
            key,
            sp.checked_stream(),
            sp.size,
            part_size=self.part_size,
            metadata={"x-amz-meta-sha256": sp.hexdigest},
            retention=Retention(COMPLIANCE, self._retain_until()),
            legal_hold=self.legal_hold,
        )

    def _retain_until(self) -> datetime:
        return (datetime.now(UTC) + self.retention).replace(microsecond=0)

    # -- reading ---------------------------------------------------------------------------
    def _exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion", "NoSuchObject", "ResourceNotFound"):
                return False
            raise

    def exists(self, key: str) -> bool:
        digest_of_key(key)
        with self._errors(key):
            return self._exists(key)

    def open(self, key: str) -> BinaryIO:
        digest_of_key(key)
        with self._errors(key):
            resp = self.client.get_object(self.bucket, key)

        def release() -> None:
            resp.close()
            resp.release_conn()

        return _ErrorsReader(self, key, resp, release)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        digest_of_key(key)
        with self._errors(key):
            st = self.client.stat_object(self.bucket, key)
            ret = self.client.get_object_retention(self.bucket, key)
            try:
                hold = self.client.is_object_legal_hold_enabled(self.bucket, key)
            except S3Error as exc:
                if exc.code != "NoSuchObjectLegalHold":
                    raise
                hold = False
        return ObjectInfo(
            key=key,
            size=int(st.size or 0),
            retain_until=ret.retain_until_date if ret else None,
            retention_mode=ret.mode if ret else None,
            legal_hold=bool(hold),
            version_id=st.version_id,
        )

    def iter_keys(self) -> Iterator[str]:
        with self._errors():
            for obj in self.client.list_objects(self.bucket, prefix="sha256/", recursive=True):
                if obj.object_name and not obj.is_dir:
                    yield obj.object_name

    def close(self) -> None:
        self._http.clear()


class _DigestReusingMinio(Minio):
    """The SDK signs a plain-HTTP body by its SHA-256, hashing the body again on every request.
    For a content-addressed put we already hold that digest (it is the key): a caller passes it
    in the internal ``PAYLOAD_SHA256`` header and the SDK's second pass over the bytes is skipped.
    The digest is of the very bytes sent (``Spooled.read_small`` checks that a file did not change
    after it was hashed); MinIO and AWS also check the body against it (XAmzContentSHA256Mismatch),
    SeaweedFS does not. Over HTTPS the SDK's own behaviour is kept."""

    def _build_headers(self, host, headers=None, body=None, creds=None):  # type: ignore[override]
        digest = headers.pop(PAYLOAD_SHA256, None) if headers else None
        if digest is None or not creds or self._base_url.is_https:
            return super()._build_headers(host, headers, body, creds)
        headers, date = super()._build_headers(host, headers, None, creds)
        headers["Content-Length"] = str(len(body or b""))
        headers["x-amz-content-sha256"] = digest
        return headers, date


class _ErrorsReader(VerifyingReader):
    """A verifying reader whose network failures mid-stream become ``StoreUnavailable``."""

    def __init__(self, store: S3Store, key: str, raw, on_close) -> None:
        super().__init__(key, raw, on_close)
        self._store = store

    def readinto(self, b) -> int:  # type: ignore[override]
        with self._store._errors(self._key):
            return super().readinto(b)


def _http_client(secure: bool) -> urllib3.PoolManager:
    """Short connect timeout and few retries, so "server down" is reported in about a second
    instead of the SDK default's long back-off; enough connections for parallel part uploads."""
    kwargs: dict = {}
    if secure:
        import certifi

        kwargs = {
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": os.environ.get("SSL_CERT_FILE") or certifi.where(),
        }
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5.0, read=120.0),
        maxsize=16,
        retries=urllib3.Retry(
            total=3, connect=2, read=1, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
        **kwargs,
    )
