"""Where the shared reference material is: ``../shared`` beside the clone (as in CI), or
``EDOC_SHARED`` when it lives elsewhere. One place, so no test guesses a machine's layout."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDOC_SHARED", ROOT.parent / "shared"))
EDXML_SAMPLES = SHARED / "conformance" / "edxml"
PDF_CORPUS = SHARED / "conformance" / "pdf"
