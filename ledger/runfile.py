"""The run file: how the commands find a LoopLedger system already running on a data directory.

``loopledger up`` (and ``loopledger node``) write ``run.json`` in the data directory: which
process owns the system, the local anvil node's process and URL, the chain setting, the index
store and the gateway's address. Another command on the same data directory reads it and uses
that chain and store instead of starting its own (anvil's port would be taken). A run file whose
owner has died is stale: its anvil, when still alive, is taken over by the next owner.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.anvil_state import write_atomic

__all__ = ["RunInfo", "pid_alive", "read_run", "remove_run", "run_path", "write_run"]


class RunInfo(BaseModel):
    """What a running system publishes about itself."""

    model_config = ConfigDict(frozen=True)
    owner_pid: int
    chain: str
    chain_url: str
    chain_id: int
    anvil_pid: int | None = None
    database_url: str | None = None
    api_url: str | None = None


def run_path(data_dir: Path) -> Path:
    return data_dir / "run.json"


def pid_alive(pid: int | None) -> bool:
    """Whether a process of this id exists (and is not a zombie we could reap)."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


def read_run(data_dir: Path) -> RunInfo | None:
    """The run file of a data directory, or None when there is none (or it cannot be read)."""
    try:
        return RunInfo.model_validate_json(run_path(data_dir).read_text())
    except (OSError, ValidationError):
        return None


def write_run(data_dir: Path, info: RunInfo) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_path(data_dir), info.model_dump_json(indent=2))


def remove_run(data_dir: Path, owner_pid: int) -> None:
    """Remove the run file if this owner wrote it (a newer owner's file stays)."""
    info = read_run(data_dir)
    if info is not None and info.owner_pid == owner_pid:
        with contextlib.suppress(FileNotFoundError):
            run_path(data_dir).unlink()
