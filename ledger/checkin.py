"""QR check-in tokens: short-lived EIP-712 signatures of (event id, not-after) by an event's
signer key, the form in which they travel in a link, and their verification.

The same typed data is checked on chain by ``CommunityProgramme.checkIn``; checking it here first
lets the gateway answer a stale or foreign code with a clear message instead of a revert. The
token names no member: whoever opens the link at the venue checks in as themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.errors import LedgerError

__all__ = [
    "MAX_TOKEN_LIFETIME",
    "CheckInToken",
    "InvalidCheckInToken",
    "parse_token",
    "sign_check_in",
    "token_signer",
]

#: Seconds a token may live (CommunityProgramme.MAX_TOKEN_LIFETIME): the screen renews it.
MAX_TOKEN_LIFETIME = 600
_TOKEN = re.compile(r"^(\d{1,19})\.(\d{1,19})\.0x([0-9a-f]{64})\.0x([0-9a-f]{64})$")


class InvalidCheckInToken(LedgerError):
    """A check-in code that is malformed, expired or not signed by the event's signer."""


@dataclass(frozen=True)
class CheckInToken:
    event_id: int
    not_after: int
    r: bytes
    vs: bytes

    def encode(self) -> str:
        """The token as it goes into the QR link (`/checkin?t=...`)."""
        return f"{self.event_id}.{self.not_after}.0x{self.r.hex()}.0x{self.vs.hex()}"


def _typed(chain_id: int, contract: str, event_id: int, not_after: int) -> dict[str, object]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "CheckIn": [
                {"name": "eventId", "type": "uint256"},
                {"name": "notAfter", "type": "uint64"},
            ],
        },
        "primaryType": "CheckIn",
        "domain": {
            "name": "LoopLedger Community",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": contract,
        },
        "message": {"eventId": event_id, "notAfter": not_after},
    }


def sign_check_in(
    signer: LocalAccount, chain_id: int, contract: str, event_id: int, not_after: int
) -> CheckInToken:
    """Sign a check-in token; the signature is packed as EIP-2098 (r, yParity << 255 | s)."""
    signed = signer.sign_message(
        encode_typed_data(full_message=_typed(chain_id, contract, event_id, not_after))
    )
    vs = ((signed.v - 27) << 255) | signed.s
    return CheckInToken(event_id, not_after, signed.r.to_bytes(32, "big"), vs.to_bytes(32, "big"))


def parse_token(text: str) -> CheckInToken:
    """The token of a QR link; InvalidCheckInToken says what is wrong with a malformed one."""
    match = _TOKEN.match(text.strip().lower())
    if match is None:
        raise InvalidCheckInToken(
            "the check-in code is not a LoopLedger check-in token: scan the QR code shown at the venue again"
        )
    event_id, not_after, r, vs = (int(match[1]), int(match[2]), match[3], match[4])
    # Event ids are 64-bit counters on chain and in the store; notAfter is a uint64.
    if not 1 <= event_id < 2**63 or not_after >= 2**64:
        raise InvalidCheckInToken(
            "the check-in code names no possible event: scan the QR code shown at the venue again"
        )
    return CheckInToken(event_id, not_after, bytes.fromhex(r), bytes.fromhex(vs))


def token_signer(token: CheckInToken, chain_id: int, contract: str, *, now: int) -> str:
    """The address that signed `token`, after checking it is live and short-lived at `now`."""
    if token.not_after < now:
        raise InvalidCheckInToken(
            "the check-in code has expired: scan the QR code on the screen again"
        )
    if token.not_after > now + MAX_TOKEN_LIFETIME:
        raise InvalidCheckInToken(
            f"the check-in code lives longer than {MAX_TOKEN_LIFETIME} s: only codes from the venue's screen are accepted"
        )
    vs = int.from_bytes(token.vs, "big")
    v, s = (vs >> 255) + 27, vs & ((1 << 255) - 1)
    message = encode_typed_data(
        full_message=_typed(chain_id, contract, token.event_id, token.not_after)
    )
    return str(Account.recover_message(message, vrs=(v, int.from_bytes(token.r, "big"), s)))
