"""edXML (QCVN 102:2016) codec: build and parse document and status packages.

``parse(data)`` reads untrusted bytes (hardened: no DTD, entities or network; bounded size,
depth, attachments and zip inflation) into a ``DocumentPackage`` or a ``StatusMessage``;
``build(package)`` writes the SDK's exact style. Every refusal is an ``EdxmlError``.
"""

from __future__ import annotations

from edoc.document import Deviation, DocumentPackage
from edoc.edxml.errors import EdxmlError
from edoc.edxml.limits import DEFAULT_LIMITS, Limits
from edoc.edxml.reader import read
from edoc.edxml.schema import validate, validate_tree
from edoc.edxml.secure import parse_package, repair
from edoc.edxml.writer import build
from edoc.status import StatusMessage, StatusPackage

__all__ = [
    "DEFAULT_LIMITS",
    "Deviation",
    "DocumentPackage",
    "EdxmlError",
    "Limits",
    "StatusMessage",
    "StatusPackage",
    "build",
    "parse",
    "repair",
    "validate",
]


def parse(data: bytes, *, strict: bool = False, limits: Limits = DEFAULT_LIMITS,
          schema: bool | None = None) -> DocumentPackage | StatusMessage:
    """Read a package. ``strict`` refuses any deviation from the reference (and validates
    against the XSD); lenient mode records deviations on ``package.deviations``. ``schema``
    forces XSD validation on or off (XSD findings are deviations in lenient mode)."""
    root, lifted = parse_package(data, limits)
    package = read(root, strict=strict, limits=limits, lifted=lifted)  # clearer messages first
    findings = validate_tree(root) if (strict if schema is None else schema) else []
    if findings and strict:
        first = findings[0]
        raise EdxmlError(first.message_vi, first.message_en, path=first.path)
    package.deviations.extend(findings)
    return package
