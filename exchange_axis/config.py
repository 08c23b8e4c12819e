"""node.toml: what a node hosts, whom it talks to, where it keeps things.

A node is configured by one TOML file so that an operator can read, diff and version it. Relative
paths resolve against the file's directory, so a config directory can be moved as a whole.

Example::

    name = "province"
    listen = "127.0.0.1:8443"
    database_url = "sqlite:///province.sqlite"
    store_url = "objects"

    [tls]
    cert = "certs/node-province.pem"
    key = "certs/node-province.key"
    ca = "certs/sub-ca.pem"          # client CA and peer trust anchor

    [[agencies]]
    code = "000.00.00.H41"
    name = "Ủy ban nhân dân tỉnh Nghệ An"

    [generated_communes]             # a hub hosting many communes with generated codes
    count = 3321
    province = "H41"

    [[peers]]
    name = "hub"
    url = "https://127.0.0.1:9443"
    fingerprint = "ab12…"            # SHA-256 of the peer's DER certificate
    subject = "CN=node-hub"          # optional: checked too when given

    [[routes]]
    pattern = "000.*.00.H41"         # fnmatch on the normalised agency code
    peer = "hub"

    upstream = "province"            # default route up the hierarchy
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from exchange_axis.errors import ConfigError


class TlsFiles(BaseModel):
    """The node's own certificate and key (PEM), the CA bundle peers must chain to, and where the
    node CA's certificate revocation lists come from.

    A pinned fingerprint says *which* peer a certificate is; it cannot say the node CA has since
    revoked it (a stolen key). So both ends of every connection also check the peer's
    certificate against its CA's CRL in the handshake (see docs/trust.md, "Node certificates")."""

    cert: Path
    key: Path
    ca: Path
    key_password: str | None = None
    #: check peers' node certificates against their CA's CRL (both as server and as client)
    check_revocation: bool = True
    #: CRLs to fetch (HTTP); empty: the CRL distribution points of this node's own certificate
    crl_urls: list[str] = []
    #: CRL files (DER or PEM) read beside or instead of the URLs, re-read when they change
    crl_files: list[Path] = []
    #: how often the CRLs are fetched again; a changed CRL applies to the next handshakes
    crl_refresh_seconds: float = Field(default=300.0, gt=0)
    #: before any CRL has been obtained: refuse every peer (true) or accept peers unchecked,
    #: with a warning, until one arrives (false). Unset: true unless ``development = true``.
    #: Once a CRL is held it is kept until a newer one replaces it, and past its nextUpdate the
    #: peers of its CA are refused whatever this says.
    crl_required: bool | None = None


class HostedAgency(BaseModel):
    code: str
    name: str = ""


class GeneratedCommunes(BaseModel):
    """A commune hub hosting ``count`` communes of one province with generated codes.

    Real deployments list their agencies; demos and benches need thousands without a file of
    thousands of lines."""

    count: int = Field(ge=0, le=9999)
    province: str = "H41"
    first_group: int = Field(default=50, ge=1, le=99)
    start: int = Field(default=0, ge=0)


class Peer(BaseModel):
    """Another node, known by its certificate: the fingerprint is what authenticates it."""

    name: str
    url: str = ""
    fingerprint: str
    subject: str | None = None
    #: agency-code patterns this peer may send documents and statuses for beyond what the
    #: routing table puts behind it: a relay along a path the table does not show (a district
    #: node passing the province's directives down to communes hosted here)
    speaks_for: list[str] = Field(default_factory=list)

    @field_validator("fingerprint")
    @classmethod
    def _normalise_fp(cls, value: str) -> str:
        return value.replace(":", "").strip().lower()


class Route(BaseModel):
    pattern: str
    peer: str


class WorkerSettings(BaseModel):
    """Back-off of the outbox worker. Short values are for tests of an offline hub.

    ``lease`` (seconds): how long a claimed outbox row stays its worker's. When a worker dies,
    the other workers of the node (same database) take its rows over once the lease expired; a
    delivery still running after it may be sent again by another worker (harmless, the receiver
    answers a repeat with its first receipt, but wasted), so keep it well above the time one
    claimed ``batch`` takes to deliver.

    ``max_attempts``: a row is given up (``failed``, for an operator's ``edoc node retry``)
    after that many attempts. Only the most urgent rows waiting for a peer count attempts while
    it is down, every ``max_delay`` (with jitter, 150–300 s) once the back-off is at its cap, so
    the default of 1000 keeps a commune's backlog for at least 41 h of outage (about 62 h on
    average): a commune offline for a day or a weekend night gets everything when it is back,
    without anyone's help. (The former 12 gave up after 9–19 minutes.)"""

    base_delay: float = 1.0
    max_delay: float = 300.0
    max_attempts: int = Field(default=1000, ge=1)
    poll_interval: float = 0.2
    concurrency: int = 8
    batch: int = 500
    lease: float = Field(default=300.0, gt=0)


class AuditSettings(BaseModel):
    """Every exchange step is written to the hash-chained audit log in the transaction that makes
    it; with a TSA configured, the node also time-stamps the log's head when it has moved and the
    last anchor is older than ``anchor_every_seconds``."""

    tsa_url: str | None = None
    anchor_every_seconds: float = 3600.0


class TransportSettings(BaseModel):
    """Bounds on what a connection may cost the node before it has sent a useful request, so
    idle or trickling clients (500 idle TLS connections, a body at 1 byte/s) cannot hold its
    sockets and memory while real peers wait. A weak commune link at 256 kbit/s sends ~32 KB/s,
    far above ``min_body_bytes_per_s``.

    The last three bound the node's own sending (the outbox's client), sized for a commune's
    line (tests/test_weak_links.py: 30 % loss, 800 ms each way, 256 kbit/s, a link down for a
    minute): a 5 MB directive takes ~4 minutes at 256 kbit/s, so the time a delivery may
    take grows with its size, at the same ``min_body_bytes_per_s`` the receiving node accepts,
    and a dead link is told from a slow one by the kernel (no byte acknowledged for
    ``stall_seconds``), not by a fixed timeout."""

    #: a connection that has not begun a request within this many seconds is closed
    request_start_seconds: float = Field(default=30.0, gt=0)
    #: a body may start slowly for this long; after it, it must average ``min_body_bytes_per_s``
    body_grace_seconds: float = Field(default=10.0, gt=0)
    min_body_bytes_per_s: int = Field(default=1024, ge=1)
    #: sending: TCP connect, then the TLS handshake, each (800 ms each way and loss need seconds)
    connect_seconds: float = Field(default=30.0, gt=0)
    #: sending: the peer's answer is awaited this long after the body has gone, and the body may
    #: take this long plus its size at ``min_body_bytes_per_s``
    answer_seconds: float = Field(default=30.0, gt=0)
    #: sending: bytes unacknowledged this long mean the link is dead (TCP_USER_TIMEOUT): the
    #: delivery fails and the outbox retries it; a shorter outage is ridden out by TCP
    stall_seconds: float = Field(default=120.0, gt=0)


class NationalAxis(BaseModel):
    """The node's account on the national axis (only the top node of a province has one)."""

    url: str
    system_id: str
    secret: str
    poll_interval: float = 5.0


class ListenAddress:
    """``host`` and ``port`` of a ``listen = "HOST:PORT"`` setting."""

    listen: str

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class NodeConfig(ListenAddress, BaseModel):
    name: str
    listen: str = "127.0.0.1:0"
    database_url: str
    store_url: str
    tls: TlsFiles
    agencies: list[HostedAgency] = []
    generated_communes: GeneratedCommunes | None = None
    peers: list[Peer] = []
    routes: list[Route] = []
    upstream: str | None = None
    national: NationalAxis | None = None
    trust_dirs: list[Path] = []
    development: bool = True
    revocation: str = "online"
    #: worker processes that verify arriving PDFs (0: in the node's own threads). A hub that
    #: receives a steady stream wants one per core: verification is most of its CPU.
    verify_processes: int = Field(default=0, ge=0, le=64)
    max_package_age_days: int = 30
    worker: WorkerSettings = WorkerSettings()
    audit: AuditSettings = AuditSettings()
    transport: TransportSettings = TransportSettings()
    #: Test hook: crash (os._exit) at a named point, e.g. "after_receiver_commit".
    crash_at: str | None = None

    def hosted(self) -> dict[str, str]:
        """Every agency code this node hosts → its name."""
        found = {a.code: a.name for a in self.agencies}
        if self.generated_communes:
            for code, name in generated_communes(self.generated_communes):
                found[code] = name
        return found

    def peer(self, name: str) -> Peer:
        for p in self.peers:
            if p.name == name:
                return p
        raise ConfigError(
            f"Không có nút ngang hàng tên '{name}' trong cấu hình",
            f"no peer named '{name}' in the node configuration",
        )


def generated_communes(spec: GeneratedCommunes) -> list[tuple[str, str]]:
    """Codes ``000.ZZ.YY.<province>`` for communes numbered from ``spec.start``.

    ZZ runs 01..99 inside each group YY starting at ``first_group``, so 3,321 communes take 34
    groups and never collide with the legacy district codes used by the demo (YY < 50)."""
    out = []
    for i in range(spec.start, spec.start + spec.count):
        group, unit = divmod(i, 99)
        code = f"000.{unit + 1:02d}.{spec.first_group + group:02d}.{spec.province}"
        out.append((code, f"UBND xã số {i + 1}"))
    return out


def _resolve(base: Path, value: Path) -> Path:
    return value if value.is_absolute() else (base / value).resolve()


def load(path: Path | str) -> NodeConfig:
    """Read and check node.toml; relative paths are taken from the file's directory."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"Không tìm thấy tệp cấu hình {path}", f"configuration file {path} not found"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Tệp cấu hình {path} sai cú pháp TOML: {exc}", f"{path} is not valid TOML: {exc}"
        ) from exc
    try:
        cfg = NodeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"Cấu hình {path} không hợp lệ: {exc}", f"invalid configuration {path}: {exc}"
        ) from exc
    base = path.parent.resolve()
    cfg.tls.cert = _resolve(base, cfg.tls.cert)
    cfg.tls.key = _resolve(base, cfg.tls.key)
    cfg.tls.ca = _resolve(base, cfg.tls.ca)
    cfg.tls.crl_files = [_resolve(base, p) for p in cfg.tls.crl_files]
    cfg.trust_dirs = [_resolve(base, p) for p in cfg.trust_dirs]
    if cfg.database_url.startswith("sqlite:///") and not cfg.database_url.startswith("sqlite:////"):
        rel = cfg.database_url[len("sqlite:///"):]
        cfg.database_url = f"sqlite:///{_resolve(base, Path(rel))}"
    if "://" not in cfg.store_url:
        cfg.store_url = str(_resolve(base, Path(cfg.store_url)))
    names = {p.name for p in cfg.peers}
    for route in cfg.routes:
        if route.peer not in names:
            raise ConfigError(
                f"Tuyến '{route.pattern}' trỏ tới nút '{route.peer}' chưa khai báo "
                "trong [[peers]]",
                f"route '{route.pattern}' points to undeclared peer '{route.peer}'",
            )
    if cfg.upstream and cfg.upstream not in names:
        raise ConfigError(
            f"upstream '{cfg.upstream}' không khai báo trong [[peers]]",
            f"upstream '{cfg.upstream}' is not a declared peer",
        )
    return cfg


def require_files(cfg: NodeConfig, path: Path | str) -> None:
    """Before a node starts: every file or directory ``path`` names is there, or one clear
    refusal naming each missing one with its setting (not a traceback at the first TLS
    handshake). ``load`` does not check: a configuration is also read where its files live on
    another machine (a Kubernetes ConfigMap, a peer's layout)."""
    named = [("tls.cert", cfg.tls.cert), ("tls.key", cfg.tls.key), ("tls.ca", cfg.tls.ca)]
    named += [(f"tls.crl_files[{i}]", p) for i, p in enumerate(cfg.tls.crl_files)]
    named += [(f"trust_dirs[{i}]", p) for i, p in enumerate(cfg.trust_dirs)]
    missing = [(setting, p) for setting, p in named if not p.exists()]
    if missing:
        listed = "; ".join(f"{setting} = {file}" for setting, file in missing)
        raise ConfigError(
            f"Cấu hình {path}: không có tệp {listed}. Sửa đường dẫn trong tệp cấu hình, hoặc "
            "tạo PKI phát triển bằng `edoc pki init` (đường dẫn tương đối tính từ thư mục của "
            "tệp cấu hình)",
            f"configuration {path}: missing file(s) {listed}. Fix the path in the configuration "
            "or create the development PKI with `edoc pki init` (relative paths are taken "
            "from the configuration file's directory)",
        )


def dump(cfg: NodeConfig) -> str:
    """Write a config back as TOML (used by the demo and tests to lay out nodes)."""
    lines = [f"name = {_q(cfg.name)}", f"listen = {_q(cfg.listen)}",
             f"database_url = {_q(cfg.database_url)}", f"store_url = {_q(cfg.store_url)}",
             f"development = {str(cfg.development).lower()}",
             f"revocation = {_q(cfg.revocation)}",
             f"verify_processes = {cfg.verify_processes}",
             f"max_package_age_days = {cfg.max_package_age_days}"]
    if cfg.upstream:
        lines.append(f"upstream = {_q(cfg.upstream)}")
    if cfg.crash_at:
        lines.append(f"crash_at = {_q(cfg.crash_at)}")
    if cfg.trust_dirs:
        lines.append("trust_dirs = [" + ", ".join(_q(str(p)) for p in cfg.trust_dirs) + "]")
    lines += ["", "[tls]", f"cert = {_q(str(cfg.tls.cert))}", f"key = {_q(str(cfg.tls.key))}",
              f"ca = {_q(str(cfg.tls.ca))}"]
    if cfg.tls.key_password:
        lines.append(f"key_password = {_q(cfg.tls.key_password)}")
    lines += _dump_tls_revocation(cfg.tls)
    w = cfg.worker
    lines += ["", "[worker]", f"base_delay = {w.base_delay}", f"max_delay = {w.max_delay}",
              f"max_attempts = {w.max_attempts}", f"poll_interval = {w.poll_interval}",
              f"concurrency = {w.concurrency}", f"batch = {w.batch}", f"lease = {w.lease}"]
    t = cfg.transport
    if t != TransportSettings():
        lines += ["", "[transport]", f"request_start_seconds = {t.request_start_seconds}",
                  f"body_grace_seconds = {t.body_grace_seconds}",
                  f"min_body_bytes_per_s = {t.min_body_bytes_per_s}",
                  f"connect_seconds = {t.connect_seconds}", f"answer_seconds = {t.answer_seconds}",
                  f"stall_seconds = {t.stall_seconds}"]
    if cfg.audit.tsa_url:
        lines += ["", "[audit]", f"tsa_url = {_q(cfg.audit.tsa_url)}",
                  f"anchor_every_seconds = {cfg.audit.anchor_every_seconds}"]
    if cfg.generated_communes:
        g = cfg.generated_communes
        lines += ["", "[generated_communes]", f"count = {g.count}", f"province = {_q(g.province)}",
                  f"first_group = {g.first_group}", f"start = {g.start}"]
    if cfg.national:
        n = cfg.national
        lines += ["", "[national]", f"url = {_q(n.url)}", f"system_id = {_q(n.system_id)}",
                  f"secret = {_q(n.secret)}", f"poll_interval = {n.poll_interval}"]
    for a in cfg.agencies:
        lines += ["", "[[agencies]]", f"code = {_q(a.code)}", f"name = {_q(a.name)}"]
    for p in cfg.peers:
        lines += ["", "[[peers]]", f"name = {_q(p.name)}", f"url = {_q(p.url)}",
                  f"fingerprint = {_q(p.fingerprint)}"]
        if p.subject:
            lines.append(f"subject = {_q(p.subject)}")
        if p.speaks_for:
            lines.append("speaks_for = [" + ", ".join(_q(x) for x in p.speaks_for) + "]")
    for r in cfg.routes:
        lines += ["", "[[routes]]", f"pattern = {_q(r.pattern)}", f"peer = {_q(r.peer)}"]
    return "\n".join(lines) + "\n"


def _dump_tls_revocation(tls: TlsFiles) -> list[str]:
    """The [tls] revocation settings that differ from their defaults."""
    lines = []
    if not tls.check_revocation:
        lines.append("check_revocation = false")
    if tls.crl_urls:
        lines.append("crl_urls = [" + ", ".join(_q(u) for u in tls.crl_urls) + "]")
    if tls.crl_files:
        lines.append("crl_files = [" + ", ".join(_q(str(p)) for p in tls.crl_files) + "]")
    if tls.crl_refresh_seconds != TlsFiles.model_fields["crl_refresh_seconds"].default:
        lines.append(f"crl_refresh_seconds = {tls.crl_refresh_seconds}")
    if tls.crl_required is not None:
        lines.append(f"crl_required = {str(tls.crl_required).lower()}")
    return lines


def _q(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
