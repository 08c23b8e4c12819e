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
import struct
import zipfile
import zlib
from typing import BinaryIO

import pybase64

from edoc.edxml.b64file import Base64File
from edoc.edxml.errors import EdxmlError
from edoc.edxml.limits import Limits

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_READ = 1 << 20


class Packed:
    """Base64 of a ZIP holding one file, ready to be written into the package.

    The bytes are exactly what ``zipfile`` writes for this entry (``writestr`` to a seekable
    file: local header, data, central directory, end record), but neither the ZIP nor its
    base64 is ever assembled: the header and the tail are tiny, and the (possibly 100 MB)
    payload is encoded from the caller's buffer in small chunks straight into the output.
    Each megabyte-sized temporary we avoid is a fresh run of page faults, which cost more
    than the copy itself."""

    _CHUNK = 3 << 14  # bytes encoded at a time: 64 KiB of base64, well under mmap sizes

    def __init__(self, head: bytes, payload: bytes | memoryview, tail: bytes) -> None:
        self._head, self._payload, self._tail = head, memoryview(payload), tail
        self.size = (len(head) + len(payload) + len(tail) + 2) // 3 * 4

    def write_to(self, out: BinaryIO) -> None:
        """Write the base64 text to ``out``. base64 works on 3-byte groups: the header's
        last group is completed from the payload, the payload's whole groups are encoded
        chunk by chunk, and the rest goes with the tail."""
        payload = self._payload
        start = (3 - len(self._head) % 3) % 3
        end = start + (len(payload) - start) // 3 * 3
        out.write(pybase64.b64encode(self._head + payload[:start].tobytes()))
        for offset in range(start, end, self._CHUNK):
            out.write(pybase64.b64encode(payload[offset:min(offset + self._CHUNK, end)]))
        out.write(pybase64.b64encode(payload[end:].tobytes() + self._tail))

    def __bytes__(self) -> bytes:
        out = io.BytesIO()
        self.write_to(out)
        return out.getvalue()


def pack(name: str, data: bytes) -> Packed:
    """The file ``name`` with ``data`` as the SDK sends it: in a one-entry ZIP, base64."""
    if len(data) * 1.05 > zipfile.ZIP64_LIMIT:
        raise EdxmlError(f"Tệp đính kèm quá lớn để đóng gói ({len(data)} byte)",
                         f"attachment too large to pack ({len(data)} bytes)")
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = 0o644 << 16
    payload: bytes | memoryview
    if _worth_deflating(data):
        info.compress_type = zipfile.ZIP_DEFLATED
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)  # what zipfile uses at level 6
        payload = deflater.compress(data) + deflater.flush()
    else:
        info.compress_type = zipfile.ZIP_STORED
        payload = data
    info.CRC = zlib.crc32(data)
    info.file_size = len(data)
    info.compress_size = len(payload)
    info.header_offset = 0
    head = info.FileHeader(zip64=False)
    return Packed(head, payload, _central_directory(info, len(head) + len(payload)))


def _central_directory(info: zipfile.ZipInfo, offset: int) -> bytes:
    """Central directory entry and end record for the single entry ``info`` written at 0,
    field for field as ``zipfile.ZipFile._write_end_record`` does (no ZIP64: ``pack`` caps
    the size)."""
    year, month, day, hour, minute, second = info.date_time
    dosdate = (year - 1980) << 9 | month << 5 | day
    dostime = hour << 11 | minute << 5 | second // 2
    ascii_name = info.filename.isascii()
    filename = info.filename.encode("ascii" if ascii_name else "utf-8")
    flags = info.flag_bits | (0 if ascii_name else 0x800)  # bit 11: the name is UTF-8
    entry = struct.pack(zipfile.structCentralDir, zipfile.stringCentralDir,
                        info.create_version, info.create_system, info.extract_version,
                        info.reserved, flags, info.compress_type, dostime, dosdate, info.CRC,
                        info.compress_size, info.file_size, len(filename), 0, 0, 0,
                        info.internal_attr, info.external_attr, 0) + filename
    end = struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, 1, 1,
                      len(entry), offset, 0)
    return entry + end


def _worth_deflating(data: bytes) -> bool:
    if len(data) < 8192:
        return True
    probe = data[:16384]
    return len(zlib.compress(probe, 1)) < 0.9 * len(probe)


_WHITESPACE = b" \t\r\n"


def decode_strict(data: bytes | memoryview) -> bytes | None:
    """The decoded bytes if ``data`` is strict base64 (the alphabet only, one unbroken run, as
    the SDK writes it), else None. pybase64 (SIMD) validates and decodes in one pass, straight
    from a view of the package: the stdlib decoder alone would cost more than our speed
    budget."""
    try:
        return pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_base64(text: str | bytes, path: str, *, strict: bool) -> bytes:
    """Strict: the base64 alphabet only, optionally wrapped in lines. Lenient: other characters
    are skipped (some senders leave stray ones); the ZIP's CRC still guards the content."""
    raw: bytes | None
    if isinstance(text, bytes):
        raw = text if text.isascii() else None
    else:
        raw = text.encode("ascii") if text.isascii() else None
    try:
        if raw is None:
            raise ValueError("non-ASCII characters in base64 content")
        decoded = decode_strict(raw)
        if decoded is not None:
            return decoded
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


def unpack(zipped: BinaryIO | Base64File, path: str, limits: Limits, budget: int,
           ) -> tuple[str, bytes]:
    """(entry name, file bytes) of a one-entry ZIP (a seekable file), within ``limits`` and
    the remaining ``budget`` of uncompressed bytes for the package."""
    try:
        archive = zipfile.ZipFile(zipped)  # type: ignore[arg-type]
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
