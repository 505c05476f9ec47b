"""Sign-in with Ethereum is strict (issue 13): the EIP-4361 grammar, each field once and in
order, domain and URI on the configured public origin, and the message's times honoured."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from api.auth import AuthError, NonceBook, parse_siwe, verify_siwe
from ledger.settings import Settings
from ledger.store.db import Store

ORIGIN = "https://ledger.example.org"
CHAIN = 31337
SIGNER = Account.from_key("0x" + "11" * 32)


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def message(
    *,
    domain: str = "ledger.example.org",
    uri: str = "https://ledger.example.org/wallet",
    chain: str = str(CHAIN),
    nonce: str = "abcdefgh1234",
    issued: datetime | None = None,
    statement: str | None = "Sign in to LoopLedger.",
    extra: str = "",
) -> str:
    issued = issued or datetime.now(UTC)
    head = f"{domain} wants you to sign in with your Ethereum account:\n{SIGNER.address}\n\n"
    head += f"{statement}\n\n" if statement is not None else "\n"
    return (
        f"{head}URI: {uri}\nVersion: 1\nChain ID: {chain}\nNonce: {nonce}\nIssued At: {_stamp(issued)}"
        + extra
    )


def _book() -> NonceBook:
    """A nonce book in a store of its own (nonces live in the SQL store, shared by workers)."""
    return NonceBook(Store.open(f"sqlite:///{tempfile.mkdtemp()}/nonces.sqlite"))


def _verify(text: str, nonces: NonceBook | None = None) -> str:
    book = nonces or _book()
    signature = "0x" + bytes(SIGNER.sign_message(encode_defunct(text=text)).signature).hex()
    return verify_siwe(text, signature, origin=ORIGIN, chain_id=CHAIN, nonces=book).address


def _issued(book: NonceBook) -> str:
    return book.issue()


def test_a_standard_message_signs_in() -> None:
    book = _book()
    expires = _stamp(datetime.now(UTC) + timedelta(minutes=5))
    text = message(
        nonce=_issued(book),
        extra=f"\nExpiration Time: {expires}\nRequest ID: r-1\nResources:\n- https://ledger.example.org/x",
    )
    assert _verify(text, book) == SIGNER.address
    parsed = parse_siwe(text)
    assert parsed.request_id == "r-1" and parsed.resources == ("https://ledger.example.org/x",)
    # Without a statement the grammar has three line breaks after the address.
    book2 = _book()
    assert _verify(message(statement=None, nonce=_issued(book2)), book2) == SIGNER.address


def test_duplicated_field_is_refused_not_last_wins() -> None:
    """'Chain ID: 1' then 'Chain ID: 31337' used to parse as 31337."""
    text = message(chain="1").replace("Nonce:", f"Chain ID: {CHAIN}\nNonce:")
    with pytest.raises(AuthError, match="'Chain ID' appears twice"):
        parse_siwe(text)
    twice = message(extra="\nRequest ID: a\nRequest ID: b")
    with pytest.raises(AuthError, match="'Request ID' appears twice"):
        parse_siwe(twice)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            message().replace("Version: 1\nChain ID: 31337", "Chain ID: 31337\nVersion: 1"),
            "out of place",
        ),
        (message(extra="\nColour: red"), "unexpected line"),
        (message() + "\n", "unexpected line"),
        (message(nonce="short"), "invalid value"),
        (message(extra="\nExpiration Time: tomorrow"), "invalid value"),
        (message().replace("\n\nSign in", "\nSign in"), "line 3 empty"),
        (message(statement="two\nlines"), "statement|unexpected"),
        (
            message().replace("URI: https://ledger.example.org/wallet\n", ""),
            "out of place|no 'URI:'",
        ),
        ("hello", "not an EIP-4361 message"),
    ],
)
def test_grammar_violations_are_refused(text: str, why: str) -> None:
    with pytest.raises(AuthError, match=why):
        parse_siwe(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # The attack: a message signed for another site, whatever Host the request claims.
        (message(domain="evil.example", uri="https://evil.example/login"), "evil.example"),
        (message(uri="https://evil.example/login"), "URI"),
        (message(uri="http://ledger.example.org/wallet"), "URI"),
        (message(domain="https://ledger.example.org.evil.example"), "is for"),
        (message(chain="1"), "chain 1"),
        (message(issued=datetime.now(UTC) - timedelta(hours=2)), "issued .* ago"),
        (message(issued=datetime.now(UTC) + timedelta(hours=1)), "future"),
        (
            message(extra=f"\nExpiration Time: {_stamp(datetime.now(UTC) - timedelta(seconds=1))}"),
            "expired",
        ),
        (
            message(extra=f"\nNot Before: {_stamp(datetime.now(UTC) + timedelta(hours=1))}"),
            "not valid yet",
        ),
    ],
)
def test_foreign_or_stale_messages_are_refused(text: str, why: str) -> None:
    book = _book()
    text = text.replace("abcdefgh1234", _issued(book))
    with pytest.raises(AuthError, match=why):
        _verify(text, book)


def test_public_origin_setting_has_a_default_and_is_checked() -> None:
    # A loopback or wildcard host is called localhost: WebAuthn takes a domain, never an address,
    # and passkeys and sign-in messages share the one origin.
    loopback = Settings(api_host="127.0.0.1", api_port=8123)
    assert loopback.effective_public_origin == "http://localhost:8123"
    assert loopback.effective_public_url == "http://localhost:8123"
    assert Settings(api_host="0.0.0.0").effective_public_origin == "http://localhost:8000"
    assert Settings(public_origin="https://Ledger.Example.org/").effective_public_origin == ORIGIN
    assert Settings(public_origin=ORIGIN).effective_public_url == ORIGIN
    both = Settings(public_url=ORIGIN + "/ledger/", public_origin=ORIGIN)
    assert both.effective_public_url == ORIGIN + "/ledger"
    with pytest.raises(ValueError, match="scheme://host"):
        Settings(public_origin="ledger.example.org")
    with pytest.raises(ValueError, match="outside LOOPLEDGER_PUBLIC_ORIGIN"):
        Settings(public_url="https://other.example.org", public_origin=ORIGIN)
