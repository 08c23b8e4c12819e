"""The ``[office]`` table of node.toml: the e-office application a node serves to its people.

Kept apart from the exchange settings (``exchange_axis.config``) because it is the application's
business, not the axis's: where the web API listens, how long sessions live, the login throttle,
the agencies' seal keys and the leaders' server-side keys. Example::

    [office]
    listen = "127.0.0.1:8080"
    secure_cookies = true            # false only for plain-HTTP development on loopback
    signature_level = "B-T"
    tsa_url = "http://127.0.0.1:8765/tsa"

    [[office.seals]]                 # the agency's seal (con dấu) key, kept by the clerks' server
    agency = "000.00.00.H41"
    p12 = "keys/agency-h41.p12"
    password_env = "EDOC_SEAL_H41"   # or password = "…" (development)
    image = "keys/seal-h41.png"

    [[office.personal_keys]]         # a leader whose key the agency keeps (PKCS#12 or HSM)
    username = "lanhdao.h41"
    p12 = "keys/official-h41.p12"    # the leader types its password (PIN) when signing
    image = "keys/signature-h41.png"

    [office.oidc]                    # optional login through the province's identity provider
    metadata_url = "https://id.example/.well-known/openid-configuration"
    client_id = "edoc"
    client_secret_env = "EDOC_OIDC_SECRET"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from exchange_axis.config import ListenAddress
from exchange_axis.errors import ConfigError


class SealKey(BaseModel):
    agency: str
    p12: Path
    password: str = ""
    password_env: str | None = None
    image: Path

    def secret(self) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"Biến môi trường {self.password_env} (mật khẩu khóa dấu của {self.agency}) "
                    "chưa đặt",
                    f"environment variable {self.password_env} (the seal key password of "
                    f"{self.agency}) is not set")
            return value
        return self.password


class PersonalKey(BaseModel):
    """A leader's key the agency keeps: a PKCS#12 file, or a key in an HSM/token reached through
    PKCS#11 (``pkcs11_lib`` + ``token_label`` [+ ``key_label``, ``chain``]). Either way the
    leader types the password/PIN when signing; it is never stored."""

    username: str
    p12: Path | None = None
    pkcs11_lib: Path | None = None
    token_label: str | None = None
    key_label: str | None = None
    chain: Path | None = None
    image: Path | None = None

    @model_validator(mode="after")
    def _one_key(self) -> PersonalKey:
        if (self.p12 is None) == (self.pkcs11_lib is None):
            raise ValueError(f"personal key of {self.username}: give p12 or pkcs11_lib "
                             "(with token_label), exactly one")
        if self.pkcs11_lib is not None and not self.token_label:
            raise ValueError(f"personal key of {self.username}: pkcs11_lib needs token_label")
        return self


class OidcSettings(BaseModel):
    metadata_url: str
    client_id: str
    client_secret: str = ""
    client_secret_env: str | None = None
    #: the claim that names the edoc account (its username); a person must exist in edoc first
    username_claim: str = "preferred_username"
    scope: str = "openid profile email"
    label: str = "Đăng nhập một lần (SSO)"

    def secret(self) -> str:
        if self.client_secret_env:
            return os.environ.get(self.client_secret_env, "")
        return self.client_secret


class OfficeSettings(ListenAddress, BaseModel):
    listen: str = "127.0.0.1:8080"
    #: the URL people reach the page at (OIDC redirects); default http://<listen>
    public_url: str = ""
    secure_cookies: bool = True
    session_hours: float = Field(default=10.0, gt=0)
    idle_minutes: float = Field(default=60.0, gt=0)
    token_days: float = Field(default=90.0, gt=0)
    max_upload_mb: float = Field(default=50.0, gt=0)
    login_failures: int = Field(default=5, ge=1)  # per username, inside login_window_minutes
    login_failures_per_ip: int = Field(default=30, ge=1)
    login_window_minutes: float = Field(default=15.0, gt=0)
    login_lock_seconds: float = Field(default=60.0, gt=0)
    signature_level: str = "B-T"
    tsa_url: str | None = None
    check_revocation: bool = True
    #: remote signing services (CSC v2) leaders may sign through
    csc_urls: list[str] = []
    seals: list[SealKey] = []
    personal_keys: list[PersonalKey] = []
    oidc: OidcSettings | None = None
    #: PDF of the province's directive template is drafted by api.drafting
    template_place: str = "Nghệ An"
    #: the web page's language unless the reader chose one: vi or en
    lang: Literal["vi", "en"] = "vi"
    #: where the page looks for the leader's signing agent (``edoc agent``) by default
    agent_url: str = "http://127.0.0.1:18765"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.listen}"

    def seal_for(self, agency: str) -> SealKey | None:
        return next((k for k in self.seals if k.agency == agency), None)

    def personal_key(self, username: str) -> PersonalKey | None:
        return next((k for k in self.personal_keys if k.username == username), None)


def _resolve(base: Path, value: Path) -> Path:
    return value if value.is_absolute() else (base / value).resolve()


def load_office(path: Path | str) -> OfficeSettings | None:
    """The ``[office]`` table of a node.toml (None when the node serves no e-office app)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("office")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Không đọc được {path}: {exc}", f"cannot read {path}: {exc}") from exc
    if raw is None:
        return None
    try:
        office = OfficeSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"Mục [office] của {path} không hợp lệ: {exc}",
                          f"invalid [office] in {path}: {exc}") from exc
    base = path.parent.resolve()
    for key in office.seals:
        key.p12, key.image = _resolve(base, key.p12), _resolve(base, key.image)
    for pk in office.personal_keys:
        for name in ("p12", "pkcs11_lib", "chain", "image"):
            value = getattr(pk, name)
            setattr(pk, name, _resolve(base, value) if value is not None else None)
    missing = [(f"[[office.seals]] {k.agency}", p) for k in office.seals for p in (k.p12, k.image)
               if not p.is_file()]
    missing += [(f"[[office.personal_keys]] {k.username}", p) for k in office.personal_keys
                for p in (k.p12, k.pkcs11_lib, k.chain, k.image)
                if p is not None and not p.is_file()]
    if missing:
        where, file = missing[0]
        raise ConfigError(f"{where}: không có tệp {file}", f"{where}: file {file} not found")
    return office


def dump_office(office: OfficeSettings) -> str:
    """The ``[office]`` table as TOML, to append to a node.toml (tests, demo)."""
    def q(value: object) -> str:
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'

    lines = ["", "[office]"]
    for name in ("listen", "public_url", "signature_level", "lang", "agent_url"):
        lines.append(f"{name} = {q(getattr(office, name))}")
    if office.tsa_url:
        lines.append(f"tsa_url = {q(office.tsa_url)}")
    for name in ("secure_cookies", "check_revocation"):
        lines.append(f"{name} = {str(getattr(office, name)).lower()}")
    for name in ("session_hours", "idle_minutes", "token_days", "max_upload_mb",
                 "login_failures", "login_failures_per_ip", "login_window_minutes",
                 "login_lock_seconds"):
        lines.append(f"{name} = {getattr(office, name)}")
    if office.csc_urls:
        lines.append("csc_urls = [" + ", ".join(q(u) for u in office.csc_urls) + "]")
    for k in office.seals:
        lines += ["", "[[office.seals]]", f"agency = {q(k.agency)}", f"p12 = {q(k.p12)}",
                  f"password = {q(k.password)}", f"image = {q(k.image)}"]
        if k.password_env:
            lines.append(f"password_env = {q(k.password_env)}")
    for pk in office.personal_keys:
        lines += ["", "[[office.personal_keys]]", f"username = {q(pk.username)}"]
        for name in ("p12", "pkcs11_lib", "token_label", "key_label", "chain", "image"):
            if getattr(pk, name) is not None:
                lines.append(f"{name} = {q(getattr(pk, name))}")
    if office.oidc:
        o = office.oidc
        lines += ["", "[office.oidc]", f"metadata_url = {q(o.metadata_url)}",
                  f"client_id = {q(o.client_id)}", f"client_secret = {q(o.client_secret)}",
                  f"username_claim = {q(o.username_claim)}", f"scope = {q(o.scope)}"]
    return "\n".join(lines) + "\n"
