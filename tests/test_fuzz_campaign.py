"""Fuzzing campaign (``-m campaign``, bounded by example counts): the two parsers that read
bytes from another node — the edXML reader and the receipt reader — get mutated versions of real
inputs (the national axis SDK's sample packages; a receipt a node really signed). Each input
must give a result or the parser's own refusal (``EdxmlError``, ``TransportError``), never
another exception, and never hang (hypothesis' deadline). A crash found here becomes a
regression test beside the parser's own tests."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edoc import edxml
from exchange_axis.errors import TransportError
from exchange_axis.receipts import Receipt, RecipientOutcome
from tests.paths import EDXML_SAMPLES

pytestmark = pytest.mark.campaign

SAMPLES = sorted(p.read_bytes() for p in EDXML_SAMPLES.glob("*.edxml"))
FUZZ = settings(max_examples=20000, deadline=2000, suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw, originals: list[bytes]) -> bytes:
    """A real input with a few edits: bytes flipped, spans cut, duplicated or replaced by
    XML/JSON-meaningful fragments."""
    data = bytearray(draw(st.sampled_from(originals)))
    fragments = [b"<", b">", b"</", b"&", b"&amp;", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"\x00",
                 b"\"", b"{", b"}", b"[", b"]", b"null", b"-1", b"1e999", b"\xff\xfe",
                 b"<![CDATA[", b"]]>", b"=", b" xmlns:x='urn:x'"]
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "dup":
            data[at:at] = data[at:at + draw(st.integers(1, 256))]
        else:
            data[at:at] = draw(st.sampled_from(fragments))
    return bytes(data)


@FUZZ
@given(mutated(SAMPLES))
def test_edxml_reader_only_refuses_with_its_own_error(data: bytes) -> None:
    try:
        edxml.parse(data)
    except edxml.EdxmlError as exc:
        assert exc.message_vi and exc.message_en


def _receipt() -> bytes:
    return Receipt("hub", "000.00.00.H41", "000.00.00.H41,2026/1", "ab" * 32,
                   dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC), "document",
                   [RecipientOutcome("000.01.50.H41", "01"),
                    RecipientOutcome("000.02.50.H41", "02", "Sai nơi nhận", "wrong recipient")],
                   {"cd" * 32: "TOTAL_PASSED"}).to_bytes()


RECEIPTS = [_receipt(), json.dumps({"version": 1}).encode()]


@FUZZ
@given(st.one_of(mutated(RECEIPTS), st.binary(max_size=512),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                              lambda c: st.lists(c, max_size=4)
                              | st.dictionaries(st.text(max_size=8), c, max_size=4))
                 .map(lambda v: json.dumps(v).encode())))
def test_receipt_reader_only_refuses_with_its_own_error(data: bytes) -> None:
    try:
        Receipt.from_bytes(data)
    except TransportError as exc:
        assert exc.message_vi and exc.message_en
