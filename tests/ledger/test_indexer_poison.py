"""One poisoned event must not stop the indexer (issue 13): on-chain strings are decoded
leniently and stored raw, and a log that does not decode is stored raw, reported, and passed."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from sqlalchemy import select

from ledger.clients import Suite
from ledger.events import escaped, fixed_bytes, text_of
from ledger.indexer import indexer_for
from ledger.store.db import Store
from ledger.transact import Call
from ledger.vocabulary import Role

LEUVEN = 1
MATERIAL_REGISTERED = keccak(text="MaterialRegistered(uint16,bytes16,uint16,uint8,address)")


def test_escaped_is_one_spelling_per_code() -> None:
    assert text_of("0x" + b"20 01 38".ljust(16, b"\0").hex()) == "20 01 38"
    assert text_of(b"\xff" * 16) == "\\xff" * 16
    assert escaped(b"CAF\xc9") == "CAF\\xc9"
    # A printable backslash is doubled, so no real code can spell another code's escape.
    assert escaped(b"\\xc9") != escaped(b"\xc9")


def test_a_pilot_name_that_is_not_utf8_is_indexed_escaped(
    memory_suite: Suite, tmp_path: Any
) -> None:
    """The operator's `addPilot` takes any bytes as a name: "CAFÉ" in Latin-1 reached the chain."""
    suite = memory_suite
    registry = suite.registry.contract
    selector = keccak(text="addPilot(bytes8,bytes2,string,address)")[:4]
    # A string is ABI-encoded as its bytes, so Latin-1 bytes go on chain as they are.
    args = encode(
        ["bytes8", "bytes2", "bytes", "address"],
        [fixed_bytes("CAFE", 8), b"FR", b"CAF\xc9 \xff", suite.chain.accounts[1].address],
    )
    suite.tx.transact(suite.chain.accounts[0], Call(registry.address, selector + args))
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(suite, store).run()
    with store.engine.connect() as conn:
        names = dict(
            conn.execute(select(store.tables["pilot"].c.code, store.tables["pilot"].c.name)).all()
        )
        raw = conn.execute(
            select(store.tables["pilot"].c.code_raw).where(store.tables["pilot"].c.code == "CAFE")
        ).scalar_one()
    assert names["CAFE"] == "CAF\\xc9 \\xff"
    assert raw == "0x" + fixed_bytes("CAFE", 8).hex()
    checkpoint = store.checkpoint()
    assert checkpoint is not None and checkpoint.block_number == suite.chain.w3.eth.block_number


def _push32(value: bytes) -> bytes:
    return b"\x7f" + value.rjust(32, b"\0")


def _emitter(logs: list[tuple[list[bytes], bytes]]) -> bytes:
    """Runtime code that emits each (topics, data) log: what a contract with a bug (or any code
    at one of our addresses) could emit."""
    code = b""
    for topics, data in logs:
        padded = data.ljust((len(data) + 31) // 32 * 32, b"\0")
        for i in range(0, len(padded), 32):
            code += _push32(padded[i : i + 32]) + b"\x61" + i.to_bytes(2, "big") + b"\x52"  # MSTORE
        for topic in reversed(topics):
            code += _push32(topic)
        code += b"\x61" + len(data).to_bytes(2, "big") + b"\x60\x00"  # size, offset
        code += bytes([0xA0 + len(topics)])  # LOGn
    return code + b"\x00"


def _rpc(suite: Suite, method: str, *params: Any) -> Any:
    return suite.chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


@pytest.mark.anvil
def test_poisoned_code_and_malformed_log_do_not_stop_the_indexer(
    anvil_suite: Suite, tmp_path: Any
) -> None:
    suite = anvil_suite
    registry = suite.registry.contract.address
    operator = suite.chain.accounts[0]
    poisoned = b"\xff" * 16
    cut = b"P-CUT".ljust(32, b"\0")  # a bytes16 topic is left-aligned
    by = bytes.fromhex(operator.address[2:])
    logs = [
        # A well-formed MaterialRegistered whose code is 0xff...ff (the attack of the issue).
        (
            [MATERIAL_REGISTERED, (900).to_bytes(32, "big"), poisoned.ljust(32, b"\0"), by],
            encode(["uint16", "uint8"], [1, 2]),
        ),
        # A MaterialRegistered with its data cut short: no ABI reading can decode it.
        ([MATERIAL_REGISTERED, (901).to_bytes(32, "big"), cut, by], b"\x01" * 10),
    ]
    original = _rpc(suite, "eth_getCode", registry, "latest")
    _rpc(suite, "anvil_setCode", registry, "0x" + _emitter(logs).hex())
    suite.tx.transact(operator, Call(registry, b""))
    _rpc(suite, "anvil_setCode", registry, original)
    # Life goes on after the poisoned block: a pilot admin registers a product.
    lamp = suite.registry.register_product(suite.chain.accounts[LEUVEN], LEUVEN, "P-LAMP")

    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    seen: list[int] = []
    indexer_for(suite, store).run(on_progress=lambda p: seen.append(p.malformed))
    t = store.tables
    with store.engine.connect() as conn:
        materials = {
            r["material_id"]: r for r in conn.execute(select(t["material_class"])).mappings()
        }
        malformed = conn.execute(select(t["malformed_log"])).mappings().all()
    assert materials[900]["code"] == "\\xff" * 16
    assert materials[900]["code_raw"] == "0x" + poisoned.hex()
    assert materials[lamp]["code"] == "P-LAMP" and materials[lamp]["pilot_id"] == LEUVEN
    assert len(malformed) == 1 and sum(seen) == 1  # stored and reported
    (row,) = malformed
    assert row["address"].lower() == registry.lower()
    assert row["data"] == "0x" + "01" * 10
    assert row["topics"].split(",")[0] == "0x" + MATERIAL_REGISTERED.hex()
    assert "MaterialRegistered" in row["reason"]
    checkpoint = store.checkpoint()
    assert checkpoint is not None and checkpoint.block_number == suite.chain.w3.eth.block_number
    assert Role.ADMIN in suite.registry.roles_of(LEUVEN, suite.chain.accounts[LEUVEN].address)


def test_a_number_beyond_the_stores_integers_is_stored_raw_not_a_halt(
    memory_suite: Suite, tmp_path: Any
) -> None:
    """A challenge deadline of 10**19 fits the contract's uint64 but not a signed 64-bit SQL
    integer: inserting it raised OverflowError in every indexer run, for ever."""
    suite = memory_suite
    owner = suite.chain.accounts[LEUVEN]  # Leuven's admin may post challenges
    suite.challenges.post(owner, LEUVEN, b"\x11" * 32, 0, 100, 10**19)
    lamp = suite.registry.register_product(owner, LEUVEN, "P-LAMP")  # life goes on after it

    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(suite, store).run()
    t = store.tables
    with store.engine.connect() as conn:
        challenges = conn.execute(select(t["challenge"])).mappings().all()
        malformed = conn.execute(select(t["malformed_log"])).mappings().all()
        codes = set(conn.execute(select(t["material_class"].c.material_id)).scalars())
    assert challenges == []
    assert len(malformed) == 1 and "ChallengePosted" in malformed[0]["reason"]
    assert "deadline" in malformed[0]["reason"]
    assert lamp in codes
    checkpoint = store.checkpoint()
    assert checkpoint is not None and checkpoint.block_number == suite.chain.w3.eth.block_number
