"""Exchange: deliveries, status events, outbox and inbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("recipient_code", sa.String(13), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("last_status", sa.String(2), nullable=True),
        sa.Column("last_status_at", TZ, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("signature_indication", sa.String(30), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_deliveries_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint(
            "document_id", "recipient_code", name="uq_deliveries_document_id_recipient_code"
        ),
    )
    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("external_document_id", sa.String(100), nullable=True),
        sa.Column("agency_code", sa.String(13), nullable=False),
        sa.Column("status_code", sa.String(2), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("signature_indication", sa.String(30), nullable=True),
        sa.Column("staff", JSON, nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("package_key", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_status_events_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_status_events"),
    )
    op.create_index("ix_status_events_document_id", "status_events", ["document_id"])
    op.create_index(
        "ix_status_events_external_document_id", "status_events", ["external_document_id"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("next_hop", sa.String(300), nullable=False),
        sa.Column("package_key", sa.String(100), nullable=True),
        sa.Column("package_bytes", sa.LargeBinary(), nullable=True),
        sa.Column("package_sha256", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'delivered', 'failed')", name="ck_outbox_state"
        ),
        sa.CheckConstraint(
            "package_key IS NOT NULL OR package_bytes IS NOT NULL", name="ck_outbox_package"
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_outbox_document_id_documents",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_document_id", "outbox", ["document_id"])
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("document_id", sa.String(100), nullable=False),
        sa.Column("package_hash", sa.String(64), nullable=False),
        sa.Column("package_key", sa.String(100), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("outcome", sa.String(2), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("local_document_id", sa.Integer(), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["local_document_id"],
            ["documents.id"],
            name="fk_inbox_local_document_id_documents",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        sa.UniqueConstraint(
            "sender",
            "document_id",
            "package_hash",
            name="uq_inbox_sender_document_id_package_hash",
        ),
    )


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_state_next_attempt_at", table_name="outbox")
    op.drop_index("ix_outbox_document_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_status_events_external_document_id", table_name="status_events")
    op.drop_index("ix_status_events_document_id", table_name="status_events")
    op.drop_table("status_events")
    op.drop_table("deliveries")
