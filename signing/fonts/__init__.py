"""Fonts shipped with edoc (Liberation, SIL OFL 1.1; see LICENSE.txt beside them).

Shipped rather than looked up on the system so that signature appearances, seals and generated
documents render the same Vietnamese diacritics on every machine.
"""

from __future__ import annotations

from pathlib import Path

_DIR = Path(__file__).resolve().parent

_FILES = {
    "serif": "LiberationSerif-Regular.ttf",
    "serif-bold": "LiberationSerif-Bold.ttf",
    "serif-italic": "LiberationSerif-Italic.ttf",
    "serif-bold-italic": "LiberationSerif-BoldItalic.ttf",
    "sans": "LiberationSans-Regular.ttf",
    "sans-bold": "LiberationSans-Bold.ttf",
}

NAMES = tuple(_FILES)


def path(name: str) -> Path:
    """Absolute path of the shipped font called ``name`` (one of :data:`NAMES`)."""
    try:
        return _DIR / _FILES[name]
    except KeyError:
        raise ValueError(
            f"Không có phông chữ '{name}'; chọn một trong {', '.join(NAMES)} "
            f"(no font '{name}'; choose one of {', '.join(NAMES)})"
        ) from None
