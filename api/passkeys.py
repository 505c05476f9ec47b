"""Passkeys (WebAuthn) for people: pilot staff issue a one-time enrolment code for a custodial
account, the person registers a passkey with it, and later signs in with the passkey to a page
session held in an HttpOnly cookie. API keys stay for applications.

Everything lives in SQL (enrolment codes, credentials, challenges, sessions), so any gateway
process over the same store accepts what another issued; codes, challenges and session tokens
are stored as SHA-256 only. The ceremonies follow W3C Web Authentication Level 2
(https://www.w3.org/TR/webauthn-2/), checked by the ``webauthn`` package (py_webauthn).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from eth_utils import to_checksum_address
from sqlalchemy import delete, insert, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ledger.store.db import Store

__all__ = ["PasskeyError", "PasskeyInfo", "PasskeyService", "cookie_secure", "normalise_code"]

#: An enrolment code is handed over in person; a week leaves time to register at home.
CODE_TTL = 7 * 24 * 3600
#: A ceremony's challenge must be answered within this time (WebAuthn's default timeout is 5 min).
CHALLENGE_TTL = 300
#: A page session lasts a working day.
SESSION_TTL = 8 * 3600
#: Enrolment codes: 12 letters and digits without look-alikes (0/O, 1/I/L), about 60 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: What py_webauthn raises on a response it cannot verify: its own errors, and plain
#: TypeError / KeyError / ValueError when the CBOR or JSON inside is not shaped as expected.
REFUSED = (WebAuthnException, AttributeError, TypeError, KeyError, ValueError)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, WebAuthnException) else "the response is malformed"


class PasskeyError(Exception):
    """The code, credential, challenge or session is unknown, used, expired or revoked."""


@dataclass(frozen=True)
class PasskeyInfo:
    credential_id: str
    label: str
    created_at: int
    last_used_at: int | None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """Codes are typed by people: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


def cookie_secure(origin: str) -> bool:
    """Secure cookies everywhere but on http://localhost, where browsers allow plain HTTP."""
    parts = urlsplit(origin)
    return not (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"))


def _challenge_of(credential: dict[str, Any]) -> str:
    """The challenge the browser signed, read from the credential's clientDataJSON."""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        return str(client_data["challenge"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise PasskeyError("the passkey response is malformed: try again") from exc


class PasskeyService:
    def __init__(self, store: Store, origin: str, rp_name: str = "LoopLedger") -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the public origin must be http(s)://host[:port], not {origin!r}")
        self.store = store
        self.origin = origin.rstrip("/")
        self.rp_id = parts.hostname
        self.rp_name = rp_name
        self.t = store.tables

    # ---- enrolment codes -----------------------------------------------------------------------

    def issue_code(self, address: str, pilot_id: int, issued_by: str, ttl: int = CODE_TTL) -> str:
        """A new one-time code for `address`; only its hash is stored, so show it once.
        `issued_by`: the staff member's address, or "cli" for the operator's command line."""
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
        now = int(time.time())
        with self.store.engine.begin() as conn:
            conn.execute(
                insert(self.t["enrolment_code"]).values(
                    code_hash=_hash(raw),
                    address=to_checksum_address(address),
                    pilot_id=pilot_id,
                    issued_by=issued_by,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return "-".join(raw[i : i + 4] for i in range(0, 12, 4))

    def _code(self, code: str, now: int) -> Any:
        code_hash = _hash(normalise_code(code))
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(
                    select(self.t["enrolment_code"]).where(
                        self.t["enrolment_code"].c.code_hash == code_hash
                    )
                )
                .mappings()
                .first()
            )
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            raise PasskeyError(
                "this enrolment code is unknown, used or expired: ask the pilot staff for a new one"
            )
        return row

    def _challenge(self, purpose: str, code_hash: str | None = None) -> bytes:
        challenge = secrets.token_bytes(32)
        now = int(time.time())
        table = self.t["passkey_challenge"]
        with self.store.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.created_at < now - CHALLENGE_TTL))
            conn.execute(
                insert(table).values(
                    challenge_hash=_hash(bytes_to_base64url(challenge)),
                    purpose=purpose,
                    code_hash=code_hash,
                    created_at=now,
                )
            )
        return challenge

    def _take_challenge(self, conn: Any, credential: dict[str, Any], purpose: str) -> Any:
        """Consume the challenge the credential answers (in the caller's transaction)."""
        challenge = _challenge_of(credential)
        table = self.t["passkey_challenge"]
        row = (
            conn.execute(select(table).where(table.c.challenge_hash == _hash(challenge)))
            .mappings()
            .first()
        )
        if row is None or row["purpose"] != purpose:
            raise PasskeyError("unknown or used challenge: start again")
        conn.execute(delete(table).where(table.c.challenge_hash == row["challenge_hash"]))
        if row["created_at"] < time.time() - CHALLENGE_TTL:
            raise PasskeyError("the passkey request has expired: start again")
        return row, base64url_to_bytes(challenge)

    # ---- registration --------------------------------------------------------------------------

    def registration_options(self, code: str) -> dict[str, Any]:
        """Options for navigator.credentials.create(), bound to a valid enrolment code."""
        row = self._code(code, int(time.time()))
        with self.store.engine.connect() as conn:
            existing = conn.execute(
                select(self.t["passkey"].c.credential_id).where(
                    self.t["passkey"].c.address == row["address"],
                    self.t["passkey"].c.revoked.is_(False),
                )
            ).all()
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=row["address"],
            user_id=bytes.fromhex(row["address"][2:]),
            challenge=self._challenge("register", row["code_hash"]),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(e.credential_id))
                for e in existing
            ],
        )
        out: dict[str, Any] = json.loads(options_to_json(options))
        return out

    def register(self, code: str, credential: dict[str, Any], label: str) -> str:
        """Verify a new passkey and store it for the code's account; the code is spent."""
        now = int(time.time())
        with self.store.engine.begin() as conn:
            challenge_row, challenge = self._take_challenge(conn, credential, "register")
            enrolment = self._code(code, now)
            if challenge_row["code_hash"] != enrolment["code_hash"]:
                raise PasskeyError("the passkey was made for another enrolment code: start again")
            try:
                verified = verify_registration_response(
                    credential=credential,
                    expected_challenge=challenge,
                    expected_rp_id=self.rp_id,
                    expected_origin=self.origin,
                )
            except REFUSED as exc:
                raise PasskeyError(f"the passkey was not accepted: {_reason(exc)}") from exc
            conn.execute(
                update(self.t["enrolment_code"])
                .where(self.t["enrolment_code"].c.code_hash == enrolment["code_hash"])
                .values(used_at=now)
            )
            conn.execute(
                insert(self.t["passkey"]).values(
                    credential_id=bytes_to_base64url(verified.credential_id),
                    address=enrolment["address"],
                    public_key=bytes_to_base64url(verified.credential_public_key),
                    sign_count=verified.sign_count,
                    label=(label or "passkey")[:100],
                    created_at=now,
                    revoked=False,
                )
            )
        return str(enrolment["address"])

    # ---- sign-in and sessions ------------------------------------------------------------------

    def authentication_options(self) -> dict[str, Any]:
        """Options for navigator.credentials.get(): any passkey of this site (discoverable)."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=self._challenge("sign_in"),
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        out: dict[str, Any] = json.loads(options_to_json(options))
        return out

    def authenticate(self, credential: dict[str, Any]) -> tuple[str, str, int]:
        """Verify a passkey assertion; returns (address, session token, expiry)."""
        now = int(time.time())
        passkeys = self.t["passkey"]
        with self.store.engine.begin() as conn:
            _, challenge = self._take_challenge(conn, credential, "sign_in")
            row = (
                conn.execute(
                    select(passkeys).where(passkeys.c.credential_id == str(credential.get("id")))
                )
                .mappings()
                .first()
            )
            if row is None or row["revoked"]:
                raise PasskeyError(
                    "this passkey is unknown or revoked: enrol again with a new code"
                )
            try:
                verified = verify_authentication_response(
                    credential=credential,
                    expected_challenge=challenge,
                    expected_rp_id=self.rp_id,
                    expected_origin=self.origin,
                    credential_public_key=base64url_to_bytes(row["public_key"]),
                    credential_current_sign_count=row["sign_count"],
                )
            except REFUSED as exc:
                raise PasskeyError(f"the passkey was not accepted: {_reason(exc)}") from exc
            conn.execute(
                update(passkeys)
                .where(passkeys.c.credential_id == row["credential_id"])
                .values(sign_count=verified.new_sign_count, last_used_at=now)
            )
            token = secrets.token_urlsafe(32)
            conn.execute(
                insert(self.t["web_session"]).values(
                    token_hash=_hash(token),
                    address=row["address"],
                    credential_id=row["credential_id"],
                    created_at=now,
                    expires_at=now + SESSION_TTL,
                )
            )
        return str(row["address"]), token, now + SESSION_TTL

    def session_address(self, token: str) -> str:
        sessions = self.t["web_session"]
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(sessions.c.address, sessions.c.expires_at).where(
                    sessions.c.token_hash == _hash(token)
                )
            ).first()
        if row is None or row.expires_at <= time.time():
            raise PasskeyError("the session has ended: sign in again with your passkey")
        return str(row.address)

    def sign_out(self, token: str) -> None:
        sessions = self.t["web_session"]
        with self.store.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _hash(token)))

    # ---- the account's passkeys ----------------------------------------------------------------

    def passkeys_of(self, address: str) -> list[PasskeyInfo]:
        passkeys = self.t["passkey"]
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(passkeys)
                .where(passkeys.c.address == address, passkeys.c.revoked.is_(False))
                .order_by(passkeys.c.created_at)
            ).mappings()
            return [
                PasskeyInfo(r["credential_id"], r["label"], r["created_at"], r["last_used_at"])
                for r in rows
            ]

    def revoke(self, address: str, credential_id: str) -> None:
        """Revoke one of `address`'s passkeys and end the sessions it opened."""
        passkeys, sessions = self.t["passkey"], self.t["web_session"]
        with self.store.engine.begin() as conn:
            changed = conn.execute(
                update(passkeys)
                .where(
                    passkeys.c.credential_id == credential_id,
                    passkeys.c.address == address,
                    passkeys.c.revoked.is_(False),
                )
                .values(revoked=True)
            )
            if changed.rowcount == 0:
                raise PasskeyError(f"no active passkey {credential_id!r} on this account")
            conn.execute(delete(sessions).where(sessions.c.credential_id == credential_id))
