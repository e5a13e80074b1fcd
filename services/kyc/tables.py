"""The KYC service's tables (SQLAlchemy Core). The migration in migrations/ creates the same.

Personal data lives only in the `*_enc` columns, as Fernet tokens (PiiCipher); document numbers
only as keyed hashes. `kyc_audit_events` is append-only: nothing in the service updates or
deletes its rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = String(36)  # uuid4 text
ACCOUNT = String(140)  # accounts/{id}

applicants = Table(
    "kyc_applicants", metadata,
    Column("applicant_id", ID, primary_key=True),
    # One applicant per account; this constraint settles concurrent creates.
    Column("account", ACCOUNT, nullable=False),
    Column("state", String(16), nullable=False),
    Column("tier", Integer, nullable=False),
    # The optimistic-lock etag: an update must name the revision it read.
    Column("revision", Integer, nullable=False),
    Column("legal_name_enc", Text, nullable=False),
    Column("date_of_birth_enc", Text, nullable=False),
    Column("country_enc", Text, nullable=False),
    Column("address_enc", Text, nullable=False),
    Column("screening_outcome", String(16)),
    Column("screening_time", DateTime(timezone=True)),
    # Encrypted JSON: a sanctions finding carries the listed name, near-identical to the applicant's.
    Column("screening_findings_enc", Text),
    Column("rejection_reason", Text),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account", name="uq_kyc_applicants_account"),
)

documents = Table(
    "kyc_documents", metadata,
    Column("document_id", ID, primary_key=True),
    Column("applicant_id", ID, ForeignKey("kyc_applicants.applicant_id"), nullable=False, index=True),
    # Submission order within the applicant (0, 1, ...), so documents reload in the order given.
    Column("position", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("issuing_country", String(2), nullable=False),
    Column("number_hash", String(64)),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("submit_time", DateTime(timezone=True), nullable=False),
)

audit_events = Table(
    "kyc_audit_events", metadata,
    Column("applicant_id", ID, ForeignKey("kyc_applicants.applicant_id"), primary_key=True),
    # The applicant revision the event produced: orders the trail and pages it.
    Column("revision", Integer, primary_key=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("reason", Text, nullable=False),
)
