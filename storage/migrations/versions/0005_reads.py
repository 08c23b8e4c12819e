"""Indexes of the e-office reads: a document's files by document (the document view).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # without it every document view scans the whole document_files table
    op.create_index("ix_document_files_document_id", "document_files", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_document_files_document_id", "document_files")
