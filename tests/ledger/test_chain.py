"""Chain backends: state kept across anvil restarts, and clear errors for bad endpoints."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ledger.build import Artifact
from ledger.chain import AnvilChain, MemoryChain, connect
from ledger.deploy import deploy
from ledger.errors import ChainIdMismatch, ChainUnreachable, ConfigError, PortInUse, StateLost
from ledger.runtime import dev_admins
from ledger.settings import Settings
from pilots.model import Pilot
from tests.conftest import anvil_settings, free_port


def test_memory_chain_has_funded_accounts() -> None:
    chain = MemoryChain.start()
    assert len(chain.accounts) >= 8
    assert chain.w3.eth.get_balance(chain.operator.address) > 10**18


def test_anvil_keeps_every_transaction_across_restarts(
    tmp_path: Path, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> None:
    settings = anvil_settings(tmp_path)
    chain = AnvilChain.start(settings)
    manifest, _ = deploy(
        chain, artifacts, pilots, tmp_path / "m.json", admins=dev_admins(chain, pilots)
    )
    genesis, head = chain.genesis_hash, int(chain.w3.eth.block_number)
    head_hash = bytes(chain.w3.eth.get_block(head)["hash"])
    chain.close()

    chain = AnvilChain.start(settings)
    try:
        assert chain.genesis_hash == genesis
        assert int(chain.w3.eth.block_number) == head
        assert bytes(chain.w3.eth.get_block(head)["hash"]) == head_hash
        for address in manifest.addresses.values():
            assert bytes(chain.w3.eth.get_code(address)), f"no code at {address} after restart"
        logs = chain.w3.eth.get_logs(
            {"fromBlock": 0, "toBlock": head, "address": manifest.addresses["PilotRegistry"]}
        )
        assert len(logs) >= len(pilots), "old logs must still be readable"
    finally:
        chain.close()


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = Settings(chain="anvil", data_dir=tmp_path, anvil_port=port)
        with pytest.raises(PortInUse, match=f"Port {port}"):
            AnvilChain.start(settings)


def test_unreachable_rpc_url(tmp_path: Path) -> None:
    settings = Settings(
        chain=f"http://127.0.0.1:{free_port()}", chain_id=1, data_dir=tmp_path, rpc_timeout=2
    )
    with pytest.raises(ChainUnreachable, match="Cannot reach"):
        connect(settings)


def test_rpc_chain_id_is_checked(tmp_path: Path, anvil_chain: AnvilChain) -> None:
    wrong = Settings(chain=anvil_chain.url, chain_id=5, data_dir=tmp_path)
    with pytest.raises(ChainIdMismatch, match="is chain 31337"):
        connect(wrong)
    unconfirmed = Settings(chain=anvil_chain.url, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="LOOPLEDGER_CHAIN_ID=31337"):
        connect(unconfirmed)
    right = Settings(chain=anvil_chain.url, chain_id=31337, data_dir=tmp_path)
    assert connect(right).chain_id == 31337


def test_invalid_chain_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="LOOPLEDGER_CHAIN"):
        Settings(chain="ganache")


def test_anvil_keeps_its_genesis_over_many_restarts(tmp_path: Path) -> None:
    """Each start used to add another block 0 to the state file; a later load took a wrong one."""
    settings = anvil_settings(tmp_path)
    chain = AnvilChain.start(settings)
    genesis = chain.genesis_hash
    operator = chain.operator
    try:
        for restart in range(8):
            tx = {
                "to": chain.accounts[1].address,
                "value": 1,
                "gas": 21_000,
                "gasPrice": 2 * 10**9,
                "nonce": restart,
                "chainId": chain.chain_id,
            }
            raw = operator.sign_transaction(tx).raw_transaction
            chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_raw_transaction(raw))
            head = int(chain.w3.eth.block_number)
            chain.close()
            chain = AnvilChain.start(settings)
            assert chain.genesis_hash == genesis, f"restart {restart + 1} changed the genesis"
            assert int(chain.w3.eth.block_number) == head
    finally:
        chain.close()


def test_unreadable_state_is_set_aside_with_one_message_and_a_new_chain_starts(
    tmp_path: Path,
) -> None:
    settings = anvil_settings(tmp_path)
    (tmp_path / "anvil-state.json").write_text('{"blocks": [')  # cut off mid-write
    (tmp_path / "deployment-anvil.json").write_text("{}")
    with pytest.raises(StateLost, match="cannot be read") as caught:
        AnvilChain.start(settings)
    assert len(str(caught.value).splitlines()) == 1 and "run the command again" in str(caught.value)
    (aside,) = tmp_path.glob("lost-*")
    assert (aside / "anvil-state.json").read_text() == '{"blocks": ['
    assert (aside / "deployment-anvil.json").exists(), "what was built on the lost chain goes too"
    chain = AnvilChain.start(settings)
    try:
        assert int(chain.w3.eth.block_number) == 0, "a new chain"
    finally:
        chain.close()
