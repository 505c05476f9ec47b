"""`loopledger up` stopped in every way twenty times: Ctrl-C, a killed `up` (its anvil left
running), and a killed anvil in the middle of writes. Each start comes back with the same
pilots' figures, and `audit verify` finds the index equal to the chain."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from ledger.chain import dev_accounts
from ledger.runfile import pid_alive, read_run
from tests.conftest import free_port
from tests.pilots.test_up import LOOPLEDGER, _start, _stop, _wait

CYCLES = 20


def _pilots(base: str) -> Any:
    return httpx.get(f"{base}/api/pilots", timeout=60).json()


def _verify(data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    return subprocess.run(
        [*LOOPLEDGER, "audit", "verify", "--data-dir", str(data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _writes_until_killed(url: str, anvil_pid: int) -> int:
    """Send plain transfers (they touch no pilot) and kill anvil while they are being mined."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5}))
    sender, receiver = dev_accounts(20)[19], dev_accounts(20)[18]
    nonce = w3.eth.get_transaction_count(sender.address, "pending")
    sent = 0

    def send() -> None:
        nonlocal sent
        for i in range(200):
            tx = {
                "to": receiver.address,
                "value": 1,
                "gas": 21_000,
                "gasPrice": 3 * 10**9,
                "nonce": nonce + i,
                "chainId": 31337,
            }
            try:
                w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
            except Exception:
                return  # anvil is gone
            sent += 1

    writer = threading.Thread(target=send)
    writer.start()
    while sent < 20 and writer.is_alive():
        time.sleep(0.01)
    os.kill(anvil_pid, signal.SIGKILL)
    writer.join(timeout=30)
    return sent


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_twenty_restarts_of_every_kind_keep_chain_deployment_and_data(tmp_path: Path) -> None:
    anvil_port, api_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"
    process = _start(tmp_path, anvil_port, api_port)
    _wait(process, f"{base}/api/health")
    baseline = _pilots(base)
    manifest = (tmp_path / "deployment-anvil.json").read_text()
    assert len(baseline["data"]) == 7
    for cycle in range(CYCLES):
        info = read_run(tmp_path)
        assert info is not None and info.anvil_pid is not None, "up publishes its run file"
        if cycle % 2 == 0:
            _stop(process)
            assert not pid_alive(info.anvil_pid), "Ctrl-C stops anvil too"
        elif cycle % 4 == 1:
            process.kill()  # up dies at once; its anvil keeps running and is taken over
            process.communicate(timeout=60)
        else:
            assert _writes_until_killed(info.chain_url, info.anvil_pid) >= 20
            _stop(process)
        process = _start(tmp_path, anvil_port, api_port)
        _wait(process, f"{base}/api/health", timeout=300)
        assert _pilots(base) == baseline, f"figures changed after restart {cycle + 1}"
        assert (tmp_path / "deployment-anvil.json").read_text() == manifest
        verified = _verify(tmp_path)
        assert verified.returncode == 0, f"restart {cycle + 1}: {verified.stdout}{verified.stderr}"
        assert "everything matches" in verified.stderr
        print(f"restart {cycle + 1} of {CYCLES}: same figures, audit verify passes", flush=True)
    output = _stop(process)
    assert "stopped cleanly" in output
    assert not (tmp_path / "run.json").exists()
