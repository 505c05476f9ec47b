"""The data directory is owner-only (issue 13): 0700, its files 0600, even when it existed wider
before; and an API key is revoked from standard input or a file, never from the command line."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.ledger.test_cli import run


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.anvil
def test_data_directory_and_its_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # an older, wider data directory
    env = {"LOOPLEDGER_ANVIL_PORT": str(free_port())}
    deployed = run("deploy", "--data-dir", str(data), env=env)
    assert deployed.returncode == 0, deployed.stderr
    added = run("keys", "add", "atelier", "--data-dir", str(data), env=env)
    assert added.returncode == 0, added.stderr
    address = re.search(r"0x[0-9a-fA-F]{40}", added.stdout + added.stderr)
    assert address is not None, added.stdout
    key = run("keys", "issue", address[0], "--data-dir", str(data), env=env).stdout.strip()
    assert key.startswith("ll_")

    assert _mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"anvil.log", "deployment-anvil.json", "index-anvil.sqlite", "atelier.json"} <= names
    wide = {str(p.relative_to(data)): oct(_mode(p)) for p in files if _mode(p) != 0o600}
    assert wide == {}
    dirs = [p for p in data.rglob("*") if p.is_dir()]
    assert {str(p.relative_to(data)): oct(_mode(p)) for p in dirs if _mode(p) != 0o700} == {}

    # A key on the command line is refused (it would stay in the shell history and `ps`).
    on_argv = run("keys", "revoke", key, "--data-dir", str(data), env=env)
    assert on_argv.returncode != 0 and "Traceback" not in on_argv.stderr
    key_file = tmp_path / "key.txt"
    key_file.write_text(key + "\n")
    by_file = run("keys", "revoke", "--key-file", str(key_file), "--data-dir", str(data), env=env)
    assert by_file.returncode == 0, by_file.stderr
    again = run("keys", "revoke", "--data-dir", str(data), env=env, stdin=key + "\n")
    assert again.returncode == 0, again.stderr  # revoking twice is harmless
    unknown = run("keys", "revoke", "--data-dir", str(data), env=env, stdin="ll_nope\n")
    assert unknown.returncode == 1 and "no such API key" in unknown.stderr
