"""Agency identifiers (mã định danh) in the QCVN 102 form, and the registry of agencies.

A QCVN 102 code is ``VVV.ZZ.YY.MXX``, written from the lowest level to the highest, unused levels
as zeros: ``000.00.00.H41`` is the Nghệ An provincial People's Committee, ``000.00.32.H41`` a
department or (legacy) district under it, ``000.05.32.H41`` a unit or commune under that one.
Since 1 July 2025 there are no districts; this project writes a commune directly under a province
as ``000.ZZ.00.H41`` and its parent is the province. The hierarchy is therefore derived by zeroing
the lowest non-zero segment, which gives the right parent for both the legacy three-level and the
two-level codes.

Some packages in the wild drop the first segment (``28.22.H17``): we read that form and normalise
it, but never write it. The Decision 20/2020 code (a second, level-first scheme) is kept beside the
QCVN 102 code as an opaque string: the axis returns both and we must hand both back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from edoc.errors import EdocError

_FULL = re.compile(r"^(\d{3})\.(\d{2})\.(\d{2})\.([A-Za-z]\d{2})$")
_SHORT = re.compile(r"^(\d{2})\.(\d{2})\.([A-Za-z]\d{2})$")
#: Letters used for the top level (MXX): A–F, I, J other central bodies, G ministries and
#: government bodies, H provincial People's Committees, K provincial People's Councils.
TOP_LEVEL_LETTERS = frozenset("ABCDEFGHIJK")


class AgencyCodeError(EdocError, ValueError):
    """A string that is not a QCVN 102 agency code."""

    def __init__(self, value: str, reason_vi: str, reason_en: str) -> None:
        super().__init__(
            f"Mã định danh cơ quan không hợp lệ {value!r}: {reason_vi}",
            f"invalid agency code {value!r}: {reason_en}",
        )
        self.value = value


class AgencyLevel(IntEnum):
    """How deep a code sits: 1 is a ministry/province, 4 the lowest (VVV) level."""

    TOP = 1
    SECOND = 2
    THIRD = 3
    FOURTH = 4


@dataclass(frozen=True, order=True)
class AgencyCode:
    """A normalised QCVN 102 code; ``str()`` always gives the full 13-character form."""

    v: str
    z: str
    y: str
    m: str
    #: True when the code was read in the short form (``28.22.H17``); not part of equality.
    was_short: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def parse(cls, value: str) -> AgencyCode:
        """Parse and normalise a code; short forms are accepted, letters upper-cased."""
        if not isinstance(value, str):
            raise AgencyCodeError(repr(value), "không phải chuỗi ký tự", "not a string")
        text = value.strip()
        full = _FULL.match(text)
        short = None if full else _SHORT.match(text)
        if full:
            v, z, y, m = full.groups()
        elif short:
            z, y, m = short.groups()
            v = "000"
        else:
            raise AgencyCodeError(
                value,
                "phải có dạng 000.ZZ.YY.MXX (ví dụ 000.00.00.H41)",
                "expected the form 000.ZZ.YY.MXX (e.g. 000.00.00.H41)",
            )
        m = m.upper()
        if m[0] not in TOP_LEVEL_LETTERS:
            raise AgencyCodeError(
                value,
                f"ký tự cấp 1 '{m[0]}' không thuộc A–K",
                f"top-level letter '{m[0]}' is not one of A–K",
            )
        if m[1:] == "00":
            raise AgencyCodeError(value, "mã cấp 1 không được là 00", "top-level number 00")
        return cls(v, z, y, m, was_short=bool(short))

    @classmethod
    def is_valid(cls, value: str) -> bool:
        try:
            cls.parse(value)
        except AgencyCodeError:
            return False
        return True

    def __str__(self) -> str:
        return f"{self.v}.{self.z}.{self.y}.{self.m}"

    @property
    def level(self) -> AgencyLevel:
        """Level derived from the lowest non-zero segment."""
        if self.v != "000":
            return AgencyLevel.FOURTH
        if self.z != "00":
            return AgencyLevel.THIRD
        if self.y != "00":
            return AgencyLevel.SECOND
        return AgencyLevel.TOP

    @property
    def parent(self) -> AgencyCode | None:
        """The code one level up (lowest non-zero segment zeroed); None for the top level."""
        if self.v != "000":
            return AgencyCode("000", self.z, self.y, self.m)
        if self.z != "00":
            return AgencyCode("000", "00", self.y, self.m)
        if self.y != "00":
            return AgencyCode("000", "00", "00", self.m)
        return None

    @property
    def top(self) -> AgencyCode:
        """The ministry or province this code belongs to."""
        return AgencyCode("000", "00", "00", self.m)

    @property
    def is_province(self) -> bool:
        """A provincial People's Committee (H) or Council (K) at the top level."""
        return self.level == AgencyLevel.TOP and self.m[0] in "HK"

    @property
    def is_direct_commune(self) -> bool:
        """A commune directly under a province (two-level government since 1 July 2025)."""
        return self.m[0] == "H" and self.v == "000" and self.z != "00" and self.y == "00"

    def ancestors(self) -> Iterator[AgencyCode]:
        """Parent, grandparent, ... up to the top level."""
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


def normalise(value: str) -> str:
    """The full written form of a code (what we always emit)."""
    return str(AgencyCode.parse(value))


@dataclass(frozen=True)
class Agency:
    """An agency as the axis lists it: both codes, name, mail, and the axis' own ids."""

    code: AgencyCode
    name: str
    code_qd20: str | None = None
    mail: str | None = None
    axis_id: str | None = None
    axis_parent_id: str | None = None


class AgencyRegistry:
    """Agencies indexed by code and by axis id, with parent/children navigation.

    The parent is the axis' ``pid`` when the list gives one (it knows merges and the two-level
    reform better than any rule), otherwise the parent derived from the code.
    """

    def __init__(self, agencies: Iterable[Agency] = ()) -> None:
        self._by_code: dict[AgencyCode, Agency] = {}
        self._by_axis_id: dict[str, Agency] = {}
        for agency in agencies:
            self.add(agency)

    def add(self, agency: Agency) -> None:
        if agency.code in self._by_code:
            raise EdocError(
                f"Mã định danh {agency.code} bị trùng trong danh sách cơ quan",
                f"duplicate agency code {agency.code} in the agency list",
            )
        self._by_code[agency.code] = agency
        if agency.axis_id is not None:
            self._by_axis_id[agency.axis_id] = agency

    @classmethod
    def from_axis_json(
        cls, source: str | bytes | Path | Iterable[Mapping[str, Any]]
    ) -> AgencyRegistry:
        """Load the axis agency list: JSON array (or ``{"data": [...]}``) of objects with
        ``id, pid, code, code102, name, mail``. ``code102`` is the QCVN 102 code, ``code`` the
        Decision 20/2020 one. A bad entry is refused with its position, never silently dropped."""
        if isinstance(source, Path):
            try:
                source = source.read_bytes()
            except OSError as exc:
                raise EdocError(
                    f"Không đọc được danh sách cơ quan {source}: {exc.strerror}; kiểm tra "
                    "đường dẫn tệp (JSON getAgenciesList của trục)",
                    f"cannot read the agency list {source}: {exc.strerror}; check the path "
                    "(the axis's getAgenciesList JSON)",
                ) from None
        if isinstance(source, str | bytes):
            try:
                source = json.loads(source)
            except ValueError as exc:
                raise EdocError(
                    f"Danh sách cơ quan không phải JSON hợp lệ: {exc}",
                    f"agency list is not valid JSON: {exc}",
                ) from exc
        if isinstance(source, Mapping):
            source = source.get("data", source.get("items", []))
        registry = cls()
        for index, item in enumerate(source):
            raw = item.get("code102") or item.get("code_102")
            if not raw:
                raise EdocError(
                    f"Mục {index} của danh sách cơ quan thiếu code102",
                    f"agency list entry {index} has no code102",
                )
            try:
                code = AgencyCode.parse(str(raw))
            except AgencyCodeError as exc:
                raise EdocError(
                    f"Mục {index} ({item.get('name')!r}): {exc.message_vi}",
                    f"agency list entry {index} ({item.get('name')!r}): {exc.message_en}",
                ) from exc
            registry.add(Agency(
                code=code,
                name=str(item.get("name") or ""),
                code_qd20=_opt_str(item.get("code")),
                mail=_opt_str(item.get("mail")),
                axis_id=_opt_str(item.get("id")),
                axis_parent_id=_opt_str(item.get("pid")),
            ))
        return registry

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Agency]:
        return iter(self._by_code.values())

    def __contains__(self, code: object) -> bool:
        return self.find(code) is not None  # type: ignore[arg-type]

    def find(self, code: str | AgencyCode) -> Agency | None:
        """The agency for a code in any accepted form, or None."""
        try:
            key = code if isinstance(code, AgencyCode) else AgencyCode.parse(code)
        except AgencyCodeError:
            return None
        return self._by_code.get(key)

    def get(self, code: str | AgencyCode) -> Agency:
        agency = self.find(code)
        if agency is None:
            raise EdocError(f"Không có cơ quan mã {code} trong danh sách",
                            f"no agency with code {code} in the list")
        return agency

    def by_axis_id(self, axis_id: str) -> Agency | None:
        return self._by_axis_id.get(str(axis_id))

    def parent(self, agency: Agency) -> Agency | None:
        if agency.axis_parent_id not in (None, "", "0"):
            found = self._by_axis_id.get(agency.axis_parent_id)  # type: ignore[arg-type]
            if found is not None:
                return found
        for code in agency.code.ancestors():
            if code in self._by_code:
                return self._by_code[code]
        return None

    def children(self, agency: Agency) -> list[Agency]:
        return [a for a in self._by_code.values() if a is not agency and self.parent(a) is agency]


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
