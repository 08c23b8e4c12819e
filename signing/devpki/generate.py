"""``create``: make a whole development PKI in a directory, all or nothing.

Everything is built in a staging directory inside DIR and moved into place at the end, the
manifest last, so an interrupted or failed run leaves the previous PKI (or nothing) — never a mix
of old and new keys. Each key is generated once and used for every file that needs it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL.Image import Image as PilImage

from signing.devpki import images
from signing.devpki.config import DEFAULT_CONFIG, PkiConfig, load_config
from signing.devpki.crl import Revocation, build_crl
from signing.devpki.errors import DevPkiError
from signing.devpki.issue import Issuer, Urls, end_entity, root_ca, sub_ca
from signing.devpki.manifest import MANIFEST_NAME, Authority, Entity, Manifest
from signing.devpki.marker import DEV_POLICY_OID
from signing.devpki.names import dn, upper_vi

CONFIG_NAME = "pki.toml"
GENERATED = ("ca", "crl", "entities", MANIFEST_NAME)  # what create writes (and --force replaces)
ROOT_BITS = 3072
KEY_BITS = 2048
P12_KDF_ROUNDS = 10_000  # dev bundles, password stored beside them: speed over cost

# validity windows, relative to the creation time
_CA_BACKDATE = timedelta(days=3 * 365)
_ROOT_LIFE = timedelta(days=20 * 365)
_SUBCA_LIFE = timedelta(days=10 * 365)
_LEAF_BACKDATE = timedelta(days=1)  # tolerate clock skew between machines
_LEAF_LIFE = timedelta(days=3 * 365)
_REVOKED_ISSUED = timedelta(days=30)
_REVOKED_AT = timedelta(days=1)
_EXPIRED_ISSUED = timedelta(days=400)
_EXPIRED_ENDED = timedelta(days=35)


def _key(bits: int = KEY_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _keys(count: int) -> tuple[rsa.RSAPrivateKey, Iterator[rsa.RSAPrivateKey]]:
    """The root key and ``count`` other keys, made in parallel (OpenSSL releases the GIL)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        root = pool.submit(_key, ROOT_BITS)
        others = list(pool.map(lambda _: _key(), range(count)))
        return root.result(), iter(others)


def _write_secret(path: Path, data: bytes) -> None:
    """Private keys and bundles readable by their owner only, even on a shared dev machine."""
    path.touch(mode=0o600)
    path.write_bytes(data)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _p12(name: str, key: rsa.RSAPrivateKey, cert: x509.Certificate,
         cas: list[x509.Certificate], password: str) -> bytes:
    """PKCS#12 with AES-256-CBC/PBKDF2 and an HMAC-SHA256 MAC: read by OpenSSL 3, pyHanko, NSS."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(P12_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, cas, encryption)


@dataclass
class _Builder:
    """Holds what every issued entity needs: the staging dir, the CAs, the URLs and the clock."""

    stage: Path
    subca: Issuer
    chain: list[x509.Certificate]  # sub-CA, root
    urls: Urls
    now: datetime
    keys: Iterator[rsa.RSAPrivateKey]

    def issue(self, *, entity_id: str, role: str, profile: str, subject: x509.Name,
              name: str, agency_code: str | None = None, image: PilImage | None = None,
              image_name: str = "", valid: tuple[datetime, datetime] | None = None,
              revoked_at: datetime | None = None, **details: str | None) -> Entity:
        folder = self.stage / "entities" / entity_id
        folder.mkdir(parents=True)
        key = next(self.keys)
        not_before, not_after = valid or (self.now - _LEAF_BACKDATE, self.now + _LEAF_LIFE)
        cert = end_entity(profile, subject, key.public_key(), self.subca, self.urls,
                          not_before, not_after)
        password = secrets.token_urlsafe(12)
        files = {
            "cert": (folder / "cert.pem", _pem(cert)),
            "key": (folder / "key.pem", _key_pem(key)),
            "chain": (folder / "chain.pem", b"".join(_pem(c) for c in [cert, *self.chain])),
            "p12": (folder / "bundle.p12", _p12(entity_id, key, cert, self.chain, password)),
        }
        for kind, (path, data) in files.items():
            (_write_secret if kind in ("key", "p12") else Path.write_bytes)(path, data)
        image_path = None
        if image is not None:
            image_path = folder / image_name
            images.save_png(image, image_path)
        return Entity(
            id=entity_id, role=role, agency_code=agency_code, name=name,
            cert=files["cert"][0], key=files["key"][0], p12=files["p12"][0],
            chain=files["chain"][0],
            password=password, image=image_path, subject=cert.subject.rfc4514_string(),
            serial=format(cert.serial_number, "x"), not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc, revoked_at=revoked_at, **details,
        )


def _generate(stage: Path, cfg: PkiConfig, host: str, port: int) -> Manifest:
    now = datetime.now(UTC).replace(microsecond=0)
    urls = Urls(f"http://{host}:{port}")
    names = cfg.names
    (stage / "ca").mkdir()
    (stage / "crl").mkdir()

    leaf_count = len(cfg.officials) + len(cfg.agencies) + len(cfg.nodes) + 2  # + TSA, OCSP
    root_key, keys = _keys(leaf_count + 1)  # + the sub-CA
    root_cert = root_ca(dn(names.root_name, organization=names.organization), root_key,
                        now - _CA_BACKDATE, now + _ROOT_LIFE)
    root = Issuer("root", root_cert, root_key)
    subca_key = next(keys)
    subca_cert = sub_ca(dn(names.sub_ca_name, organization=names.organization), subca_key,
                        root, urls, now - _CA_BACKDATE, now + _SUBCA_LIFE)
    subca = Issuer("subca", subca_cert, subca_key)
    b = _Builder(stage, subca, [subca_cert, root_cert], urls, now, keys)

    entities: list[Entity] = []
    for spec in cfg.officials:
        agency = cfg.agency(spec.agency)
        valid, revoked_at = None, None
        if spec.role == "revoked":
            valid = (now - _REVOKED_ISSUED, now + _LEAF_LIFE)
            revoked_at = now - _REVOKED_AT
        elif spec.role == "expired":
            valid = (now - _EXPIRED_ISSUED, now - _EXPIRED_ENDED)
        entities.append(b.issue(
            entity_id=spec.id, role=spec.role, profile="personal", name=spec.name,
            subject=dn(spec.name, organization=agency.name, locality=agency.locality,
                       uid=f"CCCD:{spec.cccd}"),
            agency_code=agency.code, image=images.draw_signature(spec.name),
            image_name="signature.png", valid=valid, revoked_at=revoked_at,
            title=spec.title, agency=agency.name, parent_agency=agency.parent,
            level=agency.level, identifier=f"CCCD:{spec.cccd}",
        ))
    for spec in cfg.agencies:
        entities.append(b.issue(
            entity_id=spec.id, role="agency", profile="seal", name=spec.name,
            subject=dn(spec.name, organization=upper_vi(spec.parent), locality=spec.locality,
                       uid=f"MNS:{spec.mns}"),
            agency_code=spec.code, image=images.draw_seal(spec.name), image_name="seal.png",
            agency=spec.name, parent_agency=spec.parent, level=spec.level,
            identifier=f"MNS:{spec.mns}",
        ))
    for entity_id, role, name in (("tsa", "tsa", names.tsa_name),
                                  ("ocsp", "ocsp", names.ocsp_name)):
        entities.append(b.issue(
            entity_id=entity_id, role=role, profile=role, name=name,
            subject=dn(name, organization=names.organization),
        ))
    for spec in cfg.nodes:
        agency = cfg.agency(spec.agency)
        entities.append(b.issue(
            entity_id=spec.id, role="node", profile="tls", name=spec.name,
            subject=dn(spec.name, organization=agency.name, locality=agency.locality),
            agency_code=agency.code, agency=agency.name, level=agency.level,
        ))

    authorities = []
    for issuer, name, revoked in (
        (root, names.root_name, []),
        (subca, names.sub_ca_name, [
            Revocation(int(e.serial, 16), e.revoked_at) for e in entities if e.revoked_at
        ]),
    ):
        cert_path = stage / "ca" / f"{issuer.id}.pem"
        key_path = stage / "ca" / f"{issuer.id}-key.pem"
        crl_path = stage / "crl" / f"{issuer.id}.crl"
        cert_path.write_bytes(_pem(issuer.cert))
        _write_secret(key_path, _key_pem(issuer.key))
        crl_path.write_bytes(build_crl(issuer, revoked, now, number=1))
        authorities.append(Authority(issuer.id, name, cert_path, key_path, crl_path,
                                     urls.crl(issuer.id), urls.ca_cert(issuer.id)))

    return Manifest(
        directory=stage, root=authorities[0].cert, intermediates=[authorities[1].cert],
        crl=authorities[1].crl, crl_url=authorities[1].crl_url, tsa_url=urls.tsa,
        ocsp_url=urls.ocsp, host=host, port=port, created=now, authorities=authorities,
        entities=entities, development=True, dev_policy_oid=DEV_POLICY_OID,
    )


def has_pki(directory: Path) -> bool:
    return any((Path(directory) / name).exists() for name in GENERATED)


def create(
    directory: Path | str,
    *,
    port: int = 8765,
    host: str = "127.0.0.1",
    force: bool = False,
    config: Path | str | None = None,
) -> Manifest:
    """Create the development PKI in ``directory`` and return its manifest.

    ``port``/``host`` are baked into the certificates (OCSP, CA issuers and CRL URLs) and into
    the manifest's TSA URL: ``serve`` must later run on the same address. The people and agencies
    come from ``config``, else ``directory/pki.toml``, else the packaged default. An existing PKI
    is replaced only with ``force=True``; other files in ``directory`` are left alone.
    """
    directory = Path(directory).resolve()
    if has_pki(directory) and not force:
        raise DevPkiError(
            f"{directory} đã có PKI phát triển; dùng --force (force=True) để tạo lại, "
            "khóa và chứng thư cũ sẽ bị xóa",
            f"{directory} already holds a development PKI; use --force (force=True) to "
            "recreate it, which deletes the old keys and certificates",
        )
    if not 0 < port < 65536:
        raise DevPkiError(f"Cổng {port} không hợp lệ (1-65535)",
                          f"invalid port {port} (1-65535)")
    if config is None:
        config = directory / CONFIG_NAME
        if not config.exists():
            config = DEFAULT_CONFIG
    cfg = load_config(Path(config))

    try:
        directory.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".pki-staging-", dir=directory))
    except OSError as exc:
        raise DevPkiError(
            f"Không ghi được vào {directory}: {exc.strerror}; chọn thư mục khác (--dir)",
            f"cannot write to {directory}: {exc.strerror}; choose another directory (--dir)",
        ) from None
    try:
        _generate(stage, cfg, host, port).save()
        for name in GENERATED:
            old = directory / name
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        for name in GENERATED:  # manifest.json is last: it marks a complete PKI
            (stage / name).rename(directory / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Manifest.load(directory)
