"""Static analysis of the contracts with Slither: fails on any finding of high or medium impact
that `contracts/slither-triage.toml` does not accept with a reason.

    python scripts/slither_check.py [--slither PATH]

Slither compiles through Foundry (`forge build`), so the compiler is the project's own
`scripts/solc` and nothing is downloaded (`offline = true` in foundry.toml). Slither runs from its
own virtual environment (`make slither` creates `.venv-slither`): its releases pin web3 < 8.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = ROOT / "contracts" / "slither-triage.toml"
FORGE_DIR = ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin"
SEVERE = {"High", "Medium"}


def findings(slither: str) -> list[tuple[str, str, str]]:
    """(check, where, description) of every high or medium finding outside tests and libraries."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "slither.json"
        path = f"{FORGE_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, "FOUNDRY_PROFILE": "default"}
        command = [slither, ".", "--compile-force-framework", "foundry"]
        command += ["--filter-paths", "node_modules|contracts/test", "--json", str(report)]
        command += ["--exclude-informational", "--exclude-low", "--exclude-optimization"]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if not report.exists():
            sys.exit(f"slither did not run (exit {run.returncode}):\n{run.stderr[-2000:]}")
        data = json.loads(report.read_text())
    if not data.get("success"):
        sys.exit(f"slither failed: {data.get('error')}")
    out = []
    for item in data["results"].get("detectors", []):
        if item["impact"] in SEVERE:
            description = item["description"].strip()
            out.append((item["check"], description.split(" (", 1)[0], description))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slither", default=str(ROOT / ".venv-slither" / "bin" / "slither"))
    args = parser.parse_args()
    accepted = {(a["check"], a["where"]) for a in tomllib.loads(TRIAGE.read_text())["accepted"]}
    found = findings(args.slither)
    new = [f for f in found if (f[0], f[1]) not in accepted]
    stale = accepted - {(f[0], f[1]) for f in found}
    for check, where in sorted(stale):
        print(f"note: {check} at {where} is accepted in {TRIAGE.name} but no longer found")
    for check, _, description in new:
        print(f"UNTRIAGED {check}: {description}")
    print(
        f"slither: {len(found)} high/medium findings, {len(found) - len(new)} accepted, {len(new)} new"
    )
    if new:
        sys.exit(f"fix them, or accept each in {TRIAGE.relative_to(ROOT)} with its reason")


if __name__ == "__main__":
    main()
