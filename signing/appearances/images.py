"""Signature images (the official's blue signature, the agency's red seal) as PDF image XObjects.

WHY: decoding a PNG and deflating its pixels costs far more than signing; a batch signs
hundreds of documents with the same image, so the encoded streams are computed once per image
file (keyed on path, size and mtime) and only copied into each document.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name

from signing.errors import AppearanceError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class EncodedImage:
    """An image ready to be embedded: Flate-compressed RGB samples plus an optional soft mask
    (the PNG's transparency, which the decree requires for signature and seal images)."""

    width: int
    height: int
    rgb: bytes
    alpha: bytes | None
    digest: str

    @property
    def aspect(self) -> float:
        return self.width / self.height

    def add_to(self, writer) -> generic.IndirectObject:
        """Add the image (and its soft mask) to ``writer``; return the image reference."""
        common = {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(self.width),
            pdf_name("/Height"): generic.NumberObject(self.height),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
        }
        d = generic.DictionaryObject(dict(common))
        d[pdf_name("/ColorSpace")] = pdf_name("/DeviceRGB")
        if self.alpha is not None:
            m = generic.DictionaryObject(dict(common))
            m[pdf_name("/ColorSpace")] = pdf_name("/DeviceGray")
            d[pdf_name("/SMask")] = writer.add_object(
                generic.StreamObject(m, encoded_data=self.alpha)
            )
        return writer.add_object(generic.StreamObject(d, encoded_data=self.rgb))


def _bad_image(what: str, en: str) -> AppearanceError:
    return AppearanceError(
        f"Ảnh chữ ký/con dấu {what}; hãy cung cấp tệp PNG nền trong suốt.",
        f"the signature/seal image {en}; provide a PNG file with a transparent background",
        code="bad_image",
    )


def encode_png(data: bytes) -> EncodedImage:
    """Validate and encode PNG bytes (any PNG mode; transparency kept as a soft mask)."""
    if not data.startswith(PNG_MAGIC):
        raise _bad_image("không phải tệp PNG", "is not a PNG file")
    return _encode_cached(hashlib.sha256(data).hexdigest(), data)


@lru_cache(maxsize=32)
def _encode_cached(digest: str, data: bytes) -> EncodedImage:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgba = im.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise _bad_image("bị hỏng, không đọc được", f"is damaged and cannot be read ({e})") from e
    r, g, b, a = rgba.split()
    rgb = Image.merge("RGB", (r, g, b)).tobytes()
    alpha_raw = a.tobytes()
    alpha = None if a.getextrema() == (255, 255) else zlib.compress(alpha_raw, 6)
    return EncodedImage(rgba.width, rgba.height, zlib.compress(rgb, 6), alpha, digest)


@lru_cache(maxsize=32)
def _load_file(path: str, size: int, mtime_ns: int) -> EncodedImage:
    return encode_png(Path(path).read_bytes())


def load_image(image: str | Path | bytes) -> EncodedImage:
    """Load a signature/seal image from a path or PNG bytes, with a clear error if absent or
    not a PNG. Re-encodes only when the file changed."""
    if isinstance(image, bytes | bytearray):
        return encode_png(bytes(image))
    p = Path(image)
    try:
        st = p.stat()
    except OSError as e:
        raise AppearanceError(
            f"Không tìm thấy tệp ảnh {p}; kiểm tra lại đường dẫn.",
            f"image file {p} not found; check the path",
            code="image_missing",
        ) from e
    if not p.is_file():
        raise AppearanceError(
            f"{p} không phải là tệp ảnh.", f"{p} is not a file", code="image_missing"
        )
    return _load_file(str(p.resolve()), st.st_size, st.st_mtime_ns)
