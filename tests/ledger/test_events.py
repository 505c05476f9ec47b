"""The decoder's hex fast path (JSON-RPC logs) gives exactly what eth_abi gives, and what
web3.py's own event decoding gives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from eth_utils import to_checksum_address

from ledger.clients import Suite
from ledger.indexer.extract import RpcSource
from ledger.vocabulary import ContributionKind
from tests.ledger.test_indexer import LEUVEN, story

pytestmark = pytest.mark.anvil


def _plain(value: Any) -> Any:
    """web3.py's decoded value in the decoder's representation (hex strings, tuples)."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Mapping):
        return tuple(_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value


def test_hex_fast_path_equals_eth_abi_and_web3(anvil_suite: Suite) -> None:
    suite = anvil_suite
    story(suite)
    suite.contributions.record(suite.chain.accounts[8], LEUVEN, ContributionKind.WORKSHOP, 12)
    suite.registry.set_paused(suite.chain.accounts[0], True)  # a bool field
    source = RpcSource(suite.chain.url)  # type: ignore[attr-defined]
    raw = source.logs(list(suite.manifest.addresses.values()), 0, source.head())
    assert len(raw) > 40 and all(isinstance(log["data"], str) for log in raw)
    names = set()
    for log in raw:
        fast = suite.decoder.decode(log)
        as_bytes = {
            **log,
            "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
            "data": bytes.fromhex(log["data"][2:]),
        }
        slow = suite.decoder.decode(as_bytes)
        assert fast == slow, (fast, slow)
        if fast is None:
            continue
        names.add(fast.name)
        contract = suite.chain.w3.eth.contract(
            address=to_checksum_address(fast.address), abi=suite.artifacts[fast.contract].abi
        )
        receipt_logs = suite.chain.w3.eth.get_transaction_receipt(fast.tx_hash)["logs"]
        original = next(x for x in receipt_logs if int(x["logIndex"]) == fast.log_index)
        reference = contract.events[fast.name]().process_log(original)
        for key, value in reference["args"].items():
            assert fast.args[key] == _plain(value), (fast.name, key, fast.args[key], value)
    assert {
        "MaterialTakenIn",
        "MaterialTransformed",
        "LotTransferred",
        "MaterialDispatched",
        "ContributionRecorded",
        "PauseChanged",
        "RoleChanged",
        "PilotAdded",
    } <= names
