"""Request bodies of a node's operator API (``/admin/v1/*``), validated before anything runs.

Why a model per route: a body that is not JSON, lacks a field or has one of the wrong type must
be answered 422 with what was wrong (in the one bilingual error shape), never reach the node's
code as a half-read dict and come back as a 500. ``read`` does the parsing and the refusal.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edoc.errors import EdocError

Body = TypeVar("Body", bound=BaseModel)


class BadBody(EdocError):
    """The request body does not fit the route (answered 422)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Org(_Strict):
    organ_id: str = Field(min_length=1)
    name: str | None = None


class Receiver(_Strict):
    organ_id: str = Field(min_length=1)
    type: int = 1


class Replacement(_Strict):
    document_id: str = Field(min_length=1)
    organ_ids: list[str] = []


class BusinessBody(_Strict):
    type: int = Field(ge=0, le=3)
    document_id: str | None = None
    reason: str | None = None
    document_info: int | None = None
    receivers: list[Receiver] | None = None
    replacements: list[Replacement] | None = None


class DocumentBody(_Strict):
    sender: Org
    recipients: list[Org] = Field(min_length=1)
    subject: str = Field(min_length=1)
    document_id: str | None = None
    code: str | None = Field(default=None, pattern=r"^[^/]+/.+$")
    place: str | None = None
    date: dt.date | None = None
    type: int = 1
    type_name: str | None = None
    competence: str | None = None
    position: str | None = None
    signer: str | None = None
    due_date: dt.date | None = None
    priority: int = Field(default=0, ge=0, le=4)
    to_places: list[str] | None = None
    business: BusinessBody | None = None


class FileBody(_Strict):
    name: str = Field(min_length=1)
    data: str  # base64

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"not base64: {exc}") from None
        return value


class IssueBody(_Strict):
    document: DocumentBody
    files: list[FileBody] = []  # an update may correct metadata only

    def as_request(self) -> dict[str, Any]:
        """The JSON form ``Node.issue_request`` reads (dates as ISO text, unset fields out)."""
        return self.model_dump(mode="json", exclude_none=True)


class NumberBody(_Strict):
    agency: str = Field(min_length=1)
    notation: str = Field(min_length=1)
    subject: str | None = None


class TakeBackBody(_Strict):
    document_id: str = Field(min_length=1)
    recipients: list[str] = Field(min_length=1)
    reason: str = "Yêu cầu lấy lại văn bản"


class StatusBody(_Strict):
    document_id: str = Field(min_length=1)
    recipients: list[str] | str
    code: str = Field(pattern=r"^\d{2}$")
    reason: str | None = None
    staff: str | None = None


class RetryBody(_Strict):
    id: int | None = None


def read(model: type[Body], raw: bytes) -> Body:
    """``raw`` parsed as ``model``; a clear ``BadBody`` naming each problem otherwise."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise BadBody(f"Nội dung yêu cầu không hợp lệ ({problems}); xem tài liệu API quản trị",
                      f"invalid request body ({problems}); see the operator API") from None
