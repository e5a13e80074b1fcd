"""KYC: applicants (PII encrypted), documents (number hashed), the append-only audit trail.

Revision ID: kyc_0001
Revises:
Create Date: 2026-11-21
"""
from alembic import op
import sqlalchemy as sa

revision = "kyc_0001"
down_revision = None
branch_labels = ("kyc",)
depends_on = None

ID = sa.String(36)
ACCOUNT = sa.String(140)


def upgrade() -> None:
    op.create_table(
        "kyc_applicants",
        sa.Column("applicant_id", ID, primary_key=True),
        sa.Column("account", ACCOUNT, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("legal_name_enc", sa.Text, nullable=False),
        sa.Column("date_of_birth_enc", sa.Text, nullable=False),
        sa.Column("country_enc", sa.Text, nullable=False),
        sa.Column("address_enc", sa.Text, nullable=False),
        sa.Column("screening_outcome", sa.String(16)),
        sa.Column("screening_time", sa.DateTime(timezone=True)),
        sa.Column("screening_findings_enc", sa.Text),
        sa.Column("rejection_reason", sa.Text),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account", name="uq_kyc_applicants_account"),
    )
    op.create_table(
        "kyc_documents",
        sa.Column("document_id", ID, primary_key=True),
        sa.Column("applicant_id", ID, sa.ForeignKey("kyc_applicants.applicant_id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("issuing_country", sa.String(2), nullable=False),
        sa.Column("number_hash", sa.String(64)),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("submit_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_kyc_documents_applicant_id", "kyc_documents", ["applicant_id"])
    op.create_table(
        "kyc_audit_events",
        sa.Column("applicant_id", ID, sa.ForeignKey("kyc_applicants.applicant_id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kyc_audit_events")
    op.drop_index("ix_kyc_documents_applicant_id", table_name="kyc_documents")
    op.drop_table("kyc_documents")
    op.drop_table("kyc_applicants")
