"""Shared helpers of the exchange tests: a running topology, issuing a signed directive, waiting
for statuses. Real processes, real mutual TLS, real databases and stores."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.cluster import PROVINCE, NodeProcess, province_topology
from api.directive import SignedDirective, document_json, sign_directive


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


def directive_for(province: NodeProcess, manifest: Any) -> SignedDirective:
    with province.admin() as admin:
        return sign_directive(manifest, lambda notation: admin.call(
            "POST", "/admin/v1/number", json={"agency": PROVINCE[0], "notation": notation}
        )["number"])


def issue(province: NodeProcess, directive: SignedDirective, recipients: list[tuple[str, str]],
          **kwargs: Any) -> str:
    with province.admin() as admin:
        return admin.call("POST", "/admin/v1/issue",
                          json=document_json(directive, PROVINCE, recipients, **kwargs)
                          )["document_id"]


def tracking(node: NodeProcess, document_id: str) -> dict[str, Any]:
    with node.admin() as admin:
        return admin.call("GET", "/admin/v1/tracking", params={"document_id": document_id})


def statuses(node: NodeProcess, document_id: str) -> dict[str, str]:
    return {r["agency_code"]: r["status"] for r in tracking(node, document_id)["recipients"]}


def all_have(node: NodeProcess, document_id: str, code: str) -> Callable[[], bool]:
    return lambda: all(s == code for s in statuses(node, document_id).values())


def topology(communes: int) -> tuple[list, list[tuple[str, str]]]:
    return province_topology(communes)


def object_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "sha256" in p.parts]
