"""Issuing the certificates of the development PKI: one function per profile.

Profiles follow RFC 5280 and what Vietnamese validators expect of the official-use PKI: CAs with
critical basicConstraints (pathLen 1 for the root, 0 for the sub-CA) and keyCertSign/cRLSign;
signers with critical digitalSignature + nonRepudiation and pointers to the local OCSP responder,
CA certificate and CRL (AIA, CRL distribution points) so that a validator finds revocation data
on its own; a TSA with the critical timeStamping EKU RFC 3161 requires; an OCSP responder with
OCSPSigning and id-pkix-ocsp-nocheck; TLS node certificates usable as server and client.
Everything is SHA-256 with RSA PKCS#1 v1.5, like real Vietnamese tokens.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from signing.devpki.marker import DEV_POLICY_OID

PROFILES = ("personal", "seal", "tsa", "ocsp", "tls")


@dataclass(frozen=True)
class Urls:
    """Where the local services answer; baked into the certificates at creation time."""

    base: str  # http://127.0.0.1:8765

    @property
    def tsa(self) -> str:
        return f"{self.base}/tsa"

    @property
    def ocsp(self) -> str:
        return f"{self.base}/ocsp"

    def crl(self, ca_id: str) -> str:
        return f"{self.base}/crl/{ca_id}.crl"

    def ca_cert(self, ca_id: str) -> str:
        return f"{self.base}/ca/{ca_id}.crt"


@dataclass(frozen=True)
class Issuer:
    """A CA that signs: its id (file stem and URL path), certificate and key."""

    id: str
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def _dev_policy() -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(DEV_POLICY_OID), None)]
    )


def _base(
    subject: x509.Name,
    issuer_name: x509.Name,
    public_key: rsa.RSAPublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_dev_policy(), critical=False)
    )


def _pointers(
    builder: x509.CertificateBuilder, issuer: Issuer, urls: Urls, *, ocsp: bool
) -> x509.CertificateBuilder:
    """AIA (OCSP + caIssuers) and the CRL distribution point of ``issuer``."""
    access = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(urls.ca_cert(issuer.id)),
        )
    ]
    if ocsp:
        access.insert(0, x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
        ))
    dist = x509.DistributionPoint(
        [x509.UniformResourceIdentifier(urls.crl(issuer.id))], None, None, None
    )
    return (
        builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        .add_extension(x509.CRLDistributionPoints([dist]), critical=False)
    )


def _aki(issuer: Issuer) -> x509.AuthorityKeyIdentifier:
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def root_ca(
    subject: x509.Name, key: rsa.RSAPrivateKey, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """Self-signed root, pathLen 1: it certifies sub-CAs, which certify only end entities."""
    builder = (
        _base(subject, subject, key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
    )
    return builder.sign(key, hashes.SHA256())


def sub_ca(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: Issuer,
    urls: Urls,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """Government sub-CA, pathLen 0; its own status is published on the root's CRL."""
    builder = (
        _base(subject, issuer.cert.subject, key.public_key(), not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(_aki(issuer), critical=False)
    )
    return _pointers(builder, issuer, urls, ocsp=False).sign(issuer.key, hashes.SHA256())


def end_entity(
    profile: str,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer: Issuer,
    urls: Urls,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """An end-entity certificate of one of :data:`PROFILES`."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    builder = (
        _base(subject, issuer.cert.subject, public_key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_aki(issuer), critical=False)
    )
    if profile in ("personal", "seal"):
        builder = builder.add_extension(
            _key_usage(digital_signature=True, content_commitment=True), critical=True
        )
    elif profile == "tsa":
        builder = builder.add_extension(
            _key_usage(digital_signature=True, content_commitment=True), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    elif profile == "ocsp":
        builder = (
            builder.add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                           critical=False)
            .add_extension(x509.OCSPNoCheck(), critical=False)
        )
    else:  # tls
        builder = (
            builder.add_extension(
                _key_usage(digital_signature=True, key_encipherment=True), critical=True
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]),
                critical=False,
            )
        )
    # The OCSP responder is exempt from status checks (nocheck); everyone else points to them.
    builder = _pointers(builder, issuer, urls, ocsp=profile != "ocsp")
    return builder.sign(issuer.key, hashes.SHA256())
