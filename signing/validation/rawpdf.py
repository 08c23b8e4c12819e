"""Reporting signatures from the bytes alone, when the PDF parser gives up on a file.

A file that pyHanko cannot read (a spoofed trailer, a corrupted or truncated update) still has
signatures whose integrity can be judged from their /ByteRange and /Contents; what cannot be
judged is what the document shows, so such a signature never passes.
"""

from __future__ import annotations

from signing.validation import changes as changes_mod
from signing.validation import structure
from signing.validation.cms import CmsFormatError, PrefixHashes, SignerFacts, load_signed_data
from signing.validation.judge import Options, fill_identity, judge
from signing.validation.pdfsigner import level_of, signer_facts
from signing.validation.report import Indication, SignatureReport, SubIndication
from signing.validation.summary import summarise


def from_bytes(
    data: bytes, raw: list[structure.RawSignature], reason: str, opts: Options
) -> list[SignatureReport]:
    groups: dict[tuple, list[structure.RawSignature]] = {}
    for r in raw:
        groups.setdefault(r.key, []).append(r)
    reports = []
    hashes = PrefixHashes(data)
    for members in groups.values():
        genuine = [
            m for m in members if len(m.byte_range) == 4 and m.contents_start == m.byte_range[1]
        ]
        main = genuine[0] if genuine else members[0]
        if main.sig_type == "DocTimeStamp":
            continue
        sig = SignatureReport(
            field=f"#{main.obj_num}" if main.obj_num is not None else None,
            indication=Indication.INDETERMINATE,
            sub_indication=None,
        )
        sig.facts.byte_range = main.byte_range
        sig.facts.subfilter = main.subfilter
        sig.facts.format_problems.extend(structure.check_byte_range(data, main))
        sig.facts.problems.append(reason)
        if len(members) > 1:
            sig.facts.changes.append(
                changes_mod.make_change(
                    "signature_dictionary_copied",
                    [m.obj_num for m in members if m is not main and m.obj_num is not None],
                )
            )
        if len(main.byte_range) == 4 and main.signed_end < len(data):
            later = [e for e in structure.revision_ends(data) if e > main.signed_end]
            if later:
                sig.facts.changes.append(changes_mod.make_change("unreadable_update"))
        sig.facts.coverage = (
            "unclear"
            if sig.facts.format_problems
            else ("entire_file" if main.signed_end == len(data) else "entire_revision")
        )
        br = main.byte_range
        ranges_ok = len(br) == 4 and min(br) >= 0 and br[2] + br[3] <= len(data)
        try:
            sd = load_signed_data(main.contents)
            facts = signer_facts(sd, hashes, br, ranges_ok)
        except CmsFormatError as exc:
            facts = SignerFacts()
            sig.facts.format_problems.append(str(exc))
        fill_identity(sig, facts)
        sig.level = level_of(main.subfilter, facts, False)
        judge(sig, facts, opts)
        if sig.indication is not Indication.TOTAL_FAILED:
            # The signature itself may be sound, but the document around it cannot be read,
            # so what it shows cannot be checked: an unreadable file fails (DSS does too).
            sig.indication = Indication.TOTAL_FAILED
            sig.sub_indication = SubIndication.FORMAT_FAILURE
            sig.warnings.append(reason)
            sig.summary_vi, sig.summary_en = summarise(sig)
        reports.append(sig)
    return reports
