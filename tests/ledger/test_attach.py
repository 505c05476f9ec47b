"""Commands on a data directory whose chain is already running find it through the run file and
use it (they used to fail on anvil's port); `deploy --fresh` leaves no old index behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ledger.runfile import pid_alive, read_run
from ledger.store.db import Store
from tests.conftest import free_port
from tests.ledger.test_cli import LOOPLEDGER, run

pytestmark = pytest.mark.anvil


def test_commands_attach_to_a_running_chain_and_fresh_deploy_empties_the_index(
    tmp_path: Path,
) -> None:
    env = {"LOOPLEDGER_ANVIL_PORT": str(free_port()), "LOOPLEDGER_DATA_DIR": str(tmp_path)}
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}, **env}
    node = subprocess.Popen(
        [*LOOPLEDGER, "node"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while (info := read_run(tmp_path)) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info is not None and info.owner_pid == node.pid, "node publishes its run file"
        # Another port setting cannot matter: the running chain is found through the run file.
        other = {**env, "LOOPLEDGER_ANVIL_PORT": str(free_port())}
        deployed = run("deploy", env=other)
        assert (
            deployed.returncode == 0 and "run by another LoopLedger process" in deployed.stderr
        ), deployed.stderr
        indexed = run("index", env=other)
        assert indexed.returncode == 0, indexed.stderr
        verified = run("audit", "verify", env=other)
        assert verified.returncode == 0 and "everything matches" in verified.stderr, verified.stderr
        store = Store.open(f"sqlite:///{tmp_path / 'index-anvil.sqlite'}")
        assert store.checkpoint() is not None
        fresh = run("deploy", "--fresh", env=other)
        assert fresh.returncode == 0 and "was emptied" in fresh.stderr, fresh.stderr
        assert store.checkpoint() is None, "the old deployment's index is not served on"
        assert pid_alive(info.anvil_pid), "the commands left the running chain running"
    finally:
        node.send_signal(signal.SIGINT)
        node.communicate(timeout=60)
    assert not pid_alive(info.anvil_pid) and read_run(tmp_path) is None
