"""Hardened XML reading: no DTD, no entities, no network, bounded size, depth and element count.

Packages come from other systems over the axis; a reader that expands entities or follows a DTD
is a door into the server. We refuse any DOCTYPE outright (edXML never needs one), force UTF-8
(so a UTF-16 document cannot hide a DOCTYPE from the byte check), bound the tree size before
parsing and check depth, elements and attachments on the tree.
"""

from __future__ import annotations

import re

from lxml import etree

from edoc.edxml.errors import EdxmlError
from edoc.edxml.lift import lift, verify
from edoc.edxml.limits import Limits

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
_ATTACHMENT = f"{{{NS}}}Attachment"
_BOM = b"\xef\xbb\xbf"


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=True,  # large base64 text nodes; DTDs are refused before this is reached
    remove_blank_text=False,
    collect_ids=False,
    encoding="utf-8",
)
_BLANK = re.compile(rb"\s*\Z")


def parse_xml(data: bytes, limits: Limits) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise EdxmlError with line/column.

    Memory is bounded before libxml2 sees the bytes: every element needs a '<', so counting
    them (memchr speed) caps the tree size; depth, element and attachment counts are then
    checked exactly on the tree."""
    return _parse(_admit(data, limits), limits, lifting=False)[0]


def parse_package(data: bytes, limits: Limits,
                  ) -> tuple[etree._Element, dict[str, memoryview]]:
    """``parse_xml`` for the codec: attachment payloads are lifted out before parsing (see
    ``edoc.edxml.lift``) and returned as checked base64 views of ``data``, keyed by the
    placeholder that stands for them as their element's text."""
    return _parse(_admit(data, limits), limits, lifting=True)


def _admit(data: bytes, limits: Limits) -> bytes:
    """The checks made on the raw bytes before any parsing."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EdxmlError("Dữ liệu gói tin phải là bytes", "package data must be bytes")
    data = bytes(data)
    if len(data) > limits.max_package_bytes:
        raise EdxmlError(
            f"Gói tin quá lớn ({len(data)} byte, tối đa {limits.max_package_bytes})",
            f"package too large ({len(data)} bytes, limit {limits.max_package_bytes})",
        )
    if _BLANK.match(data):
        raise EdxmlError("Gói tin rỗng", "empty package", line=1, column=1)
    _refuse_dtd(data)
    return data


def _parse(data: bytes, limits: Limits, *, lifting: bool,
           ) -> tuple[etree._Element, dict[str, memoryview]]:
    """Tree (and lifted payloads). Whenever lifting cannot be trusted, or the lifted text is
    malformed, the original bytes are parsed instead: the same tree, the original's errors."""
    source, lifted = lift(data, 2 * limits.max_attachments + 2) if lifting else (data, {})
    # lifted runs hold no '<', so counting in the (smaller) lifted text is the same count
    bound = 2 * limits.max_elements + 16
    if len(source) > bound and source.count(b"<") > bound:
        raise EdxmlError(
            f"Gói tin bị từ chối: số phần tử vượt quá {limits.max_elements}",
            f"package refused: element count exceeds {limits.max_elements}")
    try:
        root = etree.fromstring(source, _PARSER)
    except etree.XMLSyntaxError as exc:
        if lifted:  # report the original's line and column
            return _parse(data, limits, lifting=False)
        raise _syntax_error(exc, data) from None
    if lifted and not verify(root, lifted):
        return _parse(data, limits, lifting=False)
    if root.getroottree().docinfo.doctype:  # belt and braces after the byte check
        raise _dtd_error()
    _check_shape(root, limits)
    return root, lifted


def _check_shape(root: etree._Element, limits: Limits) -> None:
    depth = elements = attachments = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        elements += 1
        if depth > limits.max_depth:
            raise _limit(element, "độ sâu phần tử vượt quá", "element depth exceeds",
                         limits.max_depth)
        if elements > limits.max_elements:
            raise _limit(element, "số phần tử vượt quá", "element count exceeds",
                         limits.max_elements)
        if element.tag == _ATTACHMENT:
            attachments += 1
            if attachments > limits.max_attachments:
                raise _limit(element, "số tệp đính kèm vượt quá", "attachment count exceeds",
                             limits.max_attachments)


def _limit(element: etree._Element, vi: str, en: str, limit: int) -> EdxmlError:
    return EdxmlError(f"Gói tin bị từ chối: {vi} {limit}", f"package refused: {en} {limit}",
                      path=element_path(element), line=element.sourceline)


def _refuse_dtd(data: bytes) -> None:
    # A DOCTYPE must come before the root element; look in the prolog only (fast on big files).
    root_start = _ROOT_START.search(data)
    head = data[: root_start.start() if root_start else len(data)]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head or b"<!doctype" in head:
        raise _dtd_error()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise EdxmlError("Gói tin phải mã hóa UTF-8 (gặp UTF-16)",
                         "package must be UTF-8 encoded (found UTF-16)", line=1, column=1)


_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _dtd_error() -> EdxmlError:
    return EdxmlError(
        "Gói tin chứa khai báo DOCTYPE/ENTITY; edXML không cho phép DTD (nguy cơ XXE)",
        "package contains a DOCTYPE/ENTITY declaration; edXML allows no DTD (XXE risk)",
        line=1,
    )


def _syntax_error(exc: etree.XMLSyntaxError, data: bytes) -> EdxmlError:
    line, column = exc.lineno, exc.offset
    entry = exc.error_log.last_error if exc.error_log else None
    if entry is not None:
        line, column = entry.line, entry.column
    message = (entry.message if entry is not None else str(exc)).strip()
    hint_vi = hint_en = ""
    if leading_garbage(data):
        hint_vi = ("; có byte lạ trước khai báo XML, có thể sửa bằng edoc.edxml.repair() "
                   "(CLI: --repair)")
        hint_en = ("; stray bytes precede the XML declaration, edoc.edxml.repair() "
                   "(CLI: --repair) can strip them")
    return EdxmlError(
        f"Gói tin không phải XML hợp lệ tại dòng {line}, cột {column}: {message}{hint_vi}",
        f"package is not well-formed XML at line {line}, column {column}: {message}{hint_en}",
        line=line, column=column,
    )


_DECL = re.compile(rb"<\?xml[\s?]")


def leading_garbage(data: bytes) -> bytes:
    """Bytes before the XML declaration (or the first '<' if there is none), if any."""
    body = data[3:] if data.startswith(_BOM) else data
    found = _DECL.search(body, 0, 1024)
    index = found.start() if found else body.find(b"<", 0, 1024)
    if index <= 0:
        return b""
    return body[:index]


def repair(data: bytes) -> tuple[bytes, list[str]]:
    """Strip what some senders put before the XML declaration; returns the bytes and what was
    done (empty list: nothing to repair). The repaired package is then parsed normally."""
    garbage = leading_garbage(data)
    if not garbage or garbage.strip(b" \t\r\n") and b"<" in garbage:
        return data, []
    body = data[3:] if data.startswith(_BOM) else data
    return body[len(garbage):], [f"removed {len(garbage)} stray leading bytes {garbage[:16]!r}"]


def element_path(element: etree._Element) -> str:
    """``/edXML/edXMLEnvelope/...`` with 1-based indexes for repeated siblings."""
    parts = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname if isinstance(node.tag, str) else "?"
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))
