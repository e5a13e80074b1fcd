"""A trader as the tests make one through KYC: an applicant, a passport, approved by an
operator at a tier. The requests are built here once; `approve` sends them on a blocking stub,
`approve_async` on a grpc.aio one (the simulation, whose callers carry no metadata, uses the
requests alone)."""

from __future__ import annotations

from clearmesh.kyc.v1 import kyc_pb2
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from google.type import date_pb2

Metadata = tuple[tuple[str, str], ...]


def applicant_request(legal_name: str = "Dana Example") -> kyc_pb.CreateApplicantRequest:
    return kyc_pb.CreateApplicantRequest(applicant=kyc_pb2.Applicant(
        legal_name=legal_name, country="NL", address="1 Canal Street, Amsterdam",
        date_of_birth=date_pb2.Date(year=1990, month=4, day=2)))


def passport_request(applicant: str, number: str) -> kyc_pb.SubmitDocumentRequest:
    """A Dutch passport numbered `number` (unique per applicant where the tests need it)."""
    return kyc_pb.SubmitDocumentRequest(parent=applicant, document=kyc_pb2.Document(
        type=kyc_pb2.DOCUMENT_TYPE_PASSPORT, issuing_country="NL", number=number,
        sha256="ab" * 32, size_bytes=120_000))


def approval_request(applicant: str, tier: int) -> kyc_pb.ReviewApplicantRequest:
    return kyc_pb.ReviewApplicantRequest(name=applicant, decision=kyc_pb.REVIEW_DECISION_APPROVE, tier=tier)


def approve(kyc: kyc_grpc.KycServiceStub, caller: Metadata, operator: Metadata, *, passport: str, tier: int = 1,
            legal_name: str = "Dana Example") -> str:
    """The caller through KYC, approved at `tier` by `operator`; its applicant's name."""
    applicant = kyc.CreateApplicant(applicant_request(legal_name), metadata=caller)
    kyc.SubmitDocument(passport_request(applicant.name, passport), metadata=caller)
    kyc.ReviewApplicant(approval_request(applicant.name, tier), metadata=operator)
    return str(applicant.name)


async def approve_async(kyc: kyc_grpc.KycServiceStub, caller: Metadata, operator: Metadata, *, passport: str,
                        tier: int = 1, legal_name: str = "Dana Example") -> str:
    """`approve` on a grpc.aio stub."""
    applicant = await kyc.CreateApplicant(applicant_request(legal_name), metadata=caller)
    await kyc.SubmitDocument(passport_request(applicant.name, passport), metadata=caller)
    await kyc.ReviewApplicant(approval_request(applicant.name, tier), metadata=operator)
    return str(applicant.name)
