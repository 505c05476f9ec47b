"""Who is calling: Sign-In with Ethereum (EIP-4361) sessions and API keys.

Both name an account (an address); what that account may do is read from the chain's roles,
never from the gateway's own tables. Sessions are HMAC tokens, so any gateway process that
shares the secret accepts them; sign-in nonces (single-use) and signed-out sessions are rows of
the SQL store, which every worker shares.

The EIP-4361 message is parsed and checked here rather than with the ``siwe`` package, whose
releases pin web3 < 8. The grammar is the ABNF of https://eips.ethereum.org/EIPS/eip-4361, read
strictly: each field once and in order. Its domain and URI must name the gateway's configured
public origin (``LOOPLEDGER_PUBLIC_ORIGIN``), never what a request's ``Host`` header says.
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
from urllib.parse import urlsplit

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
    "origin_of",
    "parse_siwe",
    "verify_siwe",
]

SESSION_TTL = 8 * 3600
NONCE_TTL = 600
MAX_NONCES = 100_000
CLOCK_SKEW = 300
#: A sign-in message older than this (by its Issued At) is refused: nonces live no longer.
ISSUED_AT_MAX_AGE = NONCE_TTL


class AuthError(Exception):
    """The credentials are missing, malformed, expired or do not match."""


@dataclass(frozen=True)
class SiweMessage:
    scheme: str | None
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
    request_id: str | None = None
    resources: tuple[str, ...] = ()


#: RFC 3986 "reserved" and "unreserved" characters and the space: what a statement may hold.
_STATEMENT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;= ]+")
_HEADER = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://)?(?P<domain>[^\s/?#]+)"
    r" wants you to sign in with your Ethereum account:"
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[!#$&'()*+,/:;=?@\[\]A-Za-z0-9\-._~%]+")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_REQUEST_ID = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@]*")
_FIELD_CHECKS: dict[str, re.Pattern[str]] = {
    "URI": _URI,
    "Version": re.compile(r"1"),
    "Chain ID": re.compile(r"[0-9]{1,20}"),
    "Nonce": re.compile(r"[A-Za-z0-9]{8,}"),
    "Issued At": _DATE_TIME,
    "Expiration Time": _DATE_TIME,
    "Not Before": _DATE_TIME,
    "Request ID": _REQUEST_ID,
}
#: The fields of EIP-4361 in the one order the grammar allows; the first five are required.
_ORDER = (
    "URI",
    "Version",
    "Chain ID",
    "Nonce",
    "Issued At",
    "Expiration Time",
    "Not Before",
    "Request ID",
)
_REQUIRED = 5
#: Longest message accepted (the grammar sets none; this bounds the work of a request).
MAX_MESSAGE = 4_096


def _time(value: str, name: str) -> datetime:
    if not _DATE_TIME.fullmatch(value):
        raise AuthError(f"{name} is not an RFC 3339 date-time with a time zone: {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AuthError(f"{name} is not an RFC 3339 date-time: {value!r}") from exc


def parse_siwe(text: str) -> SiweMessage:
    """Parse an EIP-4361 message by its ABNF (https://eips.ethereum.org/EIPS/eip-4361): each
    line in its place, each field once and in the standard's order, nothing else. Raises
    AuthError naming the first line that breaks the grammar."""
    if len(text) > MAX_MESSAGE:
        raise AuthError(f"the sign-in message is longer than {MAX_MESSAGE} characters")
    lines = text.split("\n")
    header = _HEADER.fullmatch(lines[0])
    if header is None:
        raise AuthError(
            "not an EIP-4361 message: its first line must be '<domain> wants you to sign in with "
            "your Ethereum account:'"
        )
    if len(lines) < 4 or not _ADDRESS.fullmatch(lines[1]) or lines[2] != "":
        raise AuthError("line 2 must be the 0x address and line 3 empty (EIP-4361)")
    if not is_checksum_address(lines[1]):
        raise AuthError("the address must be EIP-55 checksummed")
    at, statement = 3, None
    if lines[3] != "":
        if not _STATEMENT.fullmatch(lines[3]) or len(lines) < 5 or lines[4] != "":
            raise AuthError(
                "line 4 must be the statement (letters, digits, spaces and URI punctuation) "
                "followed by an empty line, or an empty line"
            )
        statement, at = lines[3], 5
    else:
        at = 4
    fields: dict[str, str] = {}
    position = 0
    resources: list[str] | None = None
    for number, line in enumerate(lines[at:], start=at + 1):
        if resources is not None:
            if not line.startswith("- ") or not _URI.fullmatch(line[2:]):
                raise AuthError(
                    f"line {number}: after 'Resources:' only '- <URI>' lines may follow"
                )
            resources.append(line[2:])
            continue
        if line == "Resources:" and position >= _REQUIRED:
            resources = []
            continue
        name, sep, value = line.partition(": ")
        if not sep or name not in _FIELD_CHECKS:
            raise AuthError(f"line {number}: unexpected line {line[:80]!r} in the sign-in message")
        if name in fields:
            raise AuthError(f"line {number}: '{name}' appears twice; each field is given once")
        expected = _ORDER.index(name)
        if expected < position or (expected > position and position < _REQUIRED):
            raise AuthError(
                f"line {number}: '{name}' is out of place; the fields go in the order "
                + ", ".join(_ORDER)
            )
        if not _FIELD_CHECKS[name].fullmatch(value):
            raise AuthError(f"line {number}: '{name}' has an invalid value {value[:80]!r}")
        fields[name] = value
        position = expected + 1
    missing = [name for name in _ORDER[:_REQUIRED] if name not in fields]
    if missing:
        raise AuthError(f"the sign-in message has no '{missing[0]}:' line")
    return SiweMessage(
        scheme=header["scheme"],
        domain=header["domain"],
        address=lines[1],
        statement=statement,
        uri=fields["URI"],
        version=fields["Version"],
        chain_id=int(fields["Chain ID"]),
        nonce=fields["Nonce"],
        issued_at=_time(fields["Issued At"], "Issued At"),
        expiration_time=_time(fields["Expiration Time"], "Expiration Time")
        if "Expiration Time" in fields
        else None,
        not_before=_time(fields["Not Before"], "Not Before") if "Not Before" in fields else None,
        request_id=fields.get("Request ID"),
        resources=tuple(resources or ()),
    )


def origin_of(uri: str) -> str:
    """scheme://host[:port] of a URI, scheme and host lower-cased."""
    parts = urlsplit(uri)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


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
    text: str, signature: str, *, origin: str, chain_id: int, nonces: NonceBook
) -> SiweMessage:
    """Check the message against this gateway's public `origin` (a setting, never a request's
    headers) and chain, and recover its signer; returns the message."""
    message = parse_siwe(text)
    domain = urlsplit(origin).netloc.lower()
    if message.domain.lower() != domain:
        raise AuthError(f"the message is for {message.domain!r}, this gateway is {domain!r}")
    if message.scheme is not None and f"{message.scheme.lower()}://{domain}" != origin:
        raise AuthError(
            f"the message is for {message.scheme}://{message.domain}, this gateway is {origin}"
        )
    if origin_of(message.uri) != origin:
        raise AuthError(f"the message's URI {message.uri!r} is not on this gateway ({origin})")
    if message.chain_id != chain_id:
        raise AuthError(f"the message is for chain {message.chain_id}, this ledger is {chain_id}")
    now = datetime.now(UTC)
    if message.expiration_time is not None and message.expiration_time <= now:
        raise AuthError("the sign-in message has expired: sign a new one")
    if message.not_before is not None and (message.not_before - now).total_seconds() > CLOCK_SKEW:
        raise AuthError("the sign-in message is not valid yet (Not Before)")
    age = (now - message.issued_at).total_seconds()
    if age < -CLOCK_SKEW:
        raise AuthError("Issued At lies in the future: check the device's clock")
    if age > ISSUED_AT_MAX_AGE:
        raise AuthError(
            f"the sign-in message was issued {int(age)} s ago (at most {ISSUED_AT_MAX_AGE} s): sign a new one"
        )
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
        conn.execute(
            insert(store.tables["api_key"]).values(
                key_hash=hash_api_key(key),
                address=to_checksum_address(address),
                label=label[:100],
                created_at=int(time.time()),
                revoked=False,
            )
        )
    return key
