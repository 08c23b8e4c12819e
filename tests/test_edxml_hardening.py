"""Hostile packages: XXE, entity expansion, zip bombs, attachment floods, deep nesting.
Each is refused with EdxmlError, quickly, without memory growing with the attack."""

from __future__ import annotations

import base64
import io
import resource
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest

from edoc import edxml
from edoc.edxml.limits import Limits
from tests.paths import EDXML_SAMPLES

SAMPLE = EDXML_SAMPLES / "edoc_new.edxml"
STATUS = EDXML_SAMPLES / "status_inbox_01.edxml"
GB = 1 << 30


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # high-water mark, Linux KiB


def _refused(data: bytes, **kwargs: object) -> edxml.EdxmlError:
    """Refused with EdxmlError, in seconds, with Python allocations (tracemalloc) and the
    process high-water mark (which also sees libxml2 and zlib) far below the attack's size."""
    rss_before = _rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(edxml.EdxmlError) as caught:
            edxml.parse(data, **kwargs)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # generous bounds: this is about "not gigabytes, not minutes", not a benchmark
    assert elapsed < 10, elapsed
    assert peak < 64 * 1024 * 1024 + 4 * len(data), peak
    assert _rss_mb() - rss_before < 256 + 8 * len(data) / 2**20
    error = caught.value
    assert error.message_vi and error.message_en
    return error


def test_xxe_external_entity_refused() -> None:
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'\n<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&xxe;</edXML>')
    error = _refused(data)
    assert "DOCTYPE" in error.message_en and "XXE" in error.message_en


def test_billion_laughs_refused() -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    data = (f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>'
            f"<edXML>&lol9;</edXML>").encode()
    assert "DOCTYPE" in _refused(data).message_en


def test_doctype_hidden_behind_a_long_prolog_or_utf16_refused() -> None:
    comment = b"<!--" + b"x" * 10000 + b"-->"
    data = (b'<?xml version="1.0"?>' + comment +
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:1/">]><edXML>&e;</edXML>')
    assert "DOCTYPE" in _refused(data).message_en
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><edXML/>'.encode("utf-16")
    _refused(utf16)


def _bomb_zip(declared: int) -> bytes:
    """A ZIP whose one entry inflates to 1 GiB of zeros from about 1 MiB, written by hand:
    deflate blocks after a full flush are identical, so the stream is one block repeated."""
    chunk = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp.compress(chunk)
    comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * (GB // len(chunk)) + comp.flush()
    crc = 0
    for _ in range(GB // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    name = b"bomb.pdf"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(stream),
                        declared, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(stream), declared, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(stream), 0)
    return local + stream + central + end


@pytest.fixture(scope="module")
def honest_bomb() -> bytes:
    return _bomb_zip(GB)


def _with_payload(payload: bytes) -> bytes:
    data = SAMPLE.read_bytes()
    start = data.index(b'QCVN_102_2016">UEsDB') + len(b'QCVN_102_2016">')
    end = data.index(b"</edXML:ContentTransferEncoded>")
    return data[:start] + base64.b64encode(payload) + data[end:]


def test_the_bomb_is_real(honest_bomb: bytes) -> None:
    assert len(honest_bomb) < 2 * 1024 * 1024
    with zipfile.ZipFile(io.BytesIO(honest_bomb)) as archive:
        (info,) = archive.infolist()
        assert info.file_size == GB
        with archive.open(info) as stream:
            assert stream.read(1 << 20) == bytes(1 << 20)  # it does inflate to zeros


def test_zip_bomb_declaring_1gb_refused_before_inflating(honest_bomb: bytes) -> None:
    error = _refused(_with_payload(honest_bomb))
    assert "too large" in error.message_en or "zip bomb" in error.message_en
    assert error.path.endswith("ContentTransferEncoded")
    # even with the size limit lifted, the ratio refuses it
    roomy = Limits(max_attachment_bytes=2 * GB, max_total_attachment_bytes=2 * GB)
    assert "zip bomb" in _refused(_with_payload(honest_bomb), limits=roomy).message_en


def test_zip_bomb_lying_about_its_size_refused(honest_bomb: bytes) -> None:
    # inflation stops at the declared size, so the lie shows as a CRC mismatch, not 1 GB
    liar = _bomb_zip(1000)
    assert "Bad CRC" in _refused(_with_payload(liar)).message_en
    tight = Limits(max_attachment_bytes=3 * 1024 * 1024, ratio_floor_bytes=GB,
                   max_compression_ratio=1e9)
    assert "Bad CRC" in _refused(_with_payload(_bomb_zip(2 * 1024 * 1024)), limits=tight
                                 ).message_en


def test_ten_thousand_attachments_refused_fast() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", b"x")
    payload = base64.b64encode(buffer.getvalue()).decode()
    one = ("<Attachment><ContentId>cid:{i}</ContentId><AttachmentName>a{i}.txt</AttachmentName>"
           "<ContentTransferEncoded>{p}</ContentTransferEncoded></Attachment>")
    flood = "".join(one.format(i=i, p=payload) for i in range(10_000)).encode()
    data = SAMPLE.read_bytes()
    start = data.index(b"<AttachmentEncoded>") + len(b"<AttachmentEncoded>")
    end = data.index(b"</AttachmentEncoded>")
    error = _refused(data[:start] + flood + data[end:])
    assert "attachment count exceeds 500" in error.message_en


def test_deep_nesting_and_element_floods_refused() -> None:
    deep = b"<edXML>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</edXML>"
    assert "depth" in _refused(deep).message_en
    wide = b"<edXML>" + b"<a/>" * 200_000 + b"</edXML>"
    assert "element count" in _refused(wide).message_en


def test_size_limit_and_garbage() -> None:
    assert "too large" in _refused(STATUS.read_bytes(), limits=Limits(max_package_bytes=100)
                                   ).message_en
    for junk in (b"", b"   ", b"\x00\x01\x02", b"<edXML", b"not xml at all",
                 b'<edXML xmlns="urn:other"/>'):
        _refused(junk)


def test_entity_reference_without_dtd_is_not_well_formed() -> None:
    data = STATUS.read_bytes().replace(b"Nghe An", b"&custom;").replace(
        b"<edXML:Fax>0383 843049</edXML:Fax>", b"<edXML:Fax>&custom;</edXML:Fax>")
    _refused(data)


def test_multi_entry_and_broken_zips_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.pdf", b"1")
        archive.writestr("b.pdf", b"2")
    assert "holds 2 files" in _refused(_with_payload(buffer.getvalue())).message_en
    assert "ZIP" in _refused(_with_payload(b"PK\x03\x04 not really")).message_en
    data = SAMPLE.read_bytes().replace(b'QCVN_102_2016">UEsDB', b'QCVN_102_2016">!!!!UEsDB', 1)
    _refused(data, strict=True)
