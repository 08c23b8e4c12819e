"""Helpers of the e-office tests: a province node and a commune hub, each serving the e-office
app beside its peer port (real processes, real HTTP), with people in their agencies; and a client
that logs in like the web page (cookie + CSRF header) or like an integrator (bearer token).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, free_port, layout, running
from api.office.settings import OfficeSettings, PersonalKey, SealKey, dump_office
from tests.exchange_helpers import province_and_hub

PASSWORD = "mat-khau-2026"
C1, C2 = NAMED_COMMUNES[0], NAMED_COMMUNES[1]

#: (node, username, agency code, full name, roles, position)
PEOPLE = [
    ("province", "lanhdao.h41", PROVINCE[0], "Nguyễn Văn An", "leader", "Chủ tịch"),
    ("province", "vanthu.h41", PROVINCE[0], "Trần Thị Bình", "clerk", "Văn thư"),
    ("province", "chuyenvien.h41", PROVINCE[0], "Lê Văn Cường", "specialist", "Chuyên viên"),
    ("province", "quantri.h41", PROVINCE[0], "Phạm Văn Dũng", "operator", None),
    ("province", "kiemtra.h41", PROVINCE[0], "Hoàng Thị Em", "auditor", None),
    ("hub", "lanhdao.c1", C1[0], "Đặng Văn Phúc", "leader", "Chủ tịch"),
    ("hub", "vanthu.c1", C1[0], "Ngô Thị Giang", "clerk", "Văn thư"),
    ("hub", "chuyenvien.c1", C1[0], "Vũ Văn Hải", "specialist", "Chuyên viên"),
    ("hub", "quantri.c1", C1[0], "Bùi Văn Khánh", "operator", None),
    ("hub", "kiemtra.c1", C1[0], "Đỗ Thị Lan", "auditor", None),
    ("hub", "vanthu.c2", C2[0], "Mai Thị Minh", "clerk", "Văn thư"),
    ("hub", "chuyenvien.c2", C2[0], "Lý Văn Nam", "specialist", "Chuyên viên"),
    ("hub", "lanhdao.c2", C2[0], "Trịnh Văn Oanh", "leader", "Chủ tịch"),
]


def office_settings(manifest: Any, *, seals: list[tuple[str, str]],
                    personal: list[tuple[str, str]] = (), **extra: Any) -> OfficeSettings:
    """``[office]`` for a node: seals (agency code, PKI entity), server-side personal keys
    (username, PKI entity), plain HTTP on a free loopback port (tests only)."""
    def seal(code: str, entity: str) -> SealKey:
        e = manifest.entity(entity)
        return SealKey(agency=code, p12=e.p12, password=e.password, image=e.image)

    def personal_key(username: str, entity: str) -> PersonalKey:
        e = manifest.entity(entity)
        return PersonalKey(username=username, p12=e.p12, image=e.image)

    keys = [personal_key(*p) for p in personal] + list(extra.pop("personal_keys", []))
    return OfficeSettings(listen=f"127.0.0.1:{free_port()}", secure_cookies=False,
                          tsa_url=manifest.tsa_url, seals=[seal(*s) for s in seals],
                          personal_keys=keys, **extra)


def axis_list(agencies: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"id": str(i + 1), "pid": "0", "code102": c, "name": n}
            for i, (c, n) in enumerate(agencies)]


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class OfficeNodes:
    province: NodeProcess
    hub: NodeProcess
    urls: dict[str, str]
    paths: dict[str, Path]
    manifest: Any

    def client(self, username: str, *, bearer: bool = False) -> OfficeClient:
        node = next(p[0] for p in PEOPLE if p[1] == username)
        return OfficeClient.login(self.urls[node], username, PASSWORD, bearer=bearer)


def lay_out_office(tmp: Path, manifest: Any, *, database_url: Callable | None = None,
                   store_url: Callable | None = None,
                   province_office: dict[str, Any] | None = None) -> tuple[dict[str, Path],
                                                                          dict[str, str]]:
    """Write the two node configs with their ``[office]`` tables, the people and the
    province's directory of the communes; returns (config paths, e-office base URLs)."""
    from exchange_axis.config import WorkerSettings  # noqa: PLC0415

    paths = layout(tmp / "nodes", manifest, province_and_hub(), database_url=database_url,
                   store_url=store_url, worker=WorkerSettings(base_delay=0.2, max_delay=2.0))
    offices = {
        "province": office_settings(manifest, seals=[(PROVINCE[0], "agency-h41")],
                                    personal=([] if "personal_keys" in (province_office or {})
                                              else [("lanhdao.h41", "official-h41")]),
                                    **(province_office or {})),
        "hub": office_settings(manifest, seals=[(C1[0], "agency-c1"), (C2[0], "agency-c2")]),
    }
    urls = {}
    for name, path in paths.items():
        with path.open("a", encoding="utf-8") as f:
            f.write(dump_office(offices[name]))
        urls[name] = offices[name].base_url
    directory = tmp / "agencies.json"
    directory.write_text(json.dumps(axis_list([PROVINCE, *NAMED_COMMUNES]), ensure_ascii=False),
                         encoding="utf-8")
    for name in paths:
        run_cli("agency", "import", str(directory), "--config", str(paths[name]))
    for node, username, agency, full_name, roles, position in PEOPLE:
        args = ["user", "add", username, "--agency", agency, "--name", full_name,
                "--roles", roles, "--password", PASSWORD, "--config", str(paths[node])]
        if position:
            args += ["--position", position]
        if username.startswith("lanhdao."):
            entity = "official-h41" if username.endswith("h41") else "official-c1"
            args += ["--signature-image", str(manifest.entity(entity).image)]
        run_cli(*args)
    return paths, urls


@contextlib.contextmanager
def office_nodes(tmp: Path, manifest: Any, **kwargs: Any) -> Iterator[OfficeNodes]:
    paths, urls = lay_out_office(tmp, manifest, **kwargs)
    with running(paths) as procs:
        for url in urls.values():
            wait_office(url)
        yield OfficeNodes(procs["province"], procs["hub"], urls, paths, manifest)


def wait_office(url: str, timeout: float = 30.0) -> None:
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/openapi.json", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"e-office app at {url} not ready")
        time.sleep(0.1)


class OfficeClient(httpx.Client):
    """The e-office API as the web page (cookie + X-CSRF-Token) or an integrator (bearer)."""

    user: dict[str, Any]

    @classmethod
    def login(cls, base_url: str, username: str, password: str, *,
              bearer: bool = False) -> OfficeClient:
        client = cls(base_url=base_url, timeout=120)
        if bearer:
            r = client.post("/api/v1/auth/token", json={"username": username,
                                                        "password": password})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        else:
            r = client.post("/api/v1/auth/login", json={"username": username,
                                                        "password": password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        client.user = r.json()["user"]
        return client

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()


def issue_over_api(leader: OfficeClient, clerk: OfficeClient, password: str, subject: str,
                   recipients: list[str], **meta: Any) -> tuple[int, str]:
    """A directive through the whole outgoing workflow over HTTP: drafted from the template
    (``meta``: priority, due_date…), signed with the key the agency keeps, numbered, sealed and
    issued; (row id, DocumentId)."""
    doc = leader.ok("POST", "/api/v1/outgoing/from-template", json={
        "subject": subject, "notation": "CT-UBND", "recipients": recipients, **meta})["id"]
    leader.ok("POST", f"/api/v1/outgoing/{doc}/sign", json={"password": password})
    for step in ("number", "seal"):
        clerk.ok("POST", f"/api/v1/outgoing/{doc}/{step}")
    return doc, clerk.ok("POST", f"/api/v1/outgoing/{doc}/issue")["document_id"]
