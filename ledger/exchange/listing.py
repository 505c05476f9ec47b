"""Listings are signed by their account (EIP-712), so anyone can check who offered what.

The signed message holds every term of the listing; the store keeps the message's fields, the
signature and the digest. ``recover`` gives back the signer of a stored listing from those alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

__all__ = ["DOMAIN_NAME", "LISTING_TYPE", "ListingTerms", "digest", "recover", "sign", "typed_data"]

DOMAIN_NAME = "LoopLedger Exchange"
LISTING_TYPE = [
    {"name": "pilot", "type": "uint16"},
    {"name": "account", "type": "address"},
    {"name": "side", "type": "string"},
    {"name": "material", "type": "string"},
    {"name": "grams", "type": "uint64"},
    {"name": "lotId", "type": "uint256"},
    {"name": "intervalDays", "type": "uint32"},
    {"name": "neededBy", "type": "uint64"},
    {"name": "reachKm", "type": "uint32"},
    {"name": "siteId", "type": "uint64"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "nonce", "type": "uint64"},
]


@dataclass(frozen=True)
class ListingTerms:
    """The signed terms of a listing (0 stands for "none" in lotId, intervalDays, neededBy, reachKm)."""

    pilot: int
    account: str
    side: Literal["available", "wanted"]
    material: str
    grams: int
    lotId: int
    intervalDays: int
    neededBy: int
    reachKm: int
    siteId: int
    expiresAt: int
    nonce: int


def typed_data(terms: ListingTerms, chain_id: int) -> dict[str, Any]:
    """The EIP-712 document a wallet signs (``eth_signTypedData_v4``)."""
    message = asdict(terms)
    message["account"] = to_checksum_address(terms.account)
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "Listing": LISTING_TYPE,
        },
        "primaryType": "Listing",
        "domain": {"name": DOMAIN_NAME, "version": "1", "chainId": chain_id},
        "message": message,
    }


def digest(terms: ListingTerms, chain_id: int) -> str:
    """The EIP-712 digest of the terms, 0x-hex."""
    signable = encode_typed_data(full_message=typed_data(terms, chain_id))
    return "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()


def sign(terms: ListingTerms, chain_id: int, key: LocalAccount) -> str:
    signed = key.sign_message(encode_typed_data(full_message=typed_data(terms, chain_id)))
    return "0x" + bytes(signed.signature).hex()


def recover(terms: ListingTerms, chain_id: int, signature: str) -> str | None:
    """The address that signed these terms, or None for a malformed signature."""
    try:
        return str(
            Account.recover_message(
                encode_typed_data(full_message=typed_data(terms, chain_id)), signature=signature
            )
        )
    except (ValueError, TypeError):
        return None
