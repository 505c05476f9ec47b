"""Who is calling: Sign-In with Ethereum (EIP-4361) sessions and API keys.

Both name an account (an address); what that account may do is read from the chain's roles,
never from the gateway's own tables. Sessions are HMAC tokens, so any gateway process that
shares the secret accepts them; sign-in nonces (single-use) and signed-out sessions are rows of
the SQL store, which every worker shares.

The EIP-4361 message is parsed and checked here rather than with the ``siwe`` package, whose
releases pin web3 < 8. The format follows https://eips.ethereum.org/EIPS/eip-4361.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address, to_checksum_address
from sqlalchemy import delete, func, insert, select

from ledger.store.db import Store

__all__ = [
    "AuthError",
    "NonceBook",
    "RevokedSessions",
    "SessionSigner",
    "SiweMessage",
    "hash_api_key",
    "issue_api_key",
    "new_api_key",
    "parse_siwe",
    "verify_siwe",
]

SESSION_TTL = 8 * 3600
NONCE_TTL = 600
MAX_NONCES = 100_000
CLOCK_SKEW = 300


class AuthError(Exception):
    """The credentials are missing, malformed, expired or do not match."""


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None
    not_before: datetime | None


_HEADER = re.compile(
    r"^(?P<domain>[^\s/]+) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n\n"
    r"(?:(?P<statement>[^\n]+)\n\n)?"
)
_FIELD = re.compile(r"^(?P<name>[A-Za-z ]+): (?P<value>.*)$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")


def _time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AuthError(f"{name} is not an RFC 3339 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise AuthError(f"{name} needs a time zone (for example a trailing Z): {value!r}")
    return parsed


def parse_siwe(text: str) -> SiweMessage:
    """Parse an EIP-4361 message; raises AuthError naming what is wrong."""
    header = _HEADER.match(text)
    if header is None:
        raise AuthError(
            "not an EIP-4361 message: it must start with '<domain> wants you to sign in with "
            "your Ethereum account:', the address, and a blank line"
        )
    fields: dict[str, str] = {}
    for line in text[header.end() :].split("\n"):
        if line == "Resources:" or line.startswith("- "):
            continue
        match = _FIELD.match(line)
        if match is None:
            raise AuthError(f"unexpected line in the sign-in message: {line!r}")
        fields[match["name"]] = match["value"]
    for required in ("URI", "Version", "Chain ID", "Nonce", "Issued At"):
        if required not in fields:
            raise AuthError(f"the sign-in message has no '{required}:' line")
    if fields["Version"] != "1":
        raise AuthError(f"unsupported message version {fields['Version']!r}: use 1")
    if not _NONCE.match(fields["Nonce"]):
        raise AuthError("the nonce must be at least 8 letters or digits")
    if not is_checksum_address(header["address"]):
        raise AuthError("the address must be EIP-55 checksummed")
    try:
        chain_id = int(fields["Chain ID"])
    except ValueError as exc:
        raise AuthError(f"Chain ID is not a number: {fields['Chain ID']!r}") from exc
    return SiweMessage(
        domain=header["domain"],
        address=header["address"],
        statement=header["statement"],
        uri=fields["URI"],
        version=fields["Version"],
        chain_id=chain_id,
        nonce=fields["Nonce"],
        issued_at=_time(fields["Issued At"], "Issued At"),
        expiration_time=_time(fields["Expiration Time"], "Expiration Time")
        if "Expiration Time" in fields
        else None,
        not_before=_time(fields["Not Before"], "Not Before") if "Not Before" in fields else None,
    )


class NonceBook:
    """Sign-in nonces in the SQL store, so that any gateway worker accepts a nonce another one
    issued. Each is accepted once, within NONCE_TTL; expired ones are dropped as new ones are
    issued, and at most MAX_NONCES may be outstanding (each costs a row until it expires)."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = NONCE_TTL,
        limit: int = MAX_NONCES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = store.tables["signin_nonce"]
        self._engine = store.engine
        self.ttl, self.limit, self.clock = ttl, limit, clock

    def issue(self) -> str:
        """A new nonce; raises AuthError when too many are outstanding."""
        nonce = secrets.token_hex(12)
        now, table = self.clock(), self._table
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c.expires_at <= now))
            pending = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if pending >= self.limit:
                raise AuthError("too many sign-ins are pending: try again in a few minutes")
            conn.execute(insert(table).values(nonce=nonce, expires_at=now + self.ttl))
        return nonce

    def consume(self, nonce: str) -> bool:
        """Spend `nonce`: True once if it was issued and has not expired (atomic across workers)."""
        table = self._table
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(table).where(table.c.nonce == nonce, table.c.expires_at > self.clock())
            )
        return gone.rowcount == 1


class RevokedSessions:
    """Session tokens signed out before they expire, by SHA-256, kept until their expiry (so the
    table holds at most the sessions revoked within SESSION_TTL)."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._table = store.tables["revoked_session"]
        self._engine = store.engine
        self.clock = clock

    def revoke(self, token: str, expires_at: float) -> None:
        table, digest = self._table, hashlib.sha256(token.encode()).hexdigest()
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c.expires_at <= self.clock()))
            if conn.execute(select(table.c.token_hash).where(table.c.token_hash == digest)).first():
                return
            conn.execute(insert(table).values(token_hash=digest, expires_at=expires_at))

    def revoked(self, token: str) -> bool:
        table, digest = self._table, hashlib.sha256(token.encode()).hexdigest()
        with self._engine.connect() as conn:
            found = conn.execute(select(table.c.token_hash).where(table.c.token_hash == digest))
            return found.first() is not None


def verify_siwe(
    text: str, signature: str, *, domain: str, chain_id: int, nonces: NonceBook
) -> SiweMessage:
    """Check the message against this gateway and recover its signer; returns the message."""
    message = parse_siwe(text)
    if message.domain != domain:
        raise AuthError(f"the message is for {message.domain!r}, this gateway is {domain!r}")
    if message.chain_id != chain_id:
        raise AuthError(f"the message is for chain {message.chain_id}, this ledger is {chain_id}")
    now = datetime.now(UTC)
    if message.expiration_time is not None and message.expiration_time <= now:
        raise AuthError("the sign-in message has expired: sign a new one")
    if message.not_before is not None and message.not_before > now:
        raise AuthError("the sign-in message is not valid yet (Not Before)")
    if (message.issued_at - now).total_seconds() > CLOCK_SKEW:
        raise AuthError("Issued At lies in the future: check the device's clock")
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception as exc:  # malformed signatures raise several eth_keys errors
        raise AuthError(f"the signature cannot be read: {exc}") from exc
    if signer != message.address:
        raise AuthError("the signature is not the message's address's")
    # The nonce is spent last, so a rejected attempt does not burn it.
    if not nonces.consume(message.nonce):
        raise AuthError("unknown, used or expired nonce: ask /api/auth/nonce for a new one")
    return message


class SessionSigner:
    """Session tokens: ``v1.<address>.<expiry>.<session id>.<hmac>``; signed-out ones are
    listed in :class:`RevokedSessions`."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret needs at least 32 bytes")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()

    def issue(self, address: str, ttl: int = SESSION_TTL) -> tuple[str, int]:
        expires = int(time.time()) + ttl
        # A random session id: two sign-ins in the same second are two sessions, so signing
        # out of one leaves the other.
        body = f"v1.{address}.{expires}.{secrets.token_hex(8)}"
        return f"{body}.{self._mac(body)}", expires

    def verify(self, token: str) -> str:
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != "v1" or not parts[2].isdigit():
            raise AuthError("malformed session token: sign in again")
        body = ".".join(parts[:4])
        if not hmac.compare_digest(self._mac(body), parts[4]):
            raise AuthError("invalid session token: sign in again")
        if int(parts[2]) <= time.time():
            raise AuthError("the session has expired: sign in again")
        return parts[1]

    @staticmethod
    def expires_at(token: str) -> int:
        """The expiry of a token that `verify` accepted."""
        return int(token.split(".")[2])


def new_api_key() -> str:
    return "ll_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key(store: Store, address: str, label: str) -> str:
    """A new API key for `address`; only its hash is stored, so show the key once."""
    key = new_api_key()
    with store.engine.begin() as conn:
        conn.execute(insert(store.tables["api_key"]).values(
            key_hash=hash_api_key(key), address=to_checksum_address(address), label=label[:100],
            created_at=int(time.time()), revoked=False))  # fmt: skip
    return key
