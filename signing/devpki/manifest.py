"""``DIR/manifest.json``: the index of a development PKI, so nobody guesses file names.

On disk every path is relative to DIR (the directory can be moved or mounted elsewhere); in
memory :class:`Manifest` and :class:`Entity` hold absolute paths, ready to open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from signing.devpki.errors import DevPkiError

MANIFEST_NAME = "manifest.json"
FORMAT = 1
ROLES = ("official", "agency", "tsa", "ocsp", "node", "revoked", "expired")
_PATH_FIELDS = ("cert", "key", "p12", "image", "chain")


@dataclass(frozen=True)
class Entity:
    """One key holder: an official, an agency seal, the TSA, the OCSP responder or a node."""

    id: str
    role: str
    agency_code: str | None
    name: str
    cert: Path
    key: Path
    p12: Path
    password: str
    chain: Path  # the certificate followed by the sub-CA and the root (PEM)
    image: Path | None = None  # signature PNG (official) or seal PNG (agency)
    title: str | None = None  # chức vụ of an official, e.g. "Chủ tịch"
    agency: str | None = None  # name of the agency (officials, agencies, nodes)
    parent_agency: str | None = None
    level: str | None = None  # province | district | commune (of the agency)
    identifier: str | None = None  # "CCCD:…" or "MNS:…" as in the subject UID
    subject: str = ""  # RFC 4514
    serial: str = ""  # hex
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def to_json(self, base: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, Path):
                value = value.relative_to(base).as_posix()
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], base: Path) -> Entity:
        values = dict(data)
        for name in _PATH_FIELDS:
            if values.get(name):
                values[name] = base / values[name]
        for name in ("not_before", "not_after", "revoked_at"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class Authority:
    """A CA of the development PKI (``root`` or ``subca``)."""

    id: str
    name: str
    cert: Path
    key: Path
    crl: Path  # DER
    crl_url: str
    cert_url: str


@dataclass(frozen=True)
class Manifest:
    directory: Path
    root: Path  # PEM
    intermediates: list[Path]  # PEM
    crl: Path  # DER CRL of the sub-CA (the one listing the revoked signer)
    crl_url: str
    tsa_url: str
    ocsp_url: str
    host: str
    port: int
    created: datetime
    authorities: list[Authority]
    entities: list[Entity]
    development: bool = True
    dev_policy_oid: str = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def entity(self, entity_id: str) -> Entity:
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise KeyError(
            f"Không có thực thể '{entity_id}' trong {self.directory / MANIFEST_NAME} "
            f"(no entity '{entity_id}'; known: {', '.join(e.id for e in self.entities)})"
        )

    def by_role(self, role: str) -> list[Entity]:
        return [e for e in self.entities if e.role == role]

    def authority(self, authority_id: str) -> Authority:
        for authority in self.authorities:
            if authority.id == authority_id:
                return authority
        raise KeyError(authority_id)

    def files(self) -> list[Path]:
        """Every file the manifest points to (for checks and clean-up)."""
        paths = [self.root, *self.intermediates, self.crl]
        for a in self.authorities:
            paths += [a.cert, a.key, a.crl]
        for e in self.entities:
            paths += [e.cert, e.key, e.p12, e.chain] + ([e.image] if e.image else [])
        return sorted(set(paths))

    def to_json(self) -> dict[str, Any]:
        base = self.directory

        def rel(p: Path) -> str:
            return p.relative_to(base).as_posix()

        return {
            "format": FORMAT,
            "development": self.development,
            "dev_policy_oid": self.dev_policy_oid,
            "created": self.created.isoformat(),
            "host": self.host,
            "port": self.port,
            "root": rel(self.root),
            "intermediates": [rel(p) for p in self.intermediates],
            "crl": rel(self.crl),
            "crl_url": self.crl_url,
            "tsa_url": self.tsa_url,
            "ocsp_url": self.ocsp_url,
            "authorities": [
                {**a.__dict__, "cert": rel(a.cert), "key": rel(a.key), "crl": rel(a.crl)}
                for a in self.authorities
            ],
            "entities": [e.to_json(base) for e in self.entities],
        }

    def save(self) -> Path:
        path = self.directory / MANIFEST_NAME
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path | str) -> Manifest:
        """Read ``DIR/manifest.json``; a clear bilingual error if there is none or it is broken."""
        base = Path(directory).resolve()
        path = base / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DevPkiError(
                f"Chưa có PKI phát triển trong {base}: chạy 'edoc pki init --dir {directory}'",
                f"no development PKI in {base}: run 'edoc pki init --dir {directory}'",
            ) from None
        except json.JSONDecodeError as exc:
            raise DevPkiError(
                f"{path} hỏng ({exc}); tạo lại bằng 'edoc pki init --force'",
                f"{path} is corrupt ({exc}); recreate it with 'edoc pki init --force'",
            ) from None
        if data.get("format") != FORMAT:
            raise DevPkiError(
                f"{path} có định dạng {data.get('format')!r}, cần {FORMAT}; tạo lại với --force",
                f"{path} has format {data.get('format')!r}, expected {FORMAT}; "
                "recreate it with --force",
            )
        try:
            return cls._from_json(base, data)
        except (KeyError, TypeError, ValueError) as exc:
            raise DevPkiError(
                f"{path} thiếu hoặc sai trường ({exc!r}); tạo lại bằng 'edoc pki init --force'",
                f"{path} has a missing or bad field ({exc!r}); recreate it with "
                "'edoc pki init --force'",
            ) from None

    @classmethod
    def _from_json(cls, base: Path, data: dict[str, Any]) -> Manifest:
        return cls(
            directory=base,
            root=base / data["root"],
            intermediates=[base / p for p in data["intermediates"]],
            crl=base / data["crl"],
            crl_url=data["crl_url"],
            tsa_url=data["tsa_url"],
            ocsp_url=data["ocsp_url"],
            host=data["host"],
            port=int(data["port"]),
            created=datetime.fromisoformat(data["created"]),
            authorities=[
                Authority(**{**a, "cert": base / a["cert"], "key": base / a["key"],
                             "crl": base / a["crl"]})
                for a in data["authorities"]
            ],
            entities=[Entity.from_json(e, base) for e in data["entities"]],
            development=bool(data.get("development", True)),
            dev_policy_oid=data.get("dev_policy_oid", ""),
        )
