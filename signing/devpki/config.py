"""Reading the sample agencies and officials of the development PKI from TOML.

The people and agencies are configuration (``default.toml`` beside this module, or ``DIR/pki.toml``)
so that a deployment can rename them without touching code; this module checks the file and turns
it into plain dataclasses, failing with a bilingual message that names the bad entry.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from signing.devpki.errors import DevPkiError

DEFAULT_CONFIG = Path(__file__).resolve().parent / "default.toml"

_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
_LEVELS = ("province", "district", "commune")
_OFFICIAL_ROLES = ("official", "revoked", "expired")


@dataclass(frozen=True)
class AgencySpec:
    id: str
    code: str
    name: str
    parent: str
    level: str
    locality: str
    mns: str


@dataclass(frozen=True)
class OfficialSpec:
    id: str
    role: str
    agency: str  # agency code
    name: str
    title: str
    cccd: str


@dataclass(frozen=True)
class NodeSpec:
    id: str
    agency: str
    name: str


@dataclass(frozen=True)
class PkiNames:
    root_name: str
    sub_ca_name: str
    organization: str
    tsa_name: str
    ocsp_name: str


@dataclass(frozen=True)
class PkiConfig:
    names: PkiNames
    agencies: tuple[AgencySpec, ...]
    officials: tuple[OfficialSpec, ...]
    nodes: tuple[NodeSpec, ...]

    def agency(self, code: str) -> AgencySpec:
        for agency in self.agencies:
            if agency.code == code:
                return agency
        raise KeyError(code)


def _bad(path: Path, where: str, vi: str, en: str) -> DevPkiError:
    return DevPkiError(f"{path}: {where}: {vi}", f"{path}: {where}: {en}")


def _field(path: Path, where: str, table: dict, key: str, pattern: str | None = None) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _bad(path, where, f"thiếu trường '{key}'", f"missing field '{key}'")
    if pattern and not re.fullmatch(pattern, value):
        raise _bad(
            path, where, f"'{key}' = '{value}' sai định dạng {pattern}",
            f"'{key}' = '{value}' does not match {pattern}",
        )
    return value.strip()


def load_config(path: Path | None = None) -> PkiConfig:
    """Read and check a PKI configuration file (the packaged default when ``path`` is None)."""
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DevPkiError(
            f"Không tìm thấy tệp cấu hình {path}", f"configuration file {path} not found"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise DevPkiError(
            f"Tệp cấu hình {path} không phải TOML hợp lệ: {exc}",
            f"configuration file {path} is not valid TOML: {exc}",
        ) from None

    pki = data.get("pki", {})
    names = PkiNames(**{
        key: _field(path, "[pki]", pki, key)
        for key in ("root_name", "sub_ca_name", "organization", "tsa_name", "ocsp_name")
    })

    agencies = []
    for i, table in enumerate(data.get("agencies", [])):
        where = f"[[agencies]] #{i + 1}"
        level = _field(path, where, table, "level")
        if level not in _LEVELS:
            raise _bad(path, where, f"level phải là một trong {_LEVELS}",
                       f"level must be one of {_LEVELS}")
        agencies.append(AgencySpec(
            id=_field(path, where, table, "id"),
            code=_field(path, where, table, "code", _CODE.pattern),
            name=_field(path, where, table, "name"),
            parent=_field(path, where, table, "parent"),
            level=level,
            locality=_field(path, where, table, "locality"),
            mns=_field(path, where, table, "mns", r"\d{7}"),
        ))
    codes = {a.code for a in agencies}

    officials = []
    for i, table in enumerate(data.get("officials", [])):
        where = f"[[officials]] #{i + 1}"
        role = table.get("role", "official")
        if role not in _OFFICIAL_ROLES:
            raise _bad(path, where, f"role phải là một trong {_OFFICIAL_ROLES}",
                       f"role must be one of {_OFFICIAL_ROLES}")
        official = OfficialSpec(
            id=_field(path, where, table, "id"),
            role=role,
            agency=_field(path, where, table, "agency"),
            name=_field(path, where, table, "name"),
            title=_field(path, where, table, "title"),
            cccd=_field(path, where, table, "cccd", r"\d{12}"),
        )
        if official.agency not in codes:
            raise _bad(path, where, f"không có cơ quan mã {official.agency}",
                       f"no agency with code {official.agency}")
        officials.append(official)

    nodes = []
    for i, table in enumerate(data.get("nodes", [])):
        where = f"[[nodes]] #{i + 1}"
        node = NodeSpec(
            id=_field(path, where, table, "id"),
            agency=_field(path, where, table, "agency"),
            name=_field(path, where, table, "name"),
        )
        if node.agency not in codes:
            raise _bad(path, where, f"không có cơ quan mã {node.agency}",
                       f"no agency with code {node.agency}")
        nodes.append(node)

    ids = [e.id for e in (*agencies, *officials, *nodes)] + ["tsa", "ocsp"]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DevPkiError(
            f"{path}: mã thực thể bị trùng: {', '.join(duplicates)}",
            f"{path}: duplicate entity ids: {', '.join(duplicates)}",
        )
    return PkiConfig(names, tuple(agencies), tuple(officials), tuple(nodes))
