"""The speed paths of the codec give the same bytes and the same readings as the plain ones.

``attachments.pack`` writes the ZIP by hand (never assembling it) and must equal what
``zipfile`` writes; ``lift`` takes attachment payloads out of the XML before libxml2 parses it
and must give the same package, deviations and errors (line, column) as parsing the whole text,
whatever a sender puts around the payload (comments, CDATA, wrapped lines, stray characters,
markup errors on the same line)."""

from __future__ import annotations

import io
import random
import tracemalloc
import zipfile

import pybase64
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edoc import edxml
from edoc.document import Attachment
from edoc.edxml import attachments, lift
from edoc.edxml.b64file import Base64File
from edoc.edxml.limits import DEFAULT_LIMITS
from edoc.edxml.secure import parse_package
from tests.test_edxml_codec import make_package

PAYLOAD = random.Random(102).randbytes(30_000)  # stored, not deflated: ~40 KB of base64


def zipfile_pack(name: str, data: bytes) -> bytes:
    """What the codec wrote before it packed by hand (the reference for the bytes)."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if attachments._worth_deflating(data) else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = method
        info.external_attr = 0o644 << 16
        archive.writestr(info, data, compress_type=method, compresslevel=6)
    return pybase64.b64encode(buffer.getvalue())


@pytest.mark.parametrize("name", ["a.pdf", "Công văn số 125.pdf", "x" * 300, "đ", "ab"])
@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", b"%PDF" + b"0" * 70_000,
                                  PAYLOAD, PAYLOAD[:29_999], PAYLOAD[:29_998]])
def test_pack_writes_what_zipfile_writes(name: str, data: bytes) -> None:
    assert bytes(attachments.pack(name, data)) == zipfile_pack(name, data)


def document_with_payload() -> bytes:
    package = make_package()
    package.attachments = [Attachment("scan.pdf", PAYLOAD, content_id="cid:9"),
                           Attachment("nhỏ.txt", b"small", content_id="cid:10")]
    return edxml.build(package)


DOCUMENT = document_with_payload()
PAYLOAD_START = DOCUMENT.index(b">", DOCUMENT.index(b"<edXML:ContentTransferEncoded")) + 1
PAYLOAD_END = DOCUMENT.index(b"<", PAYLOAD_START)


def outcome(data: bytes, strict: bool) -> tuple[object, ...]:
    try:
        return ("package", edxml.parse(data, strict=strict, schema=True))
    except edxml.EdxmlError as error:
        return ("error", str(error), error.path, error.line, error.column)


def without_lifting(data: bytes, strict: bool, monkeypatch: pytest.MonkeyPatch,
                    ) -> tuple[object, ...]:
    with monkeypatch.context() as patch:
        patch.setattr(lift, "LIFT_FLOOR", 1 << 62)
        assert parse_package_or_none(data)[1] == {}
        return outcome(data, strict)


def parse_package_or_none(data: bytes) -> tuple[object, dict[str, bytes]]:
    try:
        return parse_package(data, DEFAULT_LIMITS)
    except edxml.EdxmlError:
        return None, {}


def test_large_payload_is_lifted_and_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    root, lifted = parse_package(DOCUMENT, DEFAULT_LIMITS)
    assert [bytes(v) for v in lifted.values()] == [DOCUMENT[PAYLOAD_START:PAYLOAD_END]]
    assert len(root.getroottree().getroot().xpath("string(.)")) < 20_000  # not in the tree
    for strict in (False, True):
        fast = outcome(DOCUMENT, strict)
        assert fast[0] == "package" and fast[1].attachments[0].data == PAYLOAD
        assert fast == without_lifting(DOCUMENT, strict, monkeypatch)


def _around(before: bytes, after: bytes) -> bytes:
    """The document with ``before``/``after`` put just outside the payload text."""
    return (DOCUMENT[:PAYLOAD_START] + before + DOCUMENT[PAYLOAD_START:PAYLOAD_END] + after
            + DOCUMENT[PAYLOAD_END:])


def _payload(transform) -> bytes:
    return (DOCUMENT[:PAYLOAD_START] + transform(DOCUMENT[PAYLOAD_START:PAYLOAD_END])
            + DOCUMENT[PAYLOAD_END:])


TRICKS = {
    # a payload inside a comment ahead of the real one: lifted, then not found, re-read
    "decoy in a comment": DOCUMENT.replace(
        b"<edXML:ContentTransferEncoded", b"<!--<edXML:ContentTransferEncoded>"
        + DOCUMENT[PAYLOAD_START:PAYLOAD_END] + b"</edXML:ContentTransferEncoded>-->"
        + b"<edXML:ContentTransferEncoded", 1),
    "comment around the text": _around(b"<!-- x ", b" -->"),
    "comment after the text": _around(b"", b"<!--c-->"),
    "empty CDATA before the text": _around(b"<![CDATA[]]>", b""),
    "CDATA around the text": _around(b"<![CDATA[", b"]]>"),
    "processing instruction": _around(b"<?pi ", b"?>"),
    "child element after the text": _around(b"", b"<edXML:X/>"),
    "error on the same line": _around(b"", b"</wrong>"),
    "error right after the text": _around(b"", b"<!-- a -- b -->"),
    "entity in the text": _around(b"", b"&amp;"),
    "unknown entity": _around(b"", b"&nope;"),
    "CRLF-wrapped lines": _payload(lambda b: b"\r\n".join(b[i:i + 76]
                                                          for i in range(0, len(b), 76))),
    "LF-wrapped lines": _payload(lambda b: b"\n".join(b[i:i + 64]
                                                      for i in range(0, len(b), 64))),
    "stray characters": _payload(lambda b: b[:5000] + b"*" + b[5000:]),
    "bad padding": _payload(lambda b: b[:-4] + b"A==="),
    "truncated zip": _payload(lambda b: b[:-400]),
    "control character": _payload(lambda b: b[:5000] + b"\x01" + b[5000:]),
    "non-ASCII": _payload(lambda b: b[:5000] + "đ".encode() + b[5000:]),
    "forged placeholder": _payload(lambda b: b"edocLifted" + b"0" * 32 + b"n0"),
    "name in an attribute": DOCUMENT.replace(b"<edXML:Subject>",
                                             b'<edXML:Subject a="ContentTransferEncoded">', 1),
    "payload in Subject": DOCUMENT.replace(
        b"<edXML:Subject>", b"<edXML:Subject>ContentTransferEncoded>"
        + DOCUMENT[PAYLOAD_START:PAYLOAD_END] + b"<!---->", 1),
    "element named ContentTransferEncoded elsewhere": DOCUMENT.replace(
        b"<edXML:Content", b"<edXML:ContentTransferEncoded>"
        + DOCUMENT[PAYLOAD_START:PAYLOAD_END] + b"</edXML:ContentTransferEncoded><edXML:Content",
        1),
    "two copies of the attachment": DOCUMENT.replace(
        b"</AttachmentEncoded>",
        DOCUMENT[DOCUMENT.index(b"<Attachment>"):DOCUMENT.index(b"</Attachment>") + 13]
        + b"</AttachmentEncoded>"),
}


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("name", sorted(TRICKS))
def test_tricks_around_the_payload_read_as_without_lifting(
        name: str, strict: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    data = TRICKS[name]
    assert outcome(data, strict) == without_lifting(data, strict, monkeypatch)


def test_decoys_fall_back_to_the_whole_text() -> None:
    # lifted then not found where it must be: parsed again from the original bytes
    for name in ("decoy in a comment", "comment after the text", "payload in Subject",
                 "child element after the text"):
        assert lift.lift(TRICKS[name], 100)[1], name  # the decoy is lifted at first...
        assert parse_package_or_none(TRICKS[name])[1] == {}, name  # ...then given back


_SNIPPETS = [b"<", b">", b"&", b"&amp;", b"<!--", b"-->", b"<![CDATA[", b"]]>", b"<x>", b"</x>",
             b"<x/>", b"\r\n", b"\n", b" ", b"=", b"\x00", b"\xc3", b'"', b"<?p?>"]


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(-40, 40), st.booleans(), st.sampled_from(_SNIPPETS)),
                min_size=1, max_size=4), st.booleans())
def test_markup_near_the_payload_reads_as_without_lifting(edits, strict: bool) -> None:
    data = bytearray(DOCUMENT)
    places = [((PAYLOAD_END if at_end else PAYLOAD_START) + offset, snippet)
              for offset, at_end, snippet in edits]
    for where, snippet in sorted(places, key=lambda p: -p[0]):  # from the end: no shifting
        data[where:where] = snippet
    data = bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        assert outcome(data, strict) == without_lifting(data, strict, patch)


_ZIP = bytes(attachments.pack("scan.pdf", PAYLOAD))
_SEEKS = st.tuples(st.just("seek"), st.integers(-40_000, 40_000), st.sampled_from([0, 1, 2]))
_READS = st.tuples(st.just("read"), st.one_of(st.none(), st.integers(-2, 80_000)),
                   st.just(0))


@settings(deadline=None, max_examples=200)
@given(st.sampled_from([_ZIP, _ZIP[:-1], _ZIP[:-2], b"", b"a", b"ab"]),
       st.lists(st.one_of(_SEEKS, _READS), max_size=8))
def test_base64_file_reads_and_seeks_as_bytesio(raw: bytes, operations) -> None:
    """zipfile sees the same file whether it reads the decoded bytes or the base64 text."""
    mine, reference = Base64File(pybase64.b64encode(raw)), io.BytesIO(raw)
    for name, argument, whence in operations:
        results = []
        for stream in (mine, reference):
            try:
                if name == "seek":
                    results.append(stream.seek(argument, whence))
                else:
                    results.append(stream.read(argument))
            except ValueError as error:
                results.append(str(error))
        assert results[0] == results[1]
        assert mine.tell() == reference.tell()


@pytest.mark.parametrize("start", [0, 1, 2, 3, 4, 5, 49_151, 49_152, 49_153])
@pytest.mark.parametrize("length", [1, 2, 49_151, 49_152, 49_153, 98_305, 200_000])
def test_base64_file_ranges_across_chunks(start: int, length: int) -> None:
    raw = random.Random(start + length).randbytes(150_000)
    file = Base64File(pybase64.b64encode(raw))
    file.seek(start)
    assert file.read(length) == raw[start:start + length]
    assert file.tell() == min(start + length, len(raw))


def test_one_copy_of_a_large_attachment_at_a_time() -> None:
    """Python-side peak while building and parsing: the output (or the file read back) and
    little else, no ZIP or base64 copies beside it (each would be page faults for nothing)."""
    data = random.Random(7).randbytes(1 << 20)
    package = make_package()
    package.attachments = [Attachment("scan.pdf", data, content_id="cid:1")]
    wire = edxml.build(package)
    edxml.parse(wire)  # warm up (imports, caches)
    tracemalloc.start()
    try:
        built = edxml.build(package)
        _, build_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        parsed = edxml.parse(built)
        _, parse_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.attachments[0].data == data
    assert build_peak < len(wire) + len(data) // 4, build_peak  # was ~2 × the package
    assert parse_peak < len(wire) + 1.25 * len(data), parse_peak  # was ~2.5 × the file
