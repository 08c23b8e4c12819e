"""Node certificates issued into an existing development PKI, and revocations made after it.

``edoc pki init`` makes the PKI in one go; the node TLS tests also need a node certificate that
has expired, one the sub-CA has revoked, and one revoked *while nodes run* (to prove a node picks
up a new CRL without a restart). These functions add such an entity to the manifest, or revoke
one, and re-sign the sub-CA's CRL so that the file on disk, ``edoc pki serve`` (which reloads
the manifest when it changes) and its OCSP responder all agree. The entities of ``pki init`` and
their ids are left as they were.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.devpki import generate
from signing.devpki.crl import Revocation, build_crl, next_number
from signing.devpki.errors import DevPkiError
from signing.devpki.issue import Issuer, Urls, end_entity
from signing.devpki.manifest import Entity, Manifest
from signing.devpki.names import dn

#: validity of an expired node certificate, relative to now: ended over a month ago
EXPIRED_ISSUED = timedelta(days=400)
EXPIRED_ENDED = timedelta(days=35)


def _subca(manifest: Manifest) -> Issuer:
    authority = manifest.authority("subca")
    return Issuer(authority.id, x509.load_pem_x509_certificate(authority.cert.read_bytes()),
                  serialization.load_pem_private_key(authority.key.read_bytes(), None))


def _save(manifest: Manifest, entities: list[Entity]) -> Manifest:
    """Write the manifest with ``entities`` atomically (a server may read it meanwhile)."""
    updated = dataclasses.replace(manifest, entities=entities)
    path = updated.save()
    os.utime(path)  # a new mtime even within the filesystem's timestamp granularity
    return updated


def _write_crl(manifest: Manifest, now: datetime) -> bytes:
    """Re-sign the sub-CA's CRL from the manifest's revocations, numbered after the last one."""
    authority = manifest.authority("subca")
    revoked = [Revocation(int(e.serial, 16), e.revoked_at) for e in manifest.entities
               if e.revoked_at is not None]
    der = build_crl(_subca(manifest), revoked, now, next_number(authority.crl.read_bytes()))
    tmp = authority.crl.with_suffix(".crl.tmp")
    tmp.write_bytes(der)
    tmp.replace(authority.crl)
    return der


def issue_node(directory: Path | str, entity_id: str, *, agency_code: str = "000.00.00.H41",
               name: str | None = None, expired: bool = False) -> Entity:
    """Issue a node TLS certificate (serverAuth + clientAuth, SAN localhost and 127.0.0.1) by
    the sub-CA and add it to the manifest as role ``node``. ``expired``: its validity ended
    :data:`EXPIRED_ENDED` ago, otherwise it is valid like the nodes of ``pki init``."""
    manifest = Manifest.load(directory)
    if any(e.id == entity_id for e in manifest.entities):
        raise DevPkiError(f"Đã có thực thể '{entity_id}' trong PKI phát triển",
                          f"the development PKI already has an entity '{entity_id}'")
    now = datetime.now(UTC).replace(microsecond=0)
    valid = ((now - EXPIRED_ISSUED, now - EXPIRED_ENDED) if expired
             else (now - timedelta(days=1), now + timedelta(days=3 * 365)))
    name = name or f"Nút trao đổi {entity_id}"
    subca = _subca(manifest)
    key = generate._key()
    subject = dn(name, organization="Ủy ban nhân dân tỉnh Nghệ An", locality="Nghệ An")
    cert = end_entity("tls", subject, key.public_key(), subca, Urls(manifest.base_url), *valid)
    folder = manifest.directory / "entities" / entity_id
    folder.mkdir(parents=True)
    chain = [subca.cert, x509.load_pem_x509_certificate(manifest.root.read_bytes())]
    password = secrets.token_urlsafe(12)
    paths = {"cert": folder / "cert.pem", "key": folder / "key.pem",
             "chain": folder / "chain.pem", "p12": folder / "bundle.p12"}
    paths["cert"].write_bytes(generate._pem(cert))
    paths["chain"].write_bytes(b"".join(generate._pem(c) for c in [cert, *chain]))
    generate._write_secret(paths["key"], generate._key_pem(key))
    generate._write_secret(paths["p12"], generate._p12(entity_id, key, cert, chain, password))
    entity = Entity(
        id=entity_id, role="node", agency_code=agency_code, name=name, password=password,
        subject=cert.subject.rfc4514_string(), serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, **paths)
    _save(manifest, [*manifest.entities, entity])
    return entity


def revoke(directory: Path | str, entity_id: str, *, when: datetime | None = None) -> bytes:
    """Revoke an entity's certificate (key compromise) now or at ``when``: the manifest records
    it and the sub-CA's CRL is re-signed listing it. Returns the new DER CRL."""
    manifest = Manifest.load(directory)
    when = (when or datetime.now(UTC)).replace(microsecond=0)
    found = False
    entities = []
    for e in manifest.entities:
        if e.id == entity_id:
            found = True
            e = dataclasses.replace(e, revoked_at=e.revoked_at or when)
        entities.append(e)
    if not found:
        manifest.entity(entity_id)  # raises the manifest's own "no such entity" error
    updated = _save(manifest, entities)
    return _write_crl(updated, datetime.now(UTC).replace(microsecond=0))
