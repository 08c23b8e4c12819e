"""QCVN 102 agency codes: parsing, normalising, hierarchy, and the axis agency list."""

from __future__ import annotations

import json

import pytest

from edoc.agency import AgencyCode, AgencyCodeError, AgencyLevel, AgencyRegistry, normalise
from edoc.errors import EdocError


def test_full_and_short_forms() -> None:
    code = AgencyCode.parse("000.00.00.H41")
    assert str(code) == "000.00.00.H41" and code.level is AgencyLevel.TOP and code.parent is None
    short = AgencyCode.parse("28.22.H17")
    assert str(short) == "000.28.22.H17" and short.was_short
    assert short == AgencyCode.parse("000.28.22.H17")
    assert normalise(" 000.05.32.h41 ") == "000.05.32.H41"


def test_levels_and_parents_legacy_three_level() -> None:
    commune = AgencyCode.parse("000.05.32.H41")
    assert commune.level is AgencyLevel.THIRD
    assert str(commune.parent) == "000.00.32.H41"
    assert commune.parent.level is AgencyLevel.SECOND
    assert str(commune.parent.parent) == "000.00.00.H41"
    assert [str(a) for a in commune.ancestors()] == ["000.00.32.H41", "000.00.00.H41"]
    assert not commune.is_direct_commune
    fourth = AgencyCode.parse("001.05.32.H41")
    assert fourth.level is AgencyLevel.FOURTH and str(fourth.parent) == "000.05.32.H41"


def test_two_level_commune_parent_is_the_province() -> None:
    commune = AgencyCode.parse("000.01.00.H41")
    assert commune.level is AgencyLevel.THIRD and commune.is_direct_commune
    assert str(commune.parent) == "000.00.00.H41" and commune.parent.is_province
    assert str(commune.top) == "000.00.00.H41"


@pytest.mark.parametrize("bad", ["", "H41", "000.00.00.Z41", "000.0.00.H41", "000.00.00.H4",
                                 "0000.00.00.H41", "000.00.00.H00", "00.00.00.H41.1",
                                 "000.00.00.H41x"])
def test_invalid_codes_refused_in_both_languages(bad: str) -> None:
    with pytest.raises(AgencyCodeError) as caught:
        AgencyCode.parse(bad)
    assert "Mã định danh" in caught.value.message_vi and "agency code" in caught.value.message_en
    assert not AgencyCode.is_valid(bad)


AXIS_LIST = [
    {"id": "1", "pid": "0", "code": "H41", "code102": "000.00.00.H41",
     "name": "UBND tỉnh Nghệ An", "mail": "nghean@gov.vn"},
    {"id": "2", "pid": "1", "code": "H41.32", "code102": "000.00.32.H41",
     "name": "UBND huyện Nghi Lộc", "mail": None},
    {"id": "3", "pid": "2", "code": "H41.32.05", "code102": "05.32.H41",
     "name": "UBND xã Nghi Long", "mail": ""},
    {"id": "4", "pid": "1", "code": "H41.01", "code102": "000.01.00.H41",
     "name": "UBND xã Vinh Hưng", "mail": "c1@nghean.gov.vn"},
    {"id": "5", "pid": "", "code": "H41.02", "code102": "000.02.00.H41",
     "name": "UBND xã Vinh Lộc", "mail": None},
]


def test_registry_from_axis_json() -> None:
    registry = AgencyRegistry.from_axis_json(json.dumps(AXIS_LIST, ensure_ascii=False))
    assert len(registry) == 5
    province = registry.get("000.00.00.H41")
    assert province.code_qd20 == "H41" and province.mail == "nghean@gov.vn"
    legacy = registry.get("000.05.32.H41")  # stored normalised from the short form
    assert legacy.code_qd20 == "H41.32.05" and legacy.mail is None
    assert registry.parent(legacy).name == "UBND huyện Nghi Lộc"
    assert registry.parent(registry.get("000.01.00.H41")) is province
    assert registry.parent(registry.get("000.02.00.H41")) is province  # no pid: from the code
    assert {a.name for a in registry.children(province)} == {
        "UBND huyện Nghi Lộc", "UBND xã Vinh Hưng", "UBND xã Vinh Lộc"}
    assert registry.by_axis_id("3") is legacy
    assert "05.32.H41" in registry and registry.find("000.99.00.H41") is None
    assert registry.find("not a code") is None
    wrapped = AgencyRegistry.from_axis_json({"data": AXIS_LIST})
    assert len(wrapped) == 5


def test_registry_refuses_bad_entries_with_their_position() -> None:
    bad = [*AXIS_LIST, {"id": "9", "code": "X", "code102": "12345", "name": "Hỏng"}]
    with pytest.raises(EdocError) as caught:
        AgencyRegistry.from_axis_json(bad)
    assert "entry 5" in caught.value.message_en and "Mục 5" in caught.value.message_vi
    with pytest.raises(EdocError, match="duplicate"):
        AgencyRegistry.from_axis_json([AXIS_LIST[0], AXIS_LIST[0]])
    with pytest.raises(EdocError, match="JSON"):
        AgencyRegistry.from_axis_json("{not json")
