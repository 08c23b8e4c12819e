"""The deployment files stay true: ``deploy/node.toml`` (the node of docker-compose.yml) is a
valid node configuration whose certificate paths are where ``edoc pki init`` puts them, and the
development PKI made for the compose network names services the node can reach (``pki:8765``).
``docker-compose config -q`` itself runs in .ci/run (there is no Docker engine to start it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from exchange_axis.config import load

ROOT = Path(__file__).resolve().parent.parent
MOUNT = "/var/lib/edoc/certs-dev"


def test_compose_node_config_matches_the_pki_layout(tmp_path: Path) -> None:
    pki = tmp_path / "certs-dev"
    r = CliRunner().invoke(app, ["pki", "init", "--dir", str(pki), "--host", "pki", "--port",
                                 "8765", "--json"])
    assert r.exit_code == 0, r.output
    text = (ROOT / "deploy" / "node.toml").read_text(encoding="utf-8")
    local = tmp_path / "node.toml"
    local.write_text(text.replace(MOUNT, str(pki)), encoding="utf-8")
    cfg = load(local)
    assert cfg.listen == "0.0.0.0:8443" and cfg.database_url.startswith("postgresql+psycopg://")
    assert cfg.store_url.startswith("s3://") and "@minio:9000/edoc-originals" in cfg.store_url
    assert cfg.audit.tsa_url == "http://pki:8765/tsa"
    for path in (cfg.tls.cert, cfg.tls.key, cfg.tls.ca, *cfg.trust_dirs):
        assert path.exists(), path
    from signing.devpki import Manifest

    manifest = Manifest.load(pki)
    assert manifest.tsa_url == cfg.audit.tsa_url and manifest.ocsp_url.startswith("http://pki:")
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "./deploy/node.toml:/etc/edoc/node.toml" in compose and "--host pki" in compose


def _k8s_documents() -> list[dict]:
    import yaml

    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_k8s_manifests_parse_and_run_real_edoc_commands(tmp_path: Path) -> None:
    """Every manifest of deploy/k8s is YAML that names a kind; the Deployment's and the
    migration Job's commands are edoc subcommands that exist; the ConfigMap's node.toml, its
    credentials filled in as the init container does, is a valid node configuration. No
    Kubernetes API validates them here (there is no cluster): field names are not checked."""
    pytest.importorskip("yaml")
    docs = _k8s_documents()
    kinds = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "Job", "Secret"} <= kinds.keys()
    assert kinds["Service"]["spec"]["ports"][0]["protocol"] == "TCP"
    pods = [kinds["Deployment"]["spec"]["template"], kinds["Job"]["spec"]["template"]]
    for pod in pods:
        command = pod["spec"]["containers"][0]["command"]
        assert command[0] == "edoc", command
        words = [w for w in command[1:] if not w.startswith("-")][:2]
        r = CliRunner().invoke(app, [*words, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, (command, r.output)
    node_toml = next(d for d in docs if d["kind"] == "ConfigMap" and "node.toml" in d["data"])
    text = node_toml["data"]["node.toml"].replace(
        "${EDOC_DB}", "postgresql+psycopg://edoc:x@postgres:5432/edoc").replace(
        "${EDOC_STORE}", "s3://edoc:x@minio:9000/edoc-originals")
    (tmp_path / "node.toml").write_text(text, encoding="utf-8")
    cfg = load(tmp_path / "node.toml")
    assert cfg.port == 8443 and cfg.worker.lease >= 60


def test_a_config_naming_missing_files_is_one_clear_message(tmp_path: Path) -> None:
    """``edoc node serve --config deploy/node.toml`` on a machine without /var/lib/edoc: exit 1,
    every missing file named with its setting and what to do, no traceback."""
    r = CliRunner().invoke(app, ["node", "serve", "--config", str(ROOT / "deploy" / "node.toml")])
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "Traceback" not in r.output
    for setting in ("tls.cert", "tls.key", "tls.ca", "trust_dirs[0]"):
        assert setting in text, (setting, text)
    assert f"{MOUNT}/entities/node-province/chain.pem" in text and "edoc pki init" in text


def test_the_local_example_node_runs(tmp_path: Path, dev_pki) -> None:
    """deploy/node.local.toml, beside a development PKI as ``edoc pki init`` lays it out,
    starts a node that says where it listens and how many agencies it hosts, and answers."""
    import shutil
    import subprocess
    import sys
    import time

    import httpx

    from api.cluster import free_port
    from exchange_axis.transport import client_context

    shutil.copytree(dev_pki.directory, tmp_path / "certs-dev")
    (tmp_path / "deploy").mkdir()
    port = free_port()
    text = (ROOT / "deploy" / "node.local.toml").read_text(encoding="utf-8")
    assert 'listen = "127.0.0.1:8443"' in text
    config = tmp_path / "deploy" / "node.local.toml"
    config.write_text(text.replace("127.0.0.1:8443", f"127.0.0.1:{port}"), encoding="utf-8")
    cfg = load(config)
    assert cfg.database_url == f"sqlite:///{tmp_path / 'edoc-data' / 'province' / 'node.sqlite'}"
    proc = subprocess.Popen([sys.executable, "-m", "api.cli.main", "node", "serve", "--config",
                             str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        # the first line that is not a library's warning (pyHanko's DSA deprecation, printed as
        # the node imports the validator at start)
        first = proc.stdout.readline()
        for _ in range(10):
            if "Warning" not in first and "import" not in first:
                break
            first = proc.stdout.readline()
        assert f"listening on https://127.0.0.1:{port}" in first and "hosting 1 agencies" in first
        with httpx.Client(verify=client_context(cfg.tls), timeout=5) as client:
            for _ in range(100):
                try:
                    health = client.get(f"https://127.0.0.1:{port}/exchange/v1/health")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            assert health.json()["node"] == "province"
    finally:
        proc.terminate()
        proc.wait(20)
