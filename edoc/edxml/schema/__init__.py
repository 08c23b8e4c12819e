"""The project's XSD for edXML document and status packages, and validation against it.

There is no official XSD; ``edxml.xsd`` is ours, written from the SDK's samples and the
reference. Findings are returned as ``Deviation`` (path, Vietnamese, English) so the codec can
report them in lenient mode or refuse in strict mode.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

from edoc.document import Deviation

XSD_PATH = Path(__file__).with_name("edxml.xsd")


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XSD_PATH), parser))


def validate_tree(root: etree._Element) -> list[Deviation]:
    """XSD findings for an already (safely) parsed package."""
    checker = schema()
    if checker.validate(root):
        return []
    return [Deviation(_path(entry.path) or f"line {entry.line}",
                      f"Không hợp lệ theo lược đồ XSD (dòng {entry.line}): {entry.message}",
                      f"not valid against the XSD (line {entry.line}): {entry.message}")
            for entry in checker.error_log]


def _path(xpath: str | None) -> str | None:
    """libxml2's ``/*/edXML:edXMLEnvelope/edXML:To[2]`` in the codec's ``/edXML/...`` form."""
    if not xpath:
        return None
    parts = [segment.split(":", 1)[-1] for segment in xpath.split("/")[1:]]
    if parts and parts[0] == "*":
        parts[0] = "edXML"
    return "/" + "/".join(parts)


def validate(data: bytes) -> list[Deviation]:
    """XSD findings for package bytes (parsed with the hardened reader first)."""
    from edoc.edxml.limits import DEFAULT_LIMITS
    from edoc.edxml.secure import parse_xml

    return validate_tree(parse_xml(data, DEFAULT_LIMITS))
