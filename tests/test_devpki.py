"""The development PKI: certificate profiles checked by us and by openssl, the manifest, the CLI,
the configuration and the images."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from typer.testing import CliRunner

from api.cli.main import app
from signing.devpki import (
    DEV_POLICY_OID,
    DevPkiError,
    Manifest,
    create,
    is_dev_cert,
    is_dev_root,
)
from signing.devpki.config import DEFAULT_CONFIG, load_config
from tests.devpki_helpers import CONTRACT_IDS, load, load_asn1, openssl

REPO = Path(__file__).resolve().parents[1]


def _ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls)


# --- manifest -------------------------------------------------------------------------------

def test_manifest_lists_every_file_and_each_exists(dev_pki: Manifest) -> None:
    raw = json.loads((dev_pki.directory / "manifest.json").read_text(encoding="utf-8"))
    for key in ("root", "intermediates", "crl", "crl_url", "tsa_url", "ocsp_url", "entities",
                "authorities", "development", "dev_policy_oid"):
        assert key in raw, key
    assert raw["development"] is True and raw["dev_policy_oid"] == DEV_POLICY_OID
    assert {e["id"] for e in raw["entities"]} == CONTRACT_IDS

    listed = set()
    for rel in [raw["root"], *raw["intermediates"], raw["crl"]]:
        listed.add(rel)
    for a in raw["authorities"]:
        listed |= {a["cert"], a["key"], a["crl"]}
    for e in raw["entities"]:
        for key in ("cert", "key", "p12", "chain", "image"):
            if e.get(key):
                listed.add(e[key])
        assert e["role"] in ("official", "agency", "tsa", "ocsp", "node", "revoked", "expired")
        assert e["password"]
    for rel in listed:
        assert not Path(rel).is_absolute() and ".." not in Path(rel).parts, rel
        assert (dev_pki.directory / rel).is_file(), rel
    for e in dev_pki.entities:  # secrets are for the owner only
        assert e.key.stat().st_mode & 0o077 == 0 and e.p12.stat().st_mode & 0o077 == 0
    on_disk = {p.relative_to(dev_pki.directory).as_posix()
               for p in dev_pki.directory.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == listed  # nothing generated is left unlisted
    assert set(map(Path, on_disk)) >= {Path(p).relative_to(dev_pki.directory)
                                       for p in map(str, dev_pki.files())}


def test_manifest_entities_carry_domain_details(dev_pki: Manifest) -> None:
    an = dev_pki.entity("official-h41")
    assert (an.name, an.title, an.agency_code, an.level) == (
        "Nguyễn Văn An", "Chủ tịch", "000.00.00.H41", "province")
    assert an.agency == "Ủy ban nhân dân tỉnh Nghệ An"
    assert an.image and an.image.name == "signature.png"
    seal = dev_pki.entity("agency-d32c5")
    assert (seal.agency_code, seal.level, seal.parent_agency) == (
        "000.05.32.H41", "commune", "Ủy ban nhân dân huyện Nghi Lộc")
    assert seal.image and seal.image.name == "seal.png"
    assert dev_pki.entity("agency-d32").level == "district"
    assert dev_pki.entity("revoked").revoked_at is not None
    assert dev_pki.entity("expired").not_after < datetime.now(UTC)
    for e in dev_pki.entities:
        assert int(e.serial, 16) == e.certificate().serial_number
    with pytest.raises(KeyError, match="no entity"):
        dev_pki.entity("nobody")


def test_manifest_load_errors_are_bilingual(tmp_path: Path) -> None:
    with pytest.raises(DevPkiError) as info:
        Manifest.load(tmp_path)
    assert "edoc pki init" in info.value.message_vi
    assert "no development PKI" in info.value.message_en
    (tmp_path / "manifest.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(DevPkiError, match="corrupt"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 1, "root": "ca/root.pem"}')
    with pytest.raises(DevPkiError, match="missing or bad field"):
        Manifest.load(tmp_path)
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DevPkiError, match="cannot write to"):
        create(tmp_path / "file" / "pki")


# --- openssl accepts the chain ----------------------------------------------------------------

def test_openssl_verifies_every_issued_certificate(dev_pki: Manifest) -> None:
    root, subca = dev_pki.root, dev_pki.intermediates[0]
    openssl("verify", "-CAfile", root, subca)
    for e in dev_pki.entities:
        result = openssl("verify", "-CAfile", root, "-untrusted", subca, e.cert, check=False)
        if e.role == "expired":
            assert result.returncode != 0 and "certificate has expired" in result.stderr
            # ...but it was a good certificate while valid
            at = int((e.not_after - timedelta(days=1)).timestamp())
            openssl("verify", "-attime", str(at), "-CAfile", root, "-untrusted", subca, e.cert)
        else:
            assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), (
                e.id, result.stdout, result.stderr)


def test_openssl_crl_check_rejects_only_the_revoked(dev_pki: Manifest, tmp_path: Path) -> None:
    crl_pem = tmp_path / "subca-crl.pem"
    openssl("crl", "-inform", "DER", "-in", dev_pki.crl, "-out", crl_pem)
    text = openssl("crl", "-in", crl_pem, "-noout", "-text").stdout
    revoked = dev_pki.entity("revoked")
    serials = re.findall(r"Serial Number: ([0-9A-F]+)", text)
    assert [int(s, 16) for s in serials] == [int(revoked.serial, 16)]
    assert "Key Compromise" in text
    # the CRL is signed by the sub-CA
    chain = tmp_path / "chain.pem"
    chain.write_bytes(dev_pki.intermediates[0].read_bytes() + dev_pki.root.read_bytes())
    assert "verify OK" in openssl("crl", "-in", crl_pem, "-CAfile", chain, "-noout").stderr

    def crl_check(cert: Path):
        return openssl("verify", "-crl_check", "-CRLfile", crl_pem, "-CAfile", dev_pki.root,
                       "-untrusted", dev_pki.intermediates[0], cert, check=False)

    bad = crl_check(revoked.cert)
    assert bad.returncode != 0 and "certificate revoked" in bad.stderr
    good = crl_check(dev_pki.entity("official-c1").cert)
    assert good.returncode == 0, good.stderr


# --- profiles ----------------------------------------------------------------------------------

def test_ca_profiles(dev_pki: Manifest) -> None:
    root, subca = load(dev_pki.root), load(dev_pki.intermediates[0])
    for cert, path_len, bits in ((root, 1, 3072), (subca, 0, 2048)):
        bc = _ext(cert, x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_len
        ku = _ext(cert, x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
        assert cert.public_key().key_size == bits
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
        assert "(DEV)" in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert root.subject == root.issuer and subca.issuer == root.subject
    assert (_ext(subca, x509.AuthorityKeyIdentifier).value.key_identifier
            == _ext(root, x509.SubjectKeyIdentifier).value.digest)
    cn = subca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "CA phục vụ các cơ quan Nhà nước (DEV)"


def _leaf_common(dev_pki: Manifest, cert: x509.Certificate) -> None:
    subca = load(dev_pki.intermediates[0])
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert (_ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
            == _ext(subca, x509.SubjectKeyIdentifier).value.digest)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.public_key().key_size >= 2048
    dps = _ext(cert, x509.CRLDistributionPoints).value
    assert [n.value for n in dps[0].full_name] == [dev_pki.crl_url]


def test_personal_certificates(dev_pki: Manifest) -> None:
    people = [e for e in dev_pki.entities if e.role in ("official", "revoked", "expired")]
    assert len(people) == 7
    for e in people:
        cert = load(e.cert)
        _leaf_common(dev_pki, cert)
        ku = _ext(cert, x509.KeyUsage)
        assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
        assert not (ku.value.key_cert_sign or ku.value.key_encipherment)
        subject = cert.subject
        assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == e.name
        assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == e.agency
        assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
        uid = subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
        assert re.fullmatch(r"CCCD:\d{12}", uid) and uid == e.identifier
        aia = {(d.access_method, d.access_location.value)
               for d in _ext(cert, x509.AuthorityInformationAccess).value}
        assert (x509.AuthorityInformationAccessOID.OCSP, dev_pki.ocsp_url) in aia
        assert (x509.AuthorityInformationAccessOID.CA_ISSUERS,
                dev_pki.authority("subca").cert_url) in aia
        # Vietnamese text is UTF8String, as on real tokens
        for rdn in load_asn1(e.cert).subject.chosen:
            for attr in rdn:
                if attr["type"].native in ("common_name", "organization_name", "locality_name"):
                    assert attr["value"].name == "utf8_string"


def test_agency_seal_certificates(dev_pki: Manifest) -> None:
    seals = dev_pki.by_role("agency")
    assert {e.agency_code for e in seals} == {
        "000.00.00.H41", "000.01.00.H41", "000.02.00.H41", "000.00.32.H41", "000.05.32.H41"}
    for e in seals:
        cert = load(e.cert)
        _leaf_common(dev_pki, cert)
        uid = cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
        assert re.fullmatch(r"MNS:\d{7}", uid)
        assert "CCCD" not in cert.subject.rfc4514_string()
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == e.name
        org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        assert org == e.parent_agency.upper()
    h41 = load(dev_pki.entity("agency-h41").cert)
    assert h41.subject.rfc4514_string().startswith("UID=MNS:")


def test_tsa_ocsp_and_node_certificates(dev_pki: Manifest) -> None:
    tsa = load(dev_pki.entity("tsa").cert)
    _leaf_common(dev_pki, tsa)
    eku = _ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]

    responder = load(dev_pki.entity("ocsp").cert)
    _leaf_common(dev_pki, responder)
    assert list(_ext(responder, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    _ext(responder, x509.OCSPNoCheck)

    for node_id in ("node-province", "node-district", "node-hub"):
        cert = load(dev_pki.entity(node_id).cert)
        _leaf_common(dev_pki, cert)
        assert set(_ext(cert, x509.ExtendedKeyUsage).value) == {
            ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        san = _ext(cert, x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        # openssl agrees it is fit for both ends of mutual TLS
        for purpose in ("sslserver", "sslclient"):
            openssl("verify", "-purpose", purpose, "-CAfile", dev_pki.root,
                    "-untrusted", dev_pki.intermediates[0], dev_pki.entity(node_id).cert)
    openssl("verify", "-purpose", "timestampsign", "-CAfile", dev_pki.root,
            "-untrusted", dev_pki.intermediates[0], dev_pki.entity("tsa").cert)


def test_development_marker(dev_pki: Manifest, tmp_path: Path) -> None:
    root, subca = load(dev_pki.root), load(dev_pki.intermediates[0])
    leaf = load(dev_pki.entity("official-h41").cert)
    assert is_dev_root(root) and is_dev_root(subca)
    assert is_dev_root(dev_pki.root.read_bytes())  # PEM bytes
    assert is_dev_root(load_asn1(dev_pki.root))  # asn1crypto
    assert not is_dev_root(leaf) and is_dev_cert(leaf)
    policies = _ext(leaf, x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [DEV_POLICY_OID]

    # a root that is not ours is not flagged
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RootCA chuyên dùng Chính phủ G2")])
    now = datetime.now(UTC)
    other = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(key.public_key()).serial_number(1)
             .not_valid_before(now).not_valid_after(now + timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(key, hashes.SHA256()))
    assert not is_dev_root(other) and not is_dev_cert(other)
    assert not is_dev_root(other.public_bytes(serialization.Encoding.DER))


def test_pkcs12_bundles_open_in_openssl_and_pyhanko(dev_pki: Manifest) -> None:
    from pyhanko.sign.signers import SimpleSigner

    for e in (dev_pki.entity("official-c2"), dev_pki.entity("agency-h41")):
        out = openssl("pkcs12", "-in", e.p12, "-passin", f"pass:{e.password}", "-nokeys").stdout
        assert out.count("BEGIN CERTIFICATE") == 3  # the certificate and the whole chain
        wrong = openssl("pkcs12", "-in", e.p12, "-passin", "pass:wrong", "-noout", check=False)
        assert wrong.returncode != 0
        signer = SimpleSigner.load_pkcs12(str(e.p12), passphrase=e.password.encode())
        assert signer is not None
        assert signer.signing_cert.dump() == load_asn1(e.cert).dump()
        names = {c.subject.native["common_name"] for c in signer.cert_registry}
        assert {"CA phục vụ các cơ quan Nhà nước (DEV)",
                "RootCA chuyên dùng Chính phủ (DEV)"} <= names
        key = serialization.load_pem_private_key(e.key.read_bytes(), None)
        assert key.public_key() == load(e.cert).public_key()


# --- images ------------------------------------------------------------------------------------

def _ink_share(path: Path) -> tuple[float, float, float, float]:
    """(transparent share, blue share, red share of inked pixels, corner alpha max)."""
    image = Image.open(path)
    assert image.mode == "RGBA"
    raw = image.tobytes()
    pixels = [tuple(raw[i:i + 4]) for i in range(0, len(raw), 4)]
    inked = [p for p in pixels if p[3] > 128]
    blue = sum(1 for r, g, b, _ in inked if b > r + 40 and b > g + 40)
    red = sum(1 for r, g, b, _ in inked if r > g + 80 and r > b + 80)
    w, h = image.size
    corners = max(image.getpixel(xy)[3] for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)))
    clear = sum(1 for p in pixels if p[3] == 0) / len(pixels)
    return clear, blue / len(inked), red / len(inked), corners


def test_signature_images_are_blue_on_transparent(dev_pki: Manifest) -> None:
    images = [e.image for e in dev_pki.entities if e.role in ("official", "revoked", "expired")]
    assert len(images) == 7
    for path in images:
        assert Image.open(path).size == (600, 240)
        clear, blue, red, corners = _ink_share(path)
        assert clear > 0.6 and corners == 0
        assert blue > 0.95 and red == 0
    # seeded by the name: different people sign differently
    assert len({p.read_bytes() for p in images}) == len(images)


def test_seal_images_are_red_round_on_transparent(dev_pki: Manifest) -> None:
    for e in dev_pki.by_role("agency"):
        image = Image.open(e.image)
        assert image.size == (500, 500)
        clear, blue, red, corners = _ink_share(e.image)
        assert clear > 0.4 and corners == 0
        assert red > 0.95 and blue == 0
        # the centre (star) is inked, the ring is inked, between them is mostly clear
        assert image.getpixel((250, 250))[3] > 200
        column = [image.getpixel((250, y))[3] for y in range(0, 250)]
        assert column[:10] == [0] * 10  # outside the seal
        assert max(column[10:30]) > 200  # the outer ring
        assert max(column[80:95]) > 200  # the inner ring (radius 0.33)
        assert max(column[100:165]) == 0  # clear between the inner ring and the star


# --- creation rules and the CLI -----------------------------------------------------------------

def _copy_pki(dev_pki: Manifest, target: Path) -> Path:
    """A copy of the session PKI: refusal and failure tests need an existing PKI, not a new one."""
    shutil.copytree(dev_pki.directory, target)
    return target


def test_create_refuses_existing_pki_unless_forced(dev_pki: Manifest, tmp_path: Path) -> None:
    target = _copy_pki(dev_pki, tmp_path / "pki")
    with pytest.raises(DevPkiError) as info:
        create(target, port=9001)
    assert "--force" in info.value.message_vi and "already holds" in info.value.message_en
    assert Manifest.load(target).entity("tsa").serial == dev_pki.entity("tsa").serial
    # a leftover piece (no manifest) also counts: never mix old and new keys
    (target / "manifest.json").unlink()
    with pytest.raises(DevPkiError):
        create(target, port=9001)


def test_failed_create_keeps_the_old_pki(dev_pki: Manifest, tmp_path: Path) -> None:
    target = _copy_pki(dev_pki, tmp_path / "pki")
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'cccd = "040075001234"', 'cccd = "12345"'), encoding="utf-8")
    with pytest.raises(DevPkiError) as info:
        create(target, port=9003, force=True, config=bad)
    assert "cccd" in str(info.value) and "[[officials]] #1" in info.value.message_en
    after = Manifest.load(target)
    assert after.entity("official-h41").serial == dev_pki.entity("official-h41").serial
    assert all(p.exists() for p in after.files())
    with pytest.raises(DevPkiError, match="invalid port"):
        create(tmp_path / "other", port=70000)


def test_cli_init_twice_refuses_unless_force(dev_pki: Manifest, tmp_path: Path) -> None:
    runner = CliRunner()
    target = _copy_pki(dev_pki, tmp_path / "certs")
    root_before = (target / "ca" / "root.pem").read_bytes()

    again = runner.invoke(app, ["pki", "init", "--dir", str(target)])
    assert again.exit_code == 1
    assert "--force" in again.output and "already holds a development PKI" in again.output
    assert (target / "ca" / "root.pem").read_bytes() == root_before

    forced = runner.invoke(app, ["pki", "init", "--dir", str(target), "--port", "9011",
                                 "--force"])
    assert forced.exit_code == 0, forced.output
    assert "official-h41" in forced.output and "http://127.0.0.1:9011/tsa" in forced.output
    assert (target / "ca" / "root.pem").read_bytes() != root_before
    assert Manifest.load(target).ocsp_url == "http://127.0.0.1:9011/ocsp"
    assert not list(target.glob(".pki-staging-*"))


def test_cli_serve_without_pki_explains(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pki", "serve", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "edoc pki init" in result.output


def test_directory_config_is_used(tmp_path: Path) -> None:
    config = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'name = "Nguyễn Văn An"', 'name = "Nguyễn Thị Minh Khai"')
    (tmp_path / "pki.toml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(app, ["pki", "init", "--dir", str(tmp_path), "--port", "9004",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tsa_url"] == "http://127.0.0.1:9004/tsa"
    manifest = Manifest.load(tmp_path)
    assert manifest.to_json() == data
    cert = load(manifest.entity("official-h41").cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Nguyễn Thị Minh Khai")
    assert (tmp_path / "pki.toml").read_text(encoding="utf-8") == config  # left alone


def test_committed_config_defines_the_contract_entities(tmp_path: Path) -> None:
    for path in (REPO / "certs-dev" / "pki.toml", DEFAULT_CONFIG):
        cfg = load_config(path)
        ids = {a.id for a in cfg.agencies} | {o.id for o in cfg.officials} | {
            n.id for n in cfg.nodes} | {"tsa", "ocsp"}
        assert ids == CONTRACT_IDS, path
    broken = tmp_path / "broken.toml"
    broken.write_text("[pki\n", encoding="utf-8")
    with pytest.raises(DevPkiError, match="not valid TOML"):
        load_config(broken)
    shutil.copy(DEFAULT_CONFIG, tmp_path / "dup.toml")
    with (tmp_path / "dup.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[nodes]]\nid = "tsa"\nagency = "000.00.00.H41"\nname = "x"\n')
    with pytest.raises(DevPkiError, match="duplicate entity ids: tsa"):
        load_config(tmp_path / "dup.toml")


def test_node_certificates_do_mutual_tls(dev_pki: Manifest) -> None:
    """Two nodes authenticate each other over TLS with nothing but the dev root as trust."""
    import socket
    import ssl
    import threading

    def context(purpose: ssl.Purpose, entity_id: str) -> ssl.SSLContext:
        ctx = ssl.create_default_context(purpose, cafile=str(dev_pki.root))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        entity = dev_pki.entity(entity_id)
        ctx.load_cert_chain(entity.chain, entity.key)
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    server_ctx = context(ssl.Purpose.CLIENT_AUTH, "node-province")
    client_ctx = context(ssl.Purpose.SERVER_AUTH, "node-hub")
    seen: dict[str, str] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                peer = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
                seen["client"] = peer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                tls.sendall(b"ok")

        for host in ("localhost", "127.0.0.1"):  # both SAN entries
            thread = threading.Thread(target=accept)
            thread.start()
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                    client_ctx.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.recv(2) == b"ok"
                peer = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
                assert peer == dev_pki.entity("node-province").certificate()
            thread.join(timeout=10)
    assert seen["client"] == dev_pki.entity("node-hub").name


def test_cli_issues_a_node_certificate_and_revokes_it(dev_pki: Manifest, tmp_path: Path) -> None:
    """``edoc pki node`` adds a node certificate openssl accepts, with the fingerprint to pin;
    ``edoc pki revoke`` puts its serial on the re-signed CRL, which openssl then enforces."""
    target = _copy_pki(dev_pki, tmp_path / "certs")
    runner = CliRunner()
    issued = runner.invoke(app, ["pki", "node", "node-xa-01", "--dir", str(target)])
    assert issued.exit_code == 0, issued.output
    entity = Manifest.load(target).entity("node-xa-01")
    assert f"serial {entity.serial}" in issued.output and "fingerprint" in issued.output
    assert openssl("verify", "-CAfile", dev_pki.root, "-untrusted", target / "ca" / "subca.pem",
                   entity.cert, check=False).returncode == 0

    revoked = runner.invoke(app, ["pki", "revoke", "node-xa-01", "--dir", str(target)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output, revoked.output
    crl_pem = tmp_path / "crl.pem"
    openssl("crl", "-inform", "DER", "-in", Manifest.load(target).crl, "-out", crl_pem)
    serials = [int(s, 16) for s in re.findall(r"Serial Number: ([0-9A-F]+)",
                                               openssl("crl", "-in", crl_pem, "-noout",
                                                       "-text").stdout)]
    assert int(entity.serial, 16) in serials
    bad = openssl("verify", "-crl_check", "-CRLfile", crl_pem, "-CAfile", dev_pki.root,
                  "-untrusted", target / "ca" / "subca.pem", entity.cert, check=False)
    assert bad.returncode != 0 and "certificate revoked" in bad.stderr

    unknown = runner.invoke(app, ["pki", "revoke", "no-such-node", "--dir", str(target)])
    assert unknown.exit_code == 1 and "no-such-node" in unknown.output
