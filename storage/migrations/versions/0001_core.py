"""Core metadata: agencies, documents and their files, signatures, the two registers.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(13), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("parent_code", sa.String(13), nullable=True),
        sa.Column("level", sa.String(20), nullable=True),
        sa.Column("decision20_code", sa.String(50), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("code", name="uq_agencies_code"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("external_id", sa.String(100), nullable=True),
        sa.Column("number", sa.String(20), nullable=True),
        sa.Column("notation", sa.String(50), nullable=True),
        sa.Column("doc_type", sa.String(100), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("issued_place", sa.String(200), nullable=True),
        sa.Column("issued_at", TZ, nullable=True),
        sa.Column("signer_name", sa.String(200), nullable=True),
        sa.Column("signer_position", sa.String(200), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("business_type", sa.Integer(), nullable=False),
        sa.Column("due_date", TZ, nullable=True),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('outgoing', 'incoming')", name="ck_documents_direction"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_documents_agency_id_agencies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    op.create_index("ix_documents_agency_id_state", "documents", ["agency_id", "state"])
    op.create_index("ix_documents_external_id", "documents", ["external_id"])
    op.create_table(
        "document_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("object_key", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint(
            "role IN ('main', 'attachment', 'copy')", name="ck_document_files_role"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_files_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_document_files"),
    )
    op.create_index("ix_document_files_sha256", "document_files", ["sha256"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("field_name", sa.String(200), nullable=True),
        sa.Column("signer_name", sa.String(300), nullable=True),
        sa.Column("signer_agency", sa.String(300), nullable=True),
        sa.Column("signing_time", TZ, nullable=True),
        sa.Column("timestamp_time", TZ, nullable=True),
        sa.Column("level", sa.String(20), nullable=True),
        sa.Column("indication", sa.String(30), nullable=False),
        sa.Column("sub_indication", sa.String(60), nullable=True),
        sa.Column("report", JSON, nullable=False),
        sa.Column("validated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["document_files.id"],
            name="fk_signatures_file_id_document_files",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signatures"),
    )
    op.create_table(
        "register_counters",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "register IN ('outgoing', 'incoming')", name="ck_register_counters_register"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_register_counters_agency_id_agencies"
        ),
        sa.PrimaryKeyConstraint("agency_id", "register", "year", name="pk_register_counters"),
    )
    op.create_table(
        "outgoing_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("notation", sa.String(50), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_outgoing_register_agency_id_agencies"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_outgoing_register_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outgoing_register"),
        sa.UniqueConstraint(
            "agency_id",
            "year",
            "number",
            "notation",
            name="uq_outgoing_register_agency_id_year_number_notation",
        ),
        sa.UniqueConstraint(
            "agency_id", "year", "seq", name="uq_outgoing_register_agency_id_year_seq"
        ),
        sa.UniqueConstraint("document_id", name="uq_outgoing_register_document_id"),
    )
    op.create_table(
        "incoming_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("arrived_at", TZ, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("sender_code", sa.String(13), nullable=True),
        sa.Column("sender_name", sa.String(500), nullable=True),
        sa.Column("original_number", sa.String(80), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_incoming_register_agency_id_agencies"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_incoming_register_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incoming_register"),
        sa.UniqueConstraint(
            "agency_id", "year", "seq", name="uq_incoming_register_agency_id_year_seq"
        ),
        sa.UniqueConstraint("document_id", name="uq_incoming_register_document_id"),
    )


def downgrade() -> None:
    op.drop_table("incoming_register")
    op.drop_table("outgoing_register")
    op.drop_table("register_counters")
    op.drop_table("signatures")
    op.drop_index("ix_document_files_sha256", table_name="document_files")
    op.drop_table("document_files")
    op.drop_index("ix_documents_external_id", table_name="documents")
    op.drop_index("ix_documents_agency_id_state", table_name="documents")
    op.drop_table("documents")
    op.drop_table("agencies")
