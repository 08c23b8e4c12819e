"""A SoftHSM2 USB-token stand-in for the tests: a fresh token in its own directory (its own
``SOFTHSM2_CONF``), an RSA key pair generated INSIDE the token, a PKCS#10 request the token signs,
the certificate issued for it by the dev sub-CA and stored on the token with the CA chain (as a
leader's token carries them); optionally an ECDSA P-256 key as well.

python-pkcs11 keeps one initialised library per process, and SoftHSM2 reads its configuration
only in ``C_Initialize``: so the library is re-initialised after the configuration changes, on
entry and on exit, and tests in one session can each have a token of their own.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from asn1crypto import csr, keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, CertificateType, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

from tests.sign_helpers import chain_of, issue_cert

LIB = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN, PIN, SO_PIN, LABEL = "edoc-token", "246810", "13579135", "official"
EC_LABEL = "official-ec"
NAME = "Nguyễn Văn An"


@dataclass
class SoftToken:
    """A running SoftHSM2 token: open it with ``Pkcs11Signer.open(LIB, label, pin, key_label)``."""

    directory: Path
    label: str
    pin: str
    key_label: str
    certificate: asn1_x509.Certificate
    chain: list[asn1_x509.Certificate]


def csr_from_token(priv: Any, pub_der: bytes, name: str) -> x509.CertificateSigningRequest:
    """A PKCS#10 request whose signature the token makes (the key never leaves it)."""
    info = csr.CertificationRequestInfo({
        "version": "v1",
        "subject": asn1_x509.Name.build({"country_name": "VN", "common_name": name}),
        "subject_pk_info": keys.PublicKeyInfo({
            "algorithm": {"algorithm": "rsa"},
            "public_key": keys.RSAPublicKey.load(pub_der),
        }),
        "attributes": [],
    })
    sig = priv.sign(info.dump(), mechanism=Mechanism.SHA256_RSA_PKCS)
    req = csr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": sig,
    })
    return x509.load_der_x509_csr(req.dump())


def _reload_library() -> None:
    """Make SoftHSM2 read ``SOFTHSM2_CONF`` again (python-pkcs11 caches the library)."""
    lib = pkcs11.lib(LIB)
    if lib.initialized:
        lib.reinitialize()


def _store_cert(session: Any, label: str, cert: asn1_x509.Certificate) -> None:
    session.create_object({
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.LABEL: label,
        Attribute.SUBJECT: cert.subject.dump(),
        Attribute.VALUE: cert.dump(),
    })


@contextlib.contextmanager
def softhsm_token(directory: Path, pki: Any, *, label: str = TOKEN, pin: str = PIN,
                  so_pin: str = SO_PIN, key_label: str = LABEL, name: str = NAME,
                  ec_label: str | None = None) -> Iterator[SoftToken]:
    """A fresh token under ``directory`` holding an RSA-2048 key (``key_label``) with its
    certificate from the dev sub-CA of ``pki`` and the CA chain; with ``ec_label``, an ECDSA
    P-256 key and certificate too. ``SOFTHSM2_CONF`` points at it until the block ends."""
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--so-pin", so_pin, "--pin", pin], check=True, capture_output=True)
        _reload_library()
        tok = pkcs11.lib(LIB).get_token(token_label=label)
        chain = chain_of(pki)
        with tok.open(user_pin=pin, rw=True) as s:
            pub, priv = s.generate_keypair(KeyType.RSA, 2048, store=True, label=key_label)
            req = csr_from_token(priv, encode_rsa_public_key(pub), name)
            assert req.is_signature_valid
            cert = issue_cert(pki, req.public_key(), name)
            certs = [(key_label, cert)]
            if ec_label is not None:  # an ECDSA key (certificate straight from its public key)
                params = s.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True)
                ec_pub, _ec_priv = params.generate_keypair(store=True, label=ec_label)
                certs.append((ec_label, issue_cert(pki, serialization.load_der_public_key(
                    encode_ec_public_key(ec_pub)), name)))
            for lab, c in [*certs, *[(f"ca{i}", c) for i, c in enumerate(chain)]]:
                _store_cert(s, lab, c)
        yield SoftToken(directory, label, pin, key_label, cert, chain)
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
        _reload_library()
