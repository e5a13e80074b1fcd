"""Building the anchor transaction and reading a memo back out of one.

An anchor is one SPL Memo instruction carrying the memo bytes, with the platform keypair as
fee payer and only signer (also listed as the memo's signer account, which the current Memo
program checks). Both chains build it here and read it back here, so the bytes a real
cluster sees are the bytes the in-process VM executes.
"""

from __future__ import annotations

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from services.runtime.errors import InvalidArgument
from services.settlement.domain.reasons import SettlementReason

# SPL Memo v3, the program clusters run today.
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKQ96qLhzMrvwBhgC7AkGM8u6QqtvNp")
# SPL Memo v1, the original program, still deployed on every cluster; the only one LiteSVM
# ships (see chain/litesvm.py).
MEMO_V1_PROGRAM_ID = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")
MEMO_PROGRAMS = frozenset({MEMO_PROGRAM_ID, MEMO_V1_PROGRAM_ID})


def memo_transaction(payer: Keypair, memo: bytes, blockhash: Hash, program: Pubkey = MEMO_PROGRAM_ID) -> VersionedTransaction:
    """A signed transaction whose one instruction writes `memo` with the Memo `program`."""
    if program not in MEMO_PROGRAMS:
        raise ValueError(f"{program} is not an SPL Memo program")
    instruction = Instruction(program, memo, [AccountMeta(payer.pubkey(), is_signer=True, is_writable=False)])
    message = Message.new_with_blockhash([instruction], payer.pubkey(), blockhash)
    return VersionedTransaction(message, [payer])


def transaction_memo(transaction: VersionedTransaction) -> bytes | None:
    """The data of the transaction's first Memo instruction (either program), if it has one."""
    keys = transaction.message.account_keys
    for instruction in transaction.message.instructions:
        if keys[instruction.program_id_index] in MEMO_PROGRAMS:
            return bytes(instruction.data)
    return None


def fee_payer(transaction: VersionedTransaction) -> Pubkey:
    """Who signed and paid: a Solana message lists its fee payer first."""
    return transaction.message.account_keys[0]


def parse_signature(signature: str) -> Signature:
    """A base58 transaction signature, or InvalidArgument naming what is wrong with it."""
    try:
        return Signature.from_string(signature)
    except ValueError as exc:
        raise InvalidArgument(
            SettlementReason.INVALID_ANCHOR_SIGNATURE,
            f"{signature!r} is not a transaction signature (base58 of 64 bytes): {exc}",
            violations=[("anchor_signature", "must be a base58 transaction signature")],
        ) from exc
