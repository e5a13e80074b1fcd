"""The KYC service's SQL store: persists what the domain's transitions return.

A transition (services.kyc.domain.lifecycle) is stored whole in the caller's transaction: the
applicant row (guarded by its revision), any new documents, and its audit events, which are
only ever inserted. Personal data is encrypted here, on the way in, and decrypted on the way
out; nothing else in the service sees a ciphertext or writes a plaintext.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.kyc import tables
from services.kyc.domain import (
    Applicant,
    ApplicantProfile,
    ApplicantState,
    AuditAction,
    AuditEvent,
    Document,
    DocumentType,
    KycStanding,
    PiiCipher,
    ScreeningFinding,
    ScreeningOutcome,
    ScreeningResult,
    Tier,
    Transition,
)
from services.kyc.domain.reasons import KycReason
from services.runtime.database import stored_utc
from services.runtime.errors import Aborted, AlreadyExists
from services.runtime.padded_in import PaddedIn


# Built once per length of its list (runtime/padded_in.py), executed with its accounts: asked
# before every order, and on SQLite run on the driver (runtime/direct_statements.py).
_A = tables.applicants
_STANDINGS = PaddedIn(lambda names: select(_A.c.account, _A.c.state, _A.c.tier)
                      .where(_A.c.account.in_([bindparam(name) for name, in names])))


class KycStore:
    def __init__(self, cipher: PiiCipher) -> None:
        self._cipher = cipher

    # Reads

    async def applicant(self, session: AsyncSession, applicant_id: str) -> Applicant | None:
        row = (await session.execute(
            select(tables.applicants).where(tables.applicants.c.applicant_id == applicant_id))).first()
        return None if row is None else await self._with_documents(session, row)

    async def applicant_for_account(self, session: AsyncSession, account: str) -> Applicant | None:
        row = (await session.execute(
            select(tables.applicants).where(tables.applicants.c.account == account))).first()
        return None if row is None else await self._with_documents(session, row)

    async def exists(self, session: AsyncSession, applicant_id: str) -> bool:
        found = (await session.execute(
            select(tables.applicants.c.applicant_id).where(tables.applicants.c.applicant_id == applicant_id))).first()
        return found is not None

    async def standings(self, session: AsyncSession | AsyncConnection, accounts: Iterable[str]) -> dict[str, KycStanding]:
        """Each account's state and tier, in one statement; those with no applicant are absent.
        No PII is read, so nothing needs decrypting."""
        asked = sorted(set(accounts))
        if not asked:
            return {}
        statement, params = _STANDINGS.of(asked)
        return {row.account: KycStanding(ApplicantState(row.state), Tier(row.tier))
                for row in (await statement.run(session, params)).rows}

    async def audit_events(self, session: AsyncSession, applicant_id: str, *, after_revision: int,
                           limit: int) -> list[AuditEvent]:
        """The applicant's events in the order they happened, from after `after_revision`."""
        events = tables.audit_events
        rows = (await session.execute(
            select(events).where(events.c.applicant_id == applicant_id, events.c.revision > after_revision)
            .order_by(events.c.revision).limit(limit))).all()
        return [_audit_event(row) for row in rows]

    # Writes

    async def insert(self, session: AsyncSession, created: Transition) -> None:
        """A new applicant. The unique key on the account makes the loser of a race ALREADY_EXISTS."""
        try:
            await session.execute(tables.applicants.insert().values(**self._applicant_values(created.applicant)))
        except IntegrityError:  # the transaction rolls back whole: nothing else is kept
            raise AlreadyExists(KycReason.APPLICANT_ALREADY_EXISTS, "the account already has an applicant") from None
        await self._append(session, created.events)

    async def save(self, session: AsyncSession, before: Applicant, transition: Transition) -> None:
        """The applicant as the transition left it, if nobody changed it since `before` was read."""
        after = transition.applicant
        applicants = tables.applicants
        result = await session.execute(
            update(applicants)
            .where(applicants.c.applicant_id == before.applicant_id, applicants.c.revision == before.revision)
            .values(**self._applicant_values(after)))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Aborted(KycReason.CONCURRENT_MODIFICATION, "the applicant changed meanwhile; retry",
                          metadata={"applicant": f"applicants/{before.applicant_id}"})
        added = after.documents[len(before.documents):]
        if added:
            await session.execute(tables.documents.insert(), [
                _document_values(after.applicant_id, len(before.documents) + offset, document)
                for offset, document in enumerate(added)])
        await self._append(session, transition.events)

    async def _append(self, session: AsyncSession, events: tuple[AuditEvent, ...]) -> None:
        await session.execute(tables.audit_events.insert(), [_audit_values(event) for event in events])

    # Mapping

    def _applicant_values(self, applicant: Applicant) -> dict[str, Any]:
        profile, screening, encrypt = applicant.profile, applicant.screening, self._cipher.encrypt
        return {
            "applicant_id": applicant.applicant_id,
            "account": applicant.account_id,
            "state": applicant.state.value,
            "tier": int(applicant.tier),
            "revision": applicant.revision,
            "legal_name_enc": encrypt(profile.legal_name),
            "date_of_birth_enc": encrypt(profile.date_of_birth.isoformat()),
            "country_enc": encrypt(profile.country),
            "address_enc": encrypt(profile.address),
            "screening_outcome": screening.outcome.value if screening else None,
            "screening_time": screening.screen_time if screening else None,
            "screening_findings_enc": encrypt(_findings_json(screening)) if screening else None,
            "rejection_reason": applicant.rejection_reason,
            "create_time": applicant.create_time,
            "update_time": applicant.update_time,
        }

    async def _with_documents(self, session: AsyncSession, row: Row[Any]) -> Applicant:
        docs = tables.documents
        document_rows = (await session.execute(
            select(docs).where(docs.c.applicant_id == row.applicant_id).order_by(docs.c.position))).all()
        decrypt = self._cipher.decrypt
        profile = ApplicantProfile(
            legal_name=decrypt(row.legal_name_enc),
            date_of_birth=date.fromisoformat(decrypt(row.date_of_birth_enc)),
            country=decrypt(row.country_enc),
            address=decrypt(row.address_enc),
        )
        screening = None
        if row.screening_outcome is not None:
            findings = _findings_from_json(decrypt(row.screening_findings_enc))
            screening = ScreeningResult(ScreeningOutcome(row.screening_outcome), findings,
                                        stored_utc(row.screening_time))
        return Applicant(
            applicant_id=row.applicant_id,
            account_id=row.account,
            state=ApplicantState(row.state),
            profile=profile,
            tier=Tier(row.tier),
            create_time=stored_utc(row.create_time),
            update_time=stored_utc(row.update_time),
            revision=row.revision,
            documents=tuple(_document(document_row) for document_row in document_rows),
            screening=screening,
            rejection_reason=row.rejection_reason,
        )


def _findings_json(screening: ScreeningResult | None) -> str:
    findings = screening.findings if screening else ()
    return json.dumps([
        {"code": f.code, "field": f.field, "entry": f.sanctions_entry_id, "score": f.match_score,
         "matched_name": f.matched_name}
        for f in findings])


def _findings_from_json(text: str) -> tuple[ScreeningFinding, ...]:
    return tuple(
        ScreeningFinding(item["code"], item["field"], sanctions_entry_id=item["entry"],
                         match_score=item["score"], matched_name=item["matched_name"])
        for item in json.loads(text))


def _document_values(applicant_id: str, position: int, document: Document) -> dict[str, Any]:
    return {
        "document_id": document.document_id,
        "applicant_id": applicant_id,
        "position": position,
        "type": document.type.value,
        "issuing_country": document.issuing_country,
        "number_hash": document.number_hash,
        "sha256": document.sha256,
        "size_bytes": document.size_bytes,
        "submit_time": document.submit_time,
    }


def _document(row: Row[Any]) -> Document:
    return Document(
        document_id=row.document_id,
        type=DocumentType(row.type),
        issuing_country=row.issuing_country,
        number_hash=row.number_hash,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        submit_time=stored_utc(row.submit_time),
    )


def _audit_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "applicant_id": event.applicant_id,
        "revision": event.revision,
        "action": event.action.value,
        "actor": event.actor,
        "time": event.time,
        "from_state": event.from_state.value if event.from_state else None,
        "to_state": event.to_state.value,
        "tier": int(event.tier),
        "reason": event.reason,
    }


def _audit_event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        applicant_id=row.applicant_id,
        revision=row.revision,
        action=AuditAction(row.action),
        actor=row.actor,
        time=stored_utc(row.time),
        from_state=ApplicantState(row.from_state) if row.from_state else None,
        to_state=ApplicantState(row.to_state),
        tier=Tier(row.tier),
        reason=row.reason,
    )
