"""First start: `loopledger up` on an empty data directory at the default demo scale, timed
until the gateway answers (the seven pilots' dashboards are served).

Prints one JSON line: {"seconds_to_serve": S, "actions": N, "seed_seconds": s, "goal_seconds": 45}.
`seed_seconds` is the part spent writing the demo scenario, as `up` reports it.

With --baseline it also seeds the same scenario on a fresh anvil one action per block (the way
every demo was written before blocks of relayed requests), and adds
{"baseline_seed_seconds": b, "seed_speedup": b / s}: both in this run, on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ledger.build import build
from ledger.chain import AnvilChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.runtime import dev_admins
from ledger.settings import Settings, project_root
from pilots.model import load_pilots
from pilots.seed import seed_scenario

GOAL_SECONDS = 45.0
SEEDED = re.compile(r"demo scenario: ([\d,]+) actions in (\d+) s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_start(data: Path, timeout: float) -> dict[str, float]:
    """Start `up` on `data` (empty), wait for the pilots' list, stop it; what it took."""
    api_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env["LOOPLEDGER_ANVIL_PORT"] = str(_free_port())
    command = [sys.executable, "-m", "loopledger", "up", "--data-dir", str(data)]
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, "--port", str(api_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while True:
            elapsed = time.monotonic() - started
            if process.poll() is not None or elapsed > timeout:
                output = process.stdout.read() if process.stdout else ""
                raise SystemExit(f"loopledger up did not serve within {elapsed:.0f} s:\n{output}")
            try:
                answer = httpx.get(f"http://127.0.0.1:{api_port}/api/pilots", timeout=5)
                if answer.status_code == 200 and answer.json()["count"] == 7:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        seconds = time.monotonic() - started
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=120)
    seeded = SEEDED.search(output)
    if seeded is None:
        raise SystemExit(f"loopledger up did not report the demo scenario:\n{output}")
    return {
        "seconds_to_serve": round(seconds, 1),
        "actions": int(seeded.group(1).replace(",", "")),
        "seed_seconds": float(seeded.group(2)),
    }


def baseline_seed(data: Path) -> float:
    """Seconds to seed the default scenario one action per block, on a fresh anvil."""
    settings = Settings(chain="anvil", data_dir=data, anvil_port=_free_port())  # type: ignore[arg-type]
    pilots = load_pilots()
    chain = AnvilChain.start(settings)
    try:
        artifacts = build(project_root(), project_root() / "cache" / "loopledger")
        manifest, _ = deploy(
            chain, artifacts, pilots, data / "manifest.json", admins=dev_admins(chain, pilots)
        )
        report = seed_scenario(Suite(chain, manifest, artifacts), pilots, batch=False)
        assert report is not None
        return report.seconds
    finally:
        chain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", action="store_true", help="also seed one action per block")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopledger-startup-") as folder:
        result: dict[str, float] = first_start(Path(folder) / "data", args.timeout)
        if args.baseline:
            baseline = baseline_seed(Path(folder) / "baseline")
            result["baseline_seed_seconds"] = round(baseline, 1)
            result["seed_speedup"] = round(baseline / max(result["seed_seconds"], 1.0), 1)
    result["goal_seconds"] = GOAL_SECONDS
    print(json.dumps(result))


if __name__ == "__main__":
    main()
