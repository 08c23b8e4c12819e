"""The trust store: roots and intermediates from directories, dev roots only in development."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from signing.devpki import Manifest
from signing.trust import TrustStore, TrustStoreError, load_certificates

pytestmark = pytest.mark.timeout(60)


def test_dev_roots_refused_outside_development(dev_pki: Manifest):
    prod = TrustStore.from_dirs([dev_pki.root.parent], development=False)
    assert prod.empty and len(prod.refused) >= 1
    assert all("development" in why for why in prod.refused)
    dev = TrustStore.from_dirs([dev_pki.root.parent], development=True)
    assert len(dev.roots) == 1 and not dev.refused
    assert len(dev.intermediates) == len(dev_pki.intermediates)


def test_from_certs_refuses_dev_root_too(dev_pki: Manifest):
    root = dev_pki.root.read_bytes()
    assert TrustStore.from_certs([root]).empty
    assert not TrustStore.from_certs([root], development=True).empty


def test_non_dev_root_accepted_in_production(tmp_path):
    key, cert = tmp_path / "k.pem", tmp_path / "roots" / "root.crt"
    cert.parent.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "30",
            "-subj",
            "/CN=RootCA chuyên dùng Chính phủ G2/C=VN",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-utf8",
        ],
        check=True,
        capture_output=True,
    )
    store = TrustStore.from_dirs([cert.parent], development=False)
    assert len(store.roots) == 1 and not store.refused
    # DER in a .cer file works too
    der = tmp_path / "der"
    der.mkdir()
    (der / "root.cer").write_bytes(load_certificates(cert.read_bytes())[0].dump())
    assert len(TrustStore.from_dirs([der]).roots) == 1


def test_fingerprint_tracks_configuration(dev_pki: Manifest, tmp_path):
    a = TrustStore.from_dirs([dev_pki.root.parent], development=True)
    only_root = tmp_path / "r"
    only_root.mkdir()
    shutil.copy(dev_pki.root, only_root / "root.pem")
    b = TrustStore.from_dirs([only_root], development=True)
    assert a.fingerprint() != b.fingerprint()
    assert (
        a.fingerprint()
        == TrustStore.from_dirs([dev_pki.root.parent], development=True).fingerprint()
    )
    assert TrustStore().fingerprint() != TrustStore(development=True).fingerprint()


def test_bad_directory_and_file_are_clear_errors(tmp_path):
    with pytest.raises(TrustStoreError) as err:
        TrustStore.from_dirs([tmp_path / "missing"])
    assert "EDOC_TRUST" in str(err.value) and err.value.message_vi and err.value.message_en
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    with pytest.raises(TrustStoreError) as err:
        TrustStore.from_dirs([tmp_path])
    assert "junk.pem" in err.value.message_en
