"""The DSS conformance corpus: every file reaches expected.json's verdicts with no trust anchors.

Facts (intact, named changes) are asserted as well as indications, and poppler's pdfsig is run
as an independent second opinion on integrity where it can read the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signing.validation import Indication, verify_pdf
from tests.paths import PDF_CORPUS

CORPUS = PDF_CORPUS
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
FILES = sorted(k for k in EXPECTED if not k.startswith("_"))

# What each file's report must name among its changes (kind of change, allowed?)
NAMED_CHANGES = {
    "pdf-signed-added-page.pdf": [("pages_added", False)],
    "pdf-removed-pages.pdf": [("pages_removed", False)],
    "pades-spoofing-replaced-reason.pdf": [("signature_dictionary_edited", False)],
    "dss-2236_hide.pdf": [("objects_replaced", False)],
    "pades-signed-annot-added.pdf": [("annotations", True)],
    "pdf-spoofing-attack.pdf": [("signature_dictionary_copied", False)],
    "pdf-byterange-overlap.pdf": [("form_filling", True)],
}


def test_corpus_complete():
    assert len(FILES) == 12
    for name in FILES:
        assert (CORPUS / name).exists(), name


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", FILES)
def test_conformance_file(name):
    expected = EXPECTED[name]
    report = verify_pdf((CORPUS / name).read_bytes(), revocation="off")
    sigs = report.signatures
    assert len(sigs) == len(expected["signatures"]), [s.field for s in sigs]
    for sig, want in zip(sigs, expected["signatures"], strict=True):
        if want != "any":
            assert sig.indication == Indication(want), (sig.field, sig.indication, sig.summary_en)
        assert sig.sub_indication is not None  # nothing here may pass: no roots are trusted
        assert sig.summary_vi and sig.summary_en
    if "intact" in expected:
        assert [s.intact for s in sigs] == expected["intact"]
    if "failed_count" in expected:
        failed = [s for s in sigs if s.indication is Indication.TOTAL_FAILED]
        assert len(failed) == expected["failed_count"]
    if expected["changes"].startswith("none"):
        assert all(not s.changes for s in sigs)
    for kind, allowed in NAMED_CHANGES.get(name, []):
        found = {(c.kind, c.allowed) for s in sigs for c in s.changes}
        assert (kind, allowed) in found, found
    # the document's verdict is the worst of its signatures
    order = [Indication.TOTAL_FAILED, Indication.INDETERMINATE, Indication.TOTAL_PASSED]
    assert report.indication == min((s.indication for s in sigs), key=order.index)
    json.dumps(report.to_dict(), ensure_ascii=False)


def test_intact_but_unchanged_original_is_indeterminate_no_chain():
    report = verify_pdf((CORPUS / "pdf-signed-original.pdf").read_bytes(), revocation="off")
    sig = report.signatures[0]
    assert str(sig.sub_indication) == "NO_CERTIFICATE_CHAIN_FOUND"
    assert sig.facts.coverage == "entire_file"
    assert sig.level.value == "PAdES-BASELINE-B"


def test_pkcs7_level_reported():
    sig = verify_pdf((CORPUS / "pkcs7.pdf").read_bytes(), revocation="off").signatures[0]
    assert sig.level.value == "PKCS#7-T"
    assert sig.timestamp_time is not None


def test_shadow_attack_is_not_a_byte_level_failure():
    """The hide attack keeps the signed bytes intact: only change analysis can catch it."""
    sig = verify_pdf((CORPUS / "dss-2236_hide.pdf").read_bytes(), revocation="off").signatures[0]
    assert sig.intact
    assert sig.indication is Indication.TOTAL_FAILED


# --- poppler's pdfsig as an independent second opinion ---------------------------------------


def pdfsig_intact(path: Path) -> dict[tuple[int, ...], bool]:
    """Map signed byte ranges -> pdfsig's integrity verdict, for the signatures pdfsig checks."""
    import re
    import subprocess

    out = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    result: dict[tuple[int, ...], bool] = {}
    for block in out.split("Signature #")[1:]:
        ranges = re.search(r"Signed Ranges: \[(\d+) - (\d+)\], \[(\d+) - (\d+)\]", block)
        verdict = re.search(r"Signature Validation: (.+)", block)
        if not ranges or not verdict:
            continue
        a, b, c, d = (int(x) for x in ranges.groups())
        key = (a, b - a, c, d - c)
        text = verdict.group(1)
        if "not yet been verified" in text:
            continue  # pdfsig refused to check (illegal ByteRange): no opinion
        result[key] = text.startswith("Signature is Valid")
    return result


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", FILES)
def test_pdfsig_agrees_on_integrity(name):
    path = CORPUS / name
    theirs = pdfsig_intact(path)
    ours = {
        tuple(s.facts.byte_range): s.intact
        for s in verify_pdf(path.read_bytes(), revocation="off").signatures
    }
    for key, intact in theirs.items():
        assert key in ours, f"pdfsig checked {key}, we did not report it"
        assert ours[key] == intact, (key, ours[key], intact)
    for key, intact in ours.items():
        if intact and key not in theirs:
            # pdfsig cannot find a signature here; only the spoofing file (forged structure that
            # poppler reads as an unsigned field) is allowed to be in that case
            assert name == "pdf-spoofing-attack.pdf", (name, key)
