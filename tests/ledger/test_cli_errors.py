"""Every `loopledger` command given bad input: one line saying what to fix, a non-zero exit,
never a traceback. Run as a user would (a separate process), none of them needing a chain."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import free_port

BIN = Path(sys.executable).parent / "loopledger"

#: (arguments, standard input, a phrase the message must hold)
CASES: list[tuple[list[str], str, str]] = [
    (["frobnicate"], "", "No such command"),
    (["audit", "report"], "", "--pilot"),
    (["keys", "add", "k", "--import"], "zz-not-hex\n", "hex"),
    (["keys", "add", "k", "--import"], "", "no private key"),
    (["keys", "add", "k", "--import"], "abcd\n", "32 bytes"),
    (["keys", "add", "bad/name"], "", "name"),
    (["keys", "issue", "not-an-address"], "", "Ethereum address"),
    (["keys", "revoke"], "no-such-key\n", "no such API key"),
    (["keys", "revoke", "--key-file", "missing-key.txt"], "", "missing-key.txt"),
    (["audit", "verify", "--from-block", "500", "--to-block", "100"], "", "--from-block"),
    (["audit", "verify", "--from-block", "-5"], "", "--from-block"),
    (["audit", "verify", "--to-block", "-1"], "", "--to-block"),
    (["audit", "verify", "--pilot", "ZZZ"], "", "unknown pilot"),
    (["audit", "report", "--pilot", "LEU", "--out", "missing-dir/x.html"], "", "missing-dir"),
    (["audit", "report", "--pilot", "LEU", "--period", "2026-13"], "", "2026-13"),
    (["audit", "report", "--pilot", "ZZZ"], "", "unknown pilot"),
    (["metrics", "--format", "xml"], "", "--format"),
    (["metrics", "--period", "2026-13"], "", "2026-13"),
    (["metrics", "--pilot", "ZZZ"], "", "unknown pilot"),
    (["metrics", "--format", "parquet"], "", "--out"),
    (["metrics", "--out", "missing-dir/m.csv"], "", "missing-dir"),
    (["evidence", "hash", "missing.txt"], "", "missing.txt"),
    (["evidence", "check", "missing.txt", "--tx", "0x12"], "", "missing.txt"),
    (["evidence", "check", "evidence.txt", "--tx", "0x12"], "", "--tx"),
    (["evidence", "check", "evidence.txt", "--tx", "0x" + "ab" * 32, "--log", "-1"], "", "--log"),
    (["epcis", "export", "--pilot", "ZZZ"], "", "unknown pilot"),
    (["epcis", "export", "--pilot", "LEU", "--out", "missing-dir/e.json"], "", "missing-dir"),
    (["epcis", "import", "missing.json", "--pilot", "LEU", "--key", "k"], "", "missing.json"),
    (["epcis", "import", "evidence.txt", "--pilot", "LEU", "--key", "k"], "", "JSON"),
    (["epcis", "import", "doc.json", "--pilot", "ZZZ", "--key", "k"], "", "unknown pilot"),
    (["epcis", "import", "doc.json", "--pilot", "LEU", "--key", "nobody"], "", "nobody"),
    (["deploy", "--chain", "ganache"], "", "LOOPLEDGER_CHAIN"),
    (["index", "--chain", "ftp://example.org"], "", "LOOPLEDGER_CHAIN"),
    (["up", "--port", "0"], "", "api_port"),
    (["up", "--chain", "ganache"], "", "LOOPLEDGER_CHAIN"),
    (["up", "--chain", "http://127.0.0.1:1", "--demo"], "", "public demo keys"),
    (["node", "--data-dir", "evidence.txt"], "", "evidence.txt"),
]


def _run(args: list[str], stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    # Should a case reach for a chain after all, it gets a port of its own, not 8545.
    env.update(
        {
            "LOOPLEDGER_DATA_DIR": str(cwd / "data"),
            "LOOPLEDGER_ANVIL_PORT": str(free_port()),
            "COLUMNS": "200",
        }
    )
    return subprocess.run(
        [str(BIN), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_every_command_answers_bad_input_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "evidence.txt").write_text("a weigh ticket\n")
    (tmp_path / "doc.json").write_text('{"type": "EPCISDocument", "epcisBody": {"eventList": []}}')
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: _run(c[0], c[1], tmp_path), CASES))
    failures = []
    for (args, _, phrase), result in zip(CASES, results, strict=True):
        text = (result.stderr + result.stdout).strip()
        problems = [
            what
            for what, bad in (
                ("exit code 0", result.returncode == 0),
                ("a traceback", "Traceback" in text),
                ("more than one line", len(text.splitlines()) != 1),
                (f"no {phrase!r}", phrase.lower() not in text.lower()),
            )
            if bad
        ]
        if problems:
            failures.append(f"loopledger {' '.join(args)}: {', '.join(problems)}:\n{text}")
    assert not failures, "\n\n".join(failures)
    assert not (tmp_path / "data" / "anvil-state.json").exists(), "bad input started a chain"


@pytest.mark.parametrize("args", [["--help"], ["audit", "verify", "--help"]])
def test_help_is_not_an_error(args: list[str], tmp_path: Path) -> None:
    assert _run(args, "", tmp_path).returncode == 0
