"""The command line: help texts, and bad input as one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.store.db import Store
from pilots.model import load_pilots
from pilots.seed import demo_account
from tests.conftest import free_port

LOOPLEDGER = [sys.executable, "-m", "loopledger"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    full_env.update(env or {})
    return subprocess.run(
        [*LOOPLEDGER, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
        input=stdin,
    )


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("build", "deploy", "node", "up"):
        assert command in result.stdout
    deploy_help = run("deploy", "--help")
    assert "--fresh" in deploy_help.stdout and "--chain" in deploy_help.stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["deploy", "--chain", "http://127.0.0.1:{port}"],
            {"LOOPLEDGER_CHAIN_ID": "1"},
            "Cannot reach",
        ),
        (["deploy", "--chain", "ganache"], {}, "LOOPLEDGER_CHAIN must be"),
        (
            ["deploy"],
            {"LOOPLEDGER_CHAIN_ID": "5", "LOOPLEDGER_ANVIL_PORT": "{port}"},
            "LOOPLEDGER_CHAIN_ID is 5",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    port = str(free_port())
    args = [a.replace("{port}", port) for a in args]
    env = {k: v.replace("{port}", port) for k, v in env.items()}
    data = tmp_path / "data"
    result = run(*args, "--data-dir", str(data), env=env)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not list(data.glob("deployment-*.json")), "nothing may be written on failure"


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run(
            "deploy", "--data-dir", str(tmp_path), env={"LOOPLEDGER_ANVIL_PORT": str(port)}
        )
    assert result.returncode == 1
    assert f"Port {port}" in result.stderr and "LOOPLEDGER_ANVIL_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_deploy_twice_on_anvil_reports_existing_deployment(tmp_path: Path) -> None:
    env = {"LOOPLEDGER_ANVIL_PORT": str(free_port())}
    first = run("deploy", "--data-dir", str(tmp_path), env=env)
    assert first.returncode == 0, first.stderr
    assert "deployed on chain 31337" in first.stderr
    second = run("deploy", "--data-dir", str(tmp_path), env=env)
    assert second.returncode == 0, second.stderr
    assert "already deployed" in second.stderr


def test_keys_enrol_issues_a_code_for_a_custodial_account_only(tmp_path: Path) -> None:
    leuven = load_pilots()[0]
    member = demo_account(2026, leuven, "member", 0).address  # the demo's custody holds it
    done = run("keys", "enrol", member, "--pilot", "leu", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    code, link = done.stdout.split()
    assert link == f"http://localhost:8000/enrol?code={code}" and len(code) == 14
    store = Store.open(f"sqlite:///{tmp_path / 'index-anvil.sqlite'}")
    with store.engine.connect() as conn:
        row = conn.execute(select(store.tables["enrolment_code"])).mappings().one()
    assert (row["address"], row["pilot_id"], row["used_at"]) == (member, 1, None)
    drawn = run("keys", "enrol", member, "--pilot", "LEU", "--qr", "--data-dir", str(tmp_path))
    assert drawn.returncode == 0 and drawn.stdout.count("\n") > 20 and "█" in drawn.stdout
    stranger = run("keys", "enrol", "0x" + "12" * 20, "--pilot", "LEU", "--data-dir", str(tmp_path))
    assert stranger.returncode != 0 and "no custodial key" in stranger.stderr + stranger.stdout
    assert "Traceback" not in stranger.stderr
