"""Packages as JSON-ready dicts and back: what the CLI prints and what ``edxml build`` reads.

One generic converter driven by the dataclasses' type hints, so a field added to the model shows
up in JSON without touching this file. Dates are ISO (``2019-01-16``), timestamps ISO with
offset, enums their wire values. Attachment bytes are not inlined: JSON carries name, size and
SHA-256, and the files travel beside it (``--extract`` / ``--attach``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import types
import typing
from enum import Enum
from typing import Any

from edoc.document import VIETNAM, Attachment, DocumentPackage
from edoc.edxml.errors import EdxmlError
from edoc.status import StatusMessage

_SKIP = {"order"}


def to_json(package: DocumentPackage | StatusMessage) -> dict[str, Any]:
    out = _dump(package)
    out["kind"] = package.kind
    return out


def _dump(value: Any) -> Any:
    if isinstance(value, Attachment):
        return {"name": value.name, "inner_name": value.inner_name,
                "content_id": value.content_id, "description": value.description,
                "content_type": value.content_type, "media_type": value.media_type,
                "size": len(value.data), "sha256": hashlib.sha256(value.data).hexdigest()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in _SKIP}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    return value


def from_json(data: dict[str, Any], files: dict[str, bytes] | None = None
              ) -> DocumentPackage | StatusMessage:
    """Rebuild a package; attachment bytes come from ``files`` keyed by attachment name."""
    kind = data.get("kind", "status" if "code" in data and "response_for" in data
                    else "document")
    cls = StatusMessage if kind == "status" else DocumentPackage
    body = {k: v for k, v in data.items() if k not in ("kind", "deviations", "signature")}
    attachments = body.pop("attachments", None) if cls is DocumentPackage else None
    try:
        package = _load(cls, body, kind)
    except (TypeError, ValueError, KeyError) as exc:
        raise EdxmlError(f"Dữ liệu JSON của gói tin không hợp lệ: {exc}",
                         f"invalid package JSON: {exc}") from None
    if isinstance(package, DocumentPackage):
        files = dict(files or {})
        for meta in attachments or []:
            name = meta["name"]
            if name not in files:
                raise EdxmlError(f"Thiếu nội dung tệp đính kèm {name}",
                                 f"no content given for attachment {name}")
            package.attachments.append(Attachment(
                name=name, data=files.pop(name), content_id=meta.get("content_id"),
                description=meta.get("description"),
                content_type=meta.get("content_type") or "application/zip",
                inner_name=meta.get("inner_name")))
        for name, content in files.items():  # files given without metadata
            package.attachments.append(Attachment(name=name, data=content, description=name))
    return package


def _load(tp: Any, value: Any, path: str) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _load(options[0], value, path)
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1]
        return [_load(item, v, path) for v in value]
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp) if f.init and f.name not in _SKIP}
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}")
        return tp(**{k: _load(hints[k], v, f"{path}.{k}") for k, v in value.items()})
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if tp is dt.datetime:
        stamp = dt.datetime.fromisoformat(value)
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=VIETNAM)
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    if tp is bool and not isinstance(value, bool):
        raise ValueError(f"{path}: expected true/false")
    if tp in (int, str) and not isinstance(value, tp):
        raise ValueError(f"{path}: expected {tp.__name__}")
    return value
