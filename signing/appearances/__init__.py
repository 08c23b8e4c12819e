"""The four Decree 30 signature appearances (personal, agency seal, attachment, copy)."""

from signing.appearances.base import Appearance, FieldPlan, SigningJob, iso_vn
from signing.appearances.personal import Box, PersonalAppearance
from signing.appearances.seal import SealAppearance
from signing.appearances.textblock import COPY_FORMS, AttachmentAppearance, CopyAppearance

__all__ = [
    "COPY_FORMS",
    "Appearance",
    "AttachmentAppearance",
    "Box",
    "CopyAppearance",
    "FieldPlan",
    "PersonalAppearance",
    "SealAppearance",
    "SigningJob",
    "iso_vn",
]
