"""B-LT and B-LTA documents validate OFFLINE: the DSS carries the status of every certificate
(signer, sub-CA, TSA) — checked after the TSA/OCSP/CRL server that served the signing is gone.

A module-scoped development PKI of its own is served only while documents are signed
(:meth:`LtPki.serving`); every validation below runs with nothing listening on its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from asn1crypto import crl, pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign._session_scope import run_and_release
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from signing import sign_file, sign_pdf
from signing.appearances import PersonalAppearance, SealAppearance
from signing.devpki import Manifest, create
from signing.devpki.server import make_server
from signing.errors import SigningError
from signing.issuers import clear_cache as clear_issuer_cache
from signing.ltv import REQUIRE_ALL, check_complete, lt_validation_context
from signing.signers.pkcs12 import Pkcs12Signer
from signing.trust import TrustStore
from signing.validation import Indication, Level, clear_caches, verify_pdf
from tests.fixtures.pki import free_port
from tests.sign_helpers import assert_pdfsig_valid

pytestmark = pytest.mark.timeout(180)


@dataclass
class LtPki:
    manifest: Manifest

    @contextlib.contextmanager
    def serving(self) -> Iterator[Manifest]:
        """The PKI's TSA/OCSP/CRL/CA server, running only inside the ``with`` block."""
        server = make_server(self.manifest.directory, self.manifest.host, self.manifest.port)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self.manifest
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)

    def assert_down(self) -> None:
        with pytest.raises(OSError):
            socket.create_connection((self.manifest.host, self.manifest.port), timeout=2).close()


def _signer(pki: Manifest, entity: str, *, without_root: bool = False) -> Pkcs12Signer:
    s = Pkcs12Signer.load(pki.entity(entity).p12, pki.entity(entity).password)
    if without_root:  # like a USB token or CSC credential: leaf and issuing CA only
        s = Pkcs12Signer(s._key, s.certificate, [c for c in s.chain if c.self_signed == "no"])
    return s


def _personal(pki: Manifest, level: str, doc: bytes, **kw) -> bytes:
    return sign_pdf(
        doc, _signer(pki, "official-h41", **kw), level=level, tsa_url=pki.tsa_url,
        appearance=PersonalAppearance(pki.entity("official-h41").image),
    )


def _seal(pki: Manifest, level: str, doc: bytes) -> bytes:
    return sign_pdf(
        doc, _signer(pki, "agency-h41"), level=level, tsa_url=pki.tsa_url,
        appearance=SealAppearance(pki.entity("agency-h41").image, number="15/CT-UBND"),
    )


@pytest.fixture(scope="module")
def lt_pki(tmp_path_factory) -> LtPki:
    return LtPki(create(tmp_path_factory.mktemp("lt-devpki"), port=free_port()))


@pytest.fixture(scope="module")
def lt_docs(lt_pki: LtPki, directive) -> dict:
    """Everything signed while the services ran; afterwards nothing answers any more."""
    clear_issuer_cache()
    docs = {}
    with lt_pki.serving() as pki:
        for level in ("B-LT", "B-LTA"):
            personal = _personal(pki, level, directive)
            docs[f"{level} personal"] = personal
            docs[f"{level} personal+seal"] = _seal(pki, level, personal)
        docs["B-LT token without root"] = _personal(pki, "B-LT", directive, without_root=True)
        # the pre-signing validation data of a signer, for the completeness check below
        signer = _signer(pki, "official-h41")
        vc = lt_validation_context(signer)
        validator = CertificateValidator(signer.signing_cert, validation_context=vc)
        path = asyncio.run(run_and_release(validator.async_validate_usage(set()), vc))
        docs["status"] = SimpleNamespace(
            validation_paths=[path], ocsps_to_embed=list(vc.ocsps), crls_to_embed=list(vc.crls)
        )
    lt_pki.assert_down()
    return docs


@pytest.fixture(scope="module")
def lt_trust(lt_pki: LtPki) -> TrustStore:
    return TrustStore.from_dirs([lt_pki.manifest.root.parent], development=True)


@pytest.fixture(scope="module")
def lt_nss(lt_pki: LtPki, tmp_path_factory) -> Path:
    """An NSS database trusting this PKI's root, for poppler's pdfsig."""
    d = tmp_path_factory.mktemp("lt-nss")
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{d}"], check=True)
    subprocess.run(["certutil", "-A", "-n", "lt-root", "-t", "CT,C,C", "-i",
                    str(lt_pki.manifest.root), "-d", f"sql:{d}"], check=True)
    return d


CASES = {
    "B-LT personal": (Level.B_LT, 1),
    "B-LT personal+seal": (Level.B_LT, 2),
    "B-LTA personal": (Level.B_LTA, 1),
    "B-LTA personal+seal": (Level.B_LTA, 2),
    "B-LT token without root": (Level.B_LT, 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_offline_total_passed_from_embedded_data(lt_docs, lt_pki, lt_trust, case):
    lt_pki.assert_down()
    level, count = CASES[case]
    for mode in ("offline", "online"):  # online: the services are gone, embedded data remains
        clear_caches()
        report = verify_pdf(lt_docs[case], trust=lt_trust, revocation=mode, timeout=1)
        assert report.indication == Indication.TOTAL_PASSED, (
            mode, [(s.field, s.sub_indication, s.warnings) for s in report.signatures])
        assert len(report.signatures) == count
        for sig in report.signatures:
            assert sig.indication is Indication.TOTAL_PASSED and not sig.warnings, sig.summary_en
            assert sig.level is level
            assert sig.revocation.source in ("embedded OCSP", "embedded CRL"), sig.revocation
            assert len(sig.chain) == 3  # leaf, sub-CA, root: the sub-CA's status was checked too


@pytest.mark.parametrize("case", ["B-LTA personal", "B-LTA personal+seal"])
def test_lta_offline_five_years_later(lt_docs, lt_pki, lt_trust, case):
    """Long after every certificate expired and with no service left, the B-LTA still proves
    itself from what it carries."""
    lt_pki.assert_down()
    clear_caches()
    now = verify_pdf(lt_docs[case], trust=lt_trust, revocation="offline")
    ts = max(s.timestamp_time for s in now.signatures)
    later = ts + dt.timedelta(days=365 * 5)
    for entity in ("official-h41", "agency-h41", "tsa"):  # all expired by then
        assert _signer(lt_pki.manifest, entity).certificate.not_valid_after < later
    report = verify_pdf(lt_docs[case], trust=lt_trust, revocation="offline", at=later)
    assert report.indication == Indication.TOTAL_PASSED, [
        (s.field, s.sub_indication, s.warnings, s.errors) for s in report.signatures]
    for sig in report.signatures:
        assert sig.revocation.source in ("embedded OCSP", "embedded CRL")
        assert sig.level is Level.B_LTA


def test_pdfsig_still_valid(lt_docs, lt_pki, lt_nss, tmp_path):
    """poppler's pdfsig (independent verifier) accepts every variant. It ignores the DSS and
    asks the OCSP responder online (NSS), so the services are brought back for it."""
    with lt_pki.serving():
        for case, (level, count) in CASES.items():
            assert_pdfsig_valid(lt_docs[case], lt_nss, tmp_path, count=count,
                                doc_timestamps=count if level is Level.B_LTA else 0)


def _dss(pdf: bytes) -> tuple[list[x509.Certificate], list[bytes], list[bytes]]:
    dss = PdfFileReader(io.BytesIO(pdf)).root["/DSS"]
    certs = [x509.Certificate.load(r.get_object().data) for r in dss.get("/Certs", [])]
    ocsps = [r.get_object().data for r in dss.get("/OCSPs", [])]
    crls = [r.get_object().data for r in dss.get("/CRLs", [])]
    return certs, ocsps, crls


def test_dss_holds_the_root_crl_for_the_sub_ca(lt_docs):
    """The regression itself: the sub-CA's status (the root's CRL) is in the DSS even when
    the signer carried no root."""
    for case in CASES:
        _certs, ocsps, crls = _dss(lt_docs[case])
        issuers = {crl.CertificateList.load(c).issuer.native["common_name"] for c in crls}
        assert "RootCA chuyên dùng Chính phủ (DEV)" in issuers, (case, issuers)
        assert len(ocsps) >= 2  # the signer(s) and the TSA


@pytest.mark.parametrize("case", list(CASES))
def test_pyhanko_validates_from_the_dss_alone(lt_docs, lt_pki, case):
    """Independent check: pyHanko, forbidden to fetch and told to REQUIRE status data for the
    end entity and every intermediate, validates every signature, its time-stamp and every
    document time-stamp from the DSS alone; without the DSS's CRLs it cannot."""
    lt_pki.assert_down()
    root = x509.Certificate.load(pem.unarmor(lt_pki.manifest.root.read_bytes())[2])
    certs, ocsps, crls = _dss(lt_docs[case])

    def context(crl_list):
        return ValidationContext(trust_roots=[root], other_certs=certs, allow_fetching=False,
                                 ocsps=ocsps, crls=crl_list, revinfo_policy=REQUIRE_ALL)

    reader = PdfFileReader(io.BytesIO(lt_docs[case]))
    for sig in reader.embedded_regular_signatures:
        st = validate_pdf_signature(sig, context(crls), ts_validation_context=context(crls))
        assert st.bottom_line and st.trusted and not st.revoked, st.summary()
        assert st.timestamp_validity is not None and st.timestamp_validity.trusted
        bare = validate_pdf_signature(sig, context([]))
        assert not bare.trusted  # the sub-CA's status comes from the embedded root CRL
    for ts in reader.embedded_timestamp_signatures:
        st = validate_pdf_timestamp(ts, context(crls))
        assert st.valid and st.trusted, st.summary()


def test_incomplete_validation_data_is_refused(lt_docs):
    """The completeness check refuses to sign when a certificate's status is missing (here:
    the sub-CA's, the root's CRL taken away) and names the certificate."""
    status = lt_docs["status"]
    check_complete(status)  # complete as collected
    without_crl = SimpleNamespace(**{**vars(status), "crls_to_embed": []})
    with pytest.raises(SigningError) as ei:
        check_complete(without_crl)
    assert ei.value.code == "revinfo_missing"
    assert "CA phục vụ các cơ quan Nhà nước" in str(ei.value)


def test_lt_refused_when_root_crl_unavailable(lt_pki, directive, tmp_path):
    """Signing B-LT while the root's CRL cannot be fetched: refused, saying why, no output."""
    root_crl = lt_pki.manifest.authority("root").crl
    saved = root_crl.read_bytes()
    dst = tmp_path / "out.pdf"
    src = tmp_path / "in.pdf"
    src.write_bytes(directive)
    root_crl.unlink()  # the server answers 500 for /crl/root.crl
    try:
        with lt_pki.serving() as pki, pytest.raises(SigningError) as ei:
            sign_file(src, dst, _signer(pki, "official-h41"), level="B-LT",
                      tsa_url=pki.tsa_url, check_revocation=False)
    finally:
        root_crl.write_bytes(saved)
    assert ei.value.code == "revinfo_missing", ei.value
    assert "CA phục vụ các cơ quan Nhà nước" in str(ei.value)
    assert not dst.exists() and not list(tmp_path.glob(".edoc-*"))


def test_lt_refused_without_a_reachable_root(lt_pki, directive):
    """A token without the root and no caIssuers service answering: B-LT is refused (it could
    not be complete) instead of producing a document that fails offline."""
    clear_issuer_cache()
    lt_pki.assert_down()
    with pytest.raises(SigningError) as ei:
        sign_pdf(directive, _signer(lt_pki.manifest, "official-h41", without_root=True),
                 level="B-LT", tsa_url=lt_pki.manifest.tsa_url, check_revocation=False)
    assert ei.value.code == "chain_incomplete"
    assert "root CA" in ei.value.message_en and "Root CA" in ei.value.message_vi
