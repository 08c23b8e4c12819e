"""Object store of signed originals: one interface (``ObjectStore``), two backends (S3 with
object lock, local directory), chosen by ``open_store(url)``.

``EDOC_STORE`` is either ``s3://KEY:SECRET@HOST:PORT/BUCKET?secure=0&retention_days=N``
(also ``retention_years``, ``legal_hold=1``, ``region``, ``part_size_mb``) or a directory path
(``file:///path`` accepted too).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from storage.errors import StoreConfigError
from storage.objects.base import (
    ObjectInfo,
    ObjectStore,
    Problem,
    digest_of_key,
    key_for_bytes,
    key_for_digest,
)
from storage.objects.local import LocalStore

__all__ = [
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "Problem",
    "S3Store",
    "digest_of_key",
    "key_for_bytes",
    "key_for_digest",
    "open_store",
]

_S3_PARAMS = {"secure", "retention_days", "retention_years", "legal_hold", "region", "part_size_mb"}


def _bad_url(url: str, why_vi: str, why_en: str) -> StoreConfigError:
    shown = redact(url)
    return StoreConfigError(
        f"EDOC_STORE không hợp lệ ({shown}): {why_vi}. Dạng đúng: "
        "s3://KEY:SECRET@HOST:PORT/BUCKET?secure=0&retention_days=N hoặc một thư mục",
        f"invalid EDOC_STORE ({shown}): {why_en}. Expected "
        "s3://KEY:SECRET@HOST:PORT/BUCKET?secure=0&retention_days=N or a directory",
    )


def redact(url: str) -> str:
    """The URL without its secret key, for messages and logs."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _flag(url: str, name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise _bad_url(url, f"{name}={value} phải là 0 hoặc 1", f"{name}={value} must be 0 or 1")


def _int(url: str, name: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n <= 0:
        raise _bad_url(
            url,
            f"{name}={value} phải là số nguyên dương",
            f"{name}={value} must be a positive integer",
        )
    return n


def open_store(url: str | Path, *, create: bool = True) -> ObjectStore:
    """Open the store a URL names; ``create`` makes the directory or the locked bucket."""
    if isinstance(url, Path):
        return LocalStore(url, create=create)
    url = url.strip()
    if not url:
        raise _bad_url(url, "trống", "empty")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStore(unquote(parts.path), create=create)
    if parts.scheme != "s3":
        if "://" in url:
            raise _bad_url(
                url, f"không hỗ trợ giao thức {parts.scheme}", f"unsupported scheme {parts.scheme}"
            )
        return LocalStore(url, create=create)
    return _open_s3(url, parts, create)


def _open_s3(url: str, parts, create: bool):
    from storage.objects.s3 import S3Store

    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise _bad_url(url, "cổng không hợp lệ", "invalid port") from None
    if not host:
        raise _bad_url(url, "thiếu máy chủ", "missing host")
    if parts.username is None or parts.password is None:
        raise _bad_url(url, "thiếu KEY:SECRET", "missing KEY:SECRET")
    bucket = parts.path.strip("/")
    if not bucket or "/" in bucket:
        raise _bad_url(url, "thiếu hoặc sai tên bucket", "missing or invalid bucket name")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - _S3_PARAMS
    if unknown:
        raise _bad_url(
            url, f"tham số lạ {sorted(unknown)}", f"unknown parameters {sorted(unknown)}"
        )
    if "retention_days" in query and "retention_years" in query:
        raise _bad_url(
            url,
            "chỉ dùng một trong retention_days và retention_years",
            "use only one of retention_days and retention_years",
        )
    kwargs: dict = {
        "secure": _flag(url, "secure", query.get("secure", "1")),
        "legal_hold": _flag(url, "legal_hold", query.get("legal_hold", "0")),
        "region": query.get("region") or None,
    }
    for name in ("retention_days", "retention_years"):
        if name in query:
            kwargs[name] = _int(url, name, query[name])
    if "part_size_mb" in query:
        kwargs["part_size"] = max(5, _int(url, "part_size_mb", query["part_size_mb"])) * 2**20
    endpoint = f"{host}:{port}" if port else host
    return S3Store(
        endpoint,
        unquote(parts.username),
        unquote(parts.password),
        bucket,
        create_bucket=create,
        url=redact(url),
        **kwargs,
    )


def __getattr__(name: str):
    if name == "S3Store":  # lazy: the minio SDK is only imported when S3 is used
        from storage.objects.s3 import S3Store

        return S3Store
    raise AttributeError(name)
