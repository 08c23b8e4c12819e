"""Attachments on the wire: the file zipped, the ZIP base64-encoded (as the SDK does).

Unpacking is the dangerous half: a few kilobytes of ZIP can declare or inflate to gigabytes.
We refuse on the declared size and ratio before inflating, then inflate in chunks with a running
cap, so a lying header cannot make us hold more than the limit.

Packing is deterministic (fixed entry time) so the same model always gives the same bytes, and
it stores instead of deflating when the file does not compress (PDFs mostly don't): deflating
1 MB of already-compressed data costs tens of milliseconds for nothing.
"""

from __future__ import annotations

import binascii
import io
import zipfile
import zlib

import pybase64

from edoc.edxml.errors import EdxmlError
from edoc.edxml.limits import Limits

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_READ = 1 << 20


def pack(name: str, data: bytes) -> bytes:
    """ZIP holding one entry ``name`` with ``data``, base64-encoded (ASCII bytes)."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if _worth_deflating(data) else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = method
        info.external_attr = 0o644 << 16
        archive.writestr(info, data, compress_type=method, compresslevel=6)
    return pybase64.b64encode(buffer.getbuffer())


def _worth_deflating(data: bytes) -> bool:
    if len(data) < 8192:
        return True
    probe = data[:16384]
    return len(zlib.compress(probe, 1)) < 0.9 * len(probe)


_WHITESPACE = b" \t\r\n"


def decode_base64(text: str | bytes, path: str, *, strict: bool) -> bytes:
    """Strict: the base64 alphabet only, optionally wrapped in lines. Lenient: other characters
    are skipped (some senders leave stray ones); the ZIP's CRC still guards the content.
    pybase64 (SIMD) because the stdlib decoder alone would cost more than our speed budget."""
    raw: bytes | None
    if isinstance(text, bytes):
        raw = text if text.isascii() else None
    else:
        raw = text.encode("ascii") if text.isascii() else None
    try:
        if raw is None:
            raise ValueError("non-ASCII characters in base64 content")
        try:
            return pybase64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            compact = raw.translate(None, _WHITESPACE)
            try:
                return pybase64.b64decode(compact, validate=True)
            except (binascii.Error, ValueError):
                if strict:
                    raise
                return binascii.a2b_base64(compact)
    except (binascii.Error, ValueError) as exc:
        raise EdxmlError(f"Nội dung tệp đính kèm không phải base64 hợp lệ: {exc}",
                         f"attachment content is not valid base64: {exc}", path=path) from None


def unpack(raw: bytes, path: str, limits: Limits, budget: int) -> tuple[str, bytes]:
    """(entry name, file bytes) of a one-entry ZIP, within ``limits`` and the remaining
    ``budget`` of uncompressed bytes for the package."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise EdxmlError(f"Tệp đính kèm không phải ZIP hợp lệ: {exc}",
                         f"attachment is not a valid ZIP: {exc}", path=path) from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if not entries:
            raise EdxmlError("ZIP của tệp đính kèm không chứa tệp nào",
                             "the attachment ZIP holds no file", path=path)
        if len(entries) > limits.max_zip_entries:
            raise EdxmlError(
                f"ZIP của tệp đính kèm chứa {len(entries)} tệp, chỉ cho phép "
                f"{limits.max_zip_entries}",
                f"the attachment ZIP holds {len(entries)} files, {limits.max_zip_entries} allowed",
                path=path)
        info = entries[0]
        cap = min(limits.max_attachment_bytes, budget)
        _check_declared(info, cap, limits, path)
        return info.filename, _inflate(archive, info, cap, limits, path)


def _check_declared(info: zipfile.ZipInfo, cap: int, limits: Limits, path: str) -> None:
    if info.flag_bits & 0x1:
        raise EdxmlError("Tệp đính kèm được mã hóa (ZIP có mật khẩu)",
                         "the attachment ZIP is encrypted", path=path)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise EdxmlError(f"Phương thức nén {info.compress_type} không được hỗ trợ",
                         f"compression method {info.compress_type} is not supported", path=path)
    if info.file_size > cap:
        raise _too_big(info.file_size, cap, path)
    if info.file_size > limits.ratio_floor_bytes and \
            info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
        raise _bomb(info.file_size, info.compress_size, path)


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, limits: Limits,
             path: str) -> bytes:
    """Stream-inflate with a running cap. A stored entry cannot expand (its size equals the
    bytes already in memory and was checked), so it is read in one piece."""
    chunks: list[bytes] = []
    total = 0
    try:
        if info.compress_type == zipfile.ZIP_STORED and info.file_size == info.compress_size:
            return archive.read(info)
        with archive.open(info) as stream:
            while chunk := stream.read(_READ):
                total += len(chunk)
                if total > cap:
                    raise _too_big(total, cap, path)
                if total > limits.ratio_floor_bytes and \
                        total > limits.max_compression_ratio * max(info.compress_size, 1):
                    raise _bomb(total, info.compress_size, path)
                chunks.append(chunk)
    except EdxmlError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError,
            NotImplementedError, RuntimeError) as exc:
        raise EdxmlError(f"Không giải nén được tệp đính kèm: {exc}",
                         f"cannot unzip the attachment: {exc}", path=path) from None
    return b"".join(chunks)


def _too_big(size: int, cap: int, path: str) -> EdxmlError:
    return EdxmlError(f"Tệp đính kèm quá lớn sau giải nén ({size} byte, tối đa {cap})",
                      f"attachment too large uncompressed ({size} bytes, limit {cap})", path=path)


def _bomb(size: int, packed: int, path: str) -> EdxmlError:
    return EdxmlError(
        f"Tệp đính kèm có tỷ lệ nén bất thường ({size} byte từ {packed} byte): nghi ZIP bomb",
        f"attachment compression ratio is abnormal ({size} bytes from {packed}): zip bomb",
        path=path)
