"""PII: encrypted at rest, document numbers keyed-hashed, never visible in reprs or logs."""

import logging
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from services.kyc.domain import DocumentNumberHasher, PiiCipher, PiiDecryptionError, SanctionsList, redact

KEY_OLD = Fernet.generate_key()
KEY_NEW = Fernet.generate_key()
NAME = "Rosalind Quibblesworth"
ADDRESS = "77 Hidden Orchard Lane"
BIRTH = "1984-11-23"
DOCUMENT_NUMBER = "XQ7781234"


def pii_fragments() -> list[str]:
    return [NAME, *NAME.split(), ADDRESS, "Hidden Orchard", BIRTH, "1984", "23.11.1984", DOCUMENT_NUMBER]


@pytest.fixture
def exposed(journey):
    """An applicant in review whose name also matches a sanctions entry, so matched names exist."""
    request = replace(journey.adult_input, legal_name=NAME, address=ADDRESS, date_of_birth=BIRTH)
    journey.sanctions = SanctionsList.from_csv(f"entry_id,name,aliases,program\nS-1,{NAME},,P\n")
    return journey.submit(journey.create(request), journey.passport(number=DOCUMENT_NUMBER))


def test_encrypted_pii_round_trips():
    cipher = PiiCipher([KEY_NEW])
    assert cipher.decrypt(cipher.encrypt(NAME)) == NAME


def test_the_ciphertext_does_not_contain_the_plaintext():
    assert NAME not in PiiCipher([KEY_NEW]).encrypt(NAME)


def test_a_rotated_key_list_still_reads_old_tokens():
    old_token = PiiCipher([KEY_OLD]).encrypt(NAME)
    assert PiiCipher([KEY_NEW, KEY_OLD]).decrypt(old_token) == NAME


def test_rotation_rewrites_a_token_under_the_new_key():
    rotated = PiiCipher([KEY_NEW, KEY_OLD]).rotate(PiiCipher([KEY_OLD]).encrypt(NAME))
    assert PiiCipher([KEY_NEW]).decrypt(rotated) == NAME


def test_a_token_from_an_unknown_key_cannot_be_decrypted():
    with pytest.raises(PiiDecryptionError):
        PiiCipher([KEY_NEW]).decrypt(PiiCipher([KEY_OLD]).encrypt(NAME))


def test_keys_are_read_from_a_comma_separated_setting():
    token = PiiCipher([KEY_OLD]).encrypt(NAME)
    assert PiiCipher.from_setting(f"{KEY_NEW.decode()}, {KEY_OLD.decode()}").decrypt(token) == NAME


def test_document_number_hashes_ignore_case_and_separators():
    hasher = DocumentNumberHasher(b"s" * 32)
    assert hasher.hash("xq 778-1234") == hasher.hash(DOCUMENT_NUMBER)


def test_document_number_hashes_depend_on_the_key():
    assert DocumentNumberHasher(b"a" * 32).hash(DOCUMENT_NUMBER) != DocumentNumberHasher(b"b" * 32).hash(DOCUMENT_NUMBER)


def test_a_short_hash_key_is_refused():
    with pytest.raises(ValueError):
        DocumentNumberHasher(b"short")


def test_redact_shows_a_marker_not_the_value():
    assert redact(NAME) == "[REDACTED]"


def test_secrets_are_absent_from_the_cipher_and_hasher_reprs():
    rendered = repr(PiiCipher([KEY_NEW])) + repr(DocumentNumberHasher(b"s" * 32))
    assert KEY_NEW.decode() not in rendered and "s" * 32 not in rendered


def test_an_applicants_str_and_repr_contain_no_pii(exposed):
    rendered = str(exposed.applicant) + repr(exposed.applicant)
    assert exposed.applicant.screening.findings  # the matched name exists and must be hidden too
    assert [fragment for fragment in pii_fragments() if fragment in rendered] == []


def test_audit_events_contain_no_pii(exposed):
    rendered = repr(exposed.events)
    assert [fragment for fragment in pii_fragments() if fragment in rendered] == []


def test_logging_an_applicant_and_its_input_leaks_no_pii(exposed, journey, caplog):
    request = replace(journey.adult_input, legal_name=NAME, address=ADDRESS, date_of_birth=BIRTH)
    with caplog.at_level(logging.INFO):
        logging.getLogger("kyc").info("applicant %s from %s with %s", exposed.applicant, request, journey.passport(number=DOCUMENT_NUMBER))
    assert [fragment for fragment in pii_fragments() if fragment in caplog.text] == []
