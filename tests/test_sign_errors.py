"""Bad input: each a clear bilingual error naming the problem and the fix, the input untouched
and no partial output — through the library and through ``edoc sign``."""

from __future__ import annotations

import io
import json

import pytest
from pyhanko.pdf_utils.crypt import StandardSecurityHandler
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from typer.testing import CliRunner

from api.cli.main import app
from signing import sign_file, sign_pdf
from signing.appearances import PersonalAppearance, SealAppearance
from signing.errors import AppearanceError, InputError, SignatureOrderError, SigningError
from tests.sign_helpers import signer_for

runner = CliRunner()


def _encrypted(pdf: bytes) -> bytes:
    w = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)))
    w.encrypt = None
    sh = StandardSecurityHandler.build_from_pw("mat-khau", "mat-khau")
    w._assign_security_handler(sh)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def personal_pdf(pki_server, directive) -> bytes:
    e = pki_server.entity("official-h41")
    return sign_pdf(directive, signer_for(pki_server, "official-h41"),
                    appearance=PersonalAppearance(e.image))


def _expect(tmp_path, data: bytes, signer, appearance, exc_type, code):
    src = tmp_path / "in.pdf"
    src.write_bytes(data)
    dst = tmp_path / "out.pdf"
    with pytest.raises(exc_type) as ei:
        sign_file(src, dst, signer, appearance=appearance)
    err = ei.value
    assert err.code == code
    assert err.message_vi and err.message_en and str(err) == f"{err.message_vi} ({err.message_en})"
    assert src.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]  # no output, no temp file
    return err


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: b"PK\x03\x04 this is a zip, not a PDF" * 10, "not_pdf"),
        (lambda d: d[: len(d) // 2], "truncated_pdf"),
        (lambda d: b"", "not_pdf"),
        (lambda d: d[:2000] + b"\n%%EOF\n", "damaged_pdf"),
        (_encrypted, "encrypted_pdf"),
    ],
    ids=["zip", "truncated", "empty", "garbled", "encrypted"],
)
def test_bad_documents(pki_server, directive, tmp_path, mutate, code):
    e = pki_server.entity("official-h41")
    _expect(tmp_path, mutate(directive), signer_for(pki_server, "official-h41"),
            PersonalAppearance(e.image), InputError, code)


def test_seal_without_personal(pki_server, directive, tmp_path):
    a = pki_server.entity("agency-h41")
    err = _expect(tmp_path, directive, signer_for(pki_server, "agency-h41"),
                  SealAppearance(a.image), SignatureOrderError, "seal_without_personal")
    assert "Điều 32" in err.message_vi


def test_already_sealed(pki_server, personal_pdf, tmp_path):
    a = pki_server.entity("agency-h41")
    sealer = signer_for(pki_server, "agency-h41")
    sealed = sign_pdf(personal_pdf, sealer, appearance=SealAppearance(a.image, number="5/CT-UBND"))
    _expect(tmp_path, sealed, sealer, SealAppearance(a.image), SignatureOrderError,
            "already_sealed")


def test_seal_refused_when_personal_broken(pki_server, personal_pdf, tmp_path):
    a = pki_server.entity("agency-h41")
    # tamper with a byte inside the signed range (page content), keep the structure
    i = personal_pdf.index(b"/Producer")
    tampered = personal_pdf[:i] + b"/Producex" + personal_pdf[i + 9:]
    _expect(tmp_path, tampered, signer_for(pki_server, "agency-h41"), SealAppearance(a.image),
            SignatureOrderError, "personal_signature_invalid")


def test_missing_image(pki_server, directive, tmp_path):
    _expect(tmp_path, directive, signer_for(pki_server, "official-h41"),
            PersonalAppearance(tmp_path / "khong-co.png"), AppearanceError, "image_missing")


def test_non_png_image(pki_server, directive, tmp_path):
    jpg = tmp_path.parent / f"{tmp_path.name}-sig.jpg"
    from PIL import Image

    Image.new("RGB", (60, 20), (0, 0, 200)).save(jpg, "JPEG")
    _expect(tmp_path, directive, signer_for(pki_server, "official-h41"),
            PersonalAppearance(jpg), AppearanceError, "bad_image")


def test_damaged_png(pki_server, directive, tmp_path):
    bad = tmp_path.parent / f"{tmp_path.name}-bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    _expect(tmp_path, directive, signer_for(pki_server, "official-h41"),
            PersonalAppearance(bad), AppearanceError, "bad_image")


def test_signer_not_found_on_page(pki_server, directive, tmp_path):
    e = pki_server.entity("official-h41")
    err = _expect(tmp_path, directive, signer_for(pki_server, "official-h41"),
                  PersonalAppearance(e.image, signer_name="Người Không Có"), AppearanceError,
                  "signer_block_not_found")
    assert "--signer-name" in err.message_vi


def test_cli_errors_exit_1_and_keep_input(pki_server, directive, tmp_path):
    e = pki_server.entity("official-h41")
    src = tmp_path / "in.pdf"
    src.write_bytes(directive[:5000])
    dst = tmp_path / "out.pdf"
    r = runner.invoke(app, ["sign", str(src), str(dst), "--p12", str(e.p12), "--password",
                            e.password, "--as", "personal", "--image", str(e.image), "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["error"]["code"] == "truncated_pdf"
    assert not dst.exists() and src.read_bytes() == directive[:5000]
    # wrong password: clear error, no output
    r = runner.invoke(app, ["sign", str(src), str(dst), "--p12", str(e.p12), "--password",
                            "sai", "--image", str(e.image)])
    assert r.exit_code == 1 and "wrong PKCS#12 password" in r.stderr and not dst.exists()
    # seal (agency) without a personal signature, from the CLI
    a = pki_server.entity("agency-h41")
    src.write_bytes(directive)
    r = runner.invoke(app, ["sign", str(src), str(dst), "--p12", str(a.p12), "--password",
                            a.password, "--as", "agency", "--image", str(a.image)])
    assert r.exit_code == 1 and "Điều 32" in r.stderr and not dst.exists()


def test_same_input_and_output_refused(pki_server, directive, tmp_path):
    src = tmp_path / "in.pdf"
    src.write_bytes(directive)
    with pytest.raises(SigningError) as ei:
        sign_file(src, src, signer_for(pki_server, "official-h41"))
    assert ei.value.code == "same_file" and src.read_bytes() == directive


def test_number_without_prepared_fields(pki_server, directive, tmp_path):
    """A personal signature made without the number/date fields: writing a number would break
    it, so the seal refuses --number with the reason; without --number it seals fine."""
    e, a = pki_server.entity("official-h41"), pki_server.entity("agency-h41")
    personal = sign_pdf(directive, signer_for(pki_server, "official-h41"),
                        appearance=PersonalAppearance(e.image, prepare_issue_fields=False))
    err = _expect(tmp_path, personal, signer_for(pki_server, "agency-h41"),
                  SealAppearance(a.image, number="7/CT-UBND"), AppearanceError,
                  "no_issue_fields")
    assert "--number" in err.message_vi
    sealed = sign_pdf(personal, signer_for(pki_server, "agency-h41"),
                      appearance=SealAppearance(a.image))
    assert sealed.startswith(personal)
