"""`loopledger up`: starts on free ports, serves every pilot's summary, and comes back with the
same data after a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

#: The `loopledger` command of this checkout.
LOOPLEDGER = [sys.executable, "-m", "loopledger"]


def _start(data: Path, anvil_port: int, api_port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update({"LOOPLEDGER_ANVIL_PORT": str(anvil_port), "LOOPLEDGER_DEMO_SCALE": "0.02"})
    return subprocess.Popen(
        [*LOOPLEDGER, "up", "--data-dir", str(data), "--port", str(api_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(process: subprocess.Popen[str], url: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"loopledger up exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("loopledger up did not answer in time")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def _summaries(base: str) -> dict[str, Any]:
    pilots = httpx.get(f"{base}/api/pilots", timeout=60).json()
    return {
        p["code"]: httpx.get(f"{base}/api/pilots/{p['code']}/summary", timeout=60).json()
        for p in pilots["data"]
    }


@pytest.mark.slow
def test_up_serves_every_pilot_and_restarts_with_the_same_data(tmp_path: Path) -> None:
    anvil_port, api_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"
    process = _start(tmp_path, anvil_port, api_port)
    try:
        _wait(process, f"{base}/api/health")
        first = _summaries(base)
        assert len(first) == 7
        for code, summary in first.items():
            assert summary["inflow_kg"] > 0, f"{code} has no flows"
            assert summary["mass_balance_findings"] == 0
        assert httpx.get(f"{base}/", timeout=10).status_code == 200
        assert "sankey" in httpx.get(f"{base}/static/dashboard.js", timeout=10).text
    finally:
        output = _stop(process)
    assert "stopped cleanly" in output

    process = _start(tmp_path, anvil_port, api_port)
    try:
        _wait(process, f"{base}/api/health")
        assert _summaries(base) == first
    finally:
        output = _stop(process)
    assert "already on the chain" in output
