"""The design card's dependency direction, enforced: api → exchange_axis → storage → edoc, and
signing imports none of ours. A wrong import fails here before it grows into a tangle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"edoc", "signing", "storage", "exchange_axis", "api"}
ALLOWED = {
    "edoc": set(),
    "signing": set(),
    "storage": {"edoc"},
    "exchange_axis": {"storage", "edoc", "signing"},
    "api": {"exchange_axis", "storage", "edoc", "signing"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"package {package} has no modules"
    bad = []
    for path in files:
        for target in imported_top_levels(path) - ALLOWED[package] - {package}:
            bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not bad, "imports against the design card's direction:\n" + "\n".join(bad)


def test_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("import storage.objects\nfrom api.settings import Settings\n", encoding="utf-8")
    assert imported_top_levels(bad) == {"storage", "api"}
