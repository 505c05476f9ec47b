"""Chain backends behind one interface: eth-tester in process, a local anvil node, or any RPC URL.

``connect(settings)`` returns a :class:`Chain` whose ``w3`` is ready to use and whose ``close()``
releases what it started. The anvil backend keeps its state in the data directory, so stopping
and starting it again keeps every block and transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from ledger.anvil_state import canonical_state, decode_dump, write_atomic
from ledger.errors import (
    ChainError,
    ChainIdMismatch,
    ChainUnreachable,
    ConfigError,
    PortInUse,
    StateLost,
    ToolchainError,
)
from ledger.files import private_dir, private_file
from ledger.runfile import RunInfo, pid_alive, read_run, remove_run, write_run
from ledger.settings import DEV_CHAIN_ID, Settings, project_root

__all__ = [
    "AnvilChain",
    "Chain",
    "MemoryChain",
    "RpcChain",
    "anvil_binary",
    "bring_clock_to_present",
    "connect",
]

#: How far back a new local chain's genesis is dated.
GENESIS_LEAD_SECONDS = 400 * 86_400

#: How far behind real time a development chain's clock may be before it is moved (seconds).
CLOCK_TOLERANCE = 60

#: The mnemonic every anvil node uses unless told otherwise (public, for development only).
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass
class Chain(ABC):
    """A connected chain and the accounts LoopLedger may sign with on it."""

    w3: Web3
    accounts: list[LocalAccount] = field(default_factory=list)

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @property
    def genesis_hash(self) -> str:
        return "0x" + bytes(self.w3.eth.get_block(0)["hash"]).hex()

    @property
    def operator(self) -> LocalAccount:
        if not self.accounts:
            raise ConfigError("No operator key: set LOOPLEDGER_OPERATOR_KEY for a network chain.")
        return self.accounts[0]

    @property
    @abstractmethod
    def label(self) -> str:
        """Human-readable description of the backend."""

    def close(self) -> None:  # noqa: B027 - backends without resources need no cleanup
        """Release whatever the backend started."""

    def __enter__(self) -> Chain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class MemoryChain(Chain):
    """eth-tester with py-evm, in process: for small unit tests."""

    @classmethod
    def start(cls) -> MemoryChain:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3.providers.eth_tester import EthereumTesterProvider

        params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": 30_000_000})
        backend = PyEVMBackend(genesis_parameters=params)
        tester = EthereumTester(backend)
        w3 = Web3(EthereumTesterProvider(tester))
        keys = [k.to_bytes() for k in backend.account_keys]
        return cls(w3=w3, accounts=[Account.from_key(k) for k in keys])

    @property
    def label(self) -> str:
        return "in-process eth-tester"


def anvil_binary(root: Path | None = None) -> Path:
    root = root or project_root()
    binary = root / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if not binary.exists():
        raise ToolchainError(
            f"anvil is not installed in {root}/node_modules: run `npm ci` in {root}."
        )
    return binary


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def dev_accounts(count: int) -> list[LocalAccount]:
    """The funded accounts of an anvil node started with the default mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(count)
    ]


#: Files of a data directory that belong to its local chain (set aside together when it is lost).
CHAIN_FILES = (
    "anvil-state.json",
    "deployment-anvil.json",
    "index-anvil.sqlite",
    "index-anvil.sqlite-wal",
    "index-anvil.sqlite-shm",
    "demo-access.json",
)


def _set_aside(state_dir: Path, reason: str) -> StateLost:
    """Move the unreadable chain state and what was built on it out of the way; the error to raise."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = state_dir / f"lost-{stamp}"
    aside.mkdir(parents=True, exist_ok=True)
    for name in CHAIN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).replace(aside / name)
    return StateLost(
        f"The local chain's state in {state_dir / 'anvil-state.json'} cannot be read ({reason}). It was "
        f"moved to {aside} with the deployment and index built on it; run the command again to start a "
        "new chain (`loopledger up` deploys and seeds the demo anew)."
    )


def _prepare_state(state_file: Path) -> None:
    """Rewrite the state file with the canonical chain only, or set it aside when unreadable."""
    try:
        raw = json.loads(state_file.read_text())
        state = canonical_state(raw)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _set_aside(state_file.parent, f"{type(exc).__name__}: {exc}") from exc
    if len(state["blocks"]) != len(raw.get("blocks") or []):
        write_atomic(state_file, json.dumps(state))


def _answers(url: str) -> bool:
    with contextlib.suppress(Exception):
        return bool(Web3(HTTPProvider(url, request_kwargs={"timeout": 3})).is_connected())
    return False


@dataclass
class AnvilChain(Chain):
    """A local anvil node that LoopLedger starts, waits for and stops; state kept on disk.

    The process that starts the node owns it: it saves the node's state every
    `save_interval` seconds when blocks were added, and when it stops the node. Another process
    on the same data directory attaches to the running node (found through the run file) and
    leaves it running; a node whose owner died is taken over by the next process.
    """

    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    state_file: Path | None = None
    url: str = ""
    owned: bool = True
    save_interval: float = 10.0
    _saved_head: int = -1
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _saver: threading.Thread | None = None

    @classmethod
    def start(
        cls, settings: Settings, *, state_dir: Path | None = None, persist: bool = True
    ) -> AnvilChain:
        """Start anvil, or use the one already running on the data directory.

        With `persist` its state is kept in `state_dir` (default: the data directory) across
        restarts; without it the chain is throwaway (benchmarks)."""
        state_dir = private_dir(state_dir or settings.data_path)
        state_file = state_dir / "anvil-state.json"
        if state_file.exists():
            private_file(state_file)  # tighten a wider old one
        if persist:
            running = cls._running(settings, state_dir, state_file)
            if running is not None:
                return running
        binary = anvil_binary(settings.root)
        host, port = settings.anvil_host, settings.anvil_port
        if not _port_free(host, port):
            raise PortInUse(
                f"Port {port} on {host} is in use, so anvil cannot start: stop the program using it "
                "or choose another port with LOOPLEDGER_ANVIL_PORT."
            )
        args = [
            str(binary),
            "--host",
            host,
            "--port",
            str(port),
            "--chain-id",
            str(DEV_CHAIN_ID),
            "--accounts",
            str(settings.anvil_accounts),
            "--mnemonic",
            ANVIL_MNEMONIC,
            "--gas-limit",
            "60000000",
            "--code-size-limit",
            "49152",
            # Past blocks' states beyond those anvil keeps in memory would go to ~/.foundry/anvil/tmp,
            # which a killed anvil never clears (tens of GB over many runs). Nothing here reads
            # state at an old block: calls are at "latest", the indexer reads logs and headers.
            "--max-persisted-states",
            "0",
        ]
        if persist and state_file.exists():
            # Loaded only: anvil's own dumps are not atomic and keep stray genesis blocks, so the
            # owner writes the file itself (see ledger.anvil_state).
            _prepare_state(state_file)
            args += ["--load-state", str(state_file)]
        else:
            # A new chain starts its clock a little over a year back, so that the demo scenario
            # can lay a year of history that ends today (block times must only move forward).
            args += ["--timestamp", str(int(time.time()) - GENESIS_LEAD_SECONDS)]
        if settings.anvil_block_time:
            args += ["--block-time", str(settings.anvil_block_time)]
        log = private_file(state_dir / "anvil.log").open("ab")
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        url = f"http://{host}:{port}"
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": settings.rpc_timeout}))
        chain = cls(
            w3=w3,
            accounts=dev_accounts(settings.anvil_accounts),
            process=process,
            pid=process.pid,
            state_file=state_file if persist else None,
            url=url,
        )
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise ChainError(
                    f"anvil exited with code {process.returncode} while starting; see {state_dir / 'anvil.log'}."
                )
            with contextlib.suppress(Exception):
                if w3.is_connected():
                    break
            if time.monotonic() > deadline:
                chain.close()
                raise ChainUnreachable(
                    f"anvil did not answer on {url} within 30 s; see {state_dir / 'anvil.log'}."
                )
            time.sleep(0.05)
        if persist:
            chain._own(state_dir)
        return chain

    @classmethod
    def _running(cls, settings: Settings, state_dir: Path, state_file: Path) -> AnvilChain | None:
        """The node the run file names, attached to (its owner lives) or taken over (it died)."""
        info = read_run(state_dir)
        if info is None or info.chain != "anvil" or not pid_alive(info.anvil_pid):
            return None
        if not _answers(info.chain_url):
            return None
        w3 = Web3(HTTPProvider(info.chain_url, request_kwargs={"timeout": settings.rpc_timeout}))
        chain = cls(
            w3=w3,
            accounts=dev_accounts(settings.anvil_accounts),
            pid=info.anvil_pid,
            state_file=state_file,
            url=info.chain_url,
        )
        if pid_alive(info.owner_pid):
            chain.owned = False
        else:
            chain._own(state_dir)
        return chain

    def _own(self, state_dir: Path) -> None:
        """Become the node's owner: publish the run file and save the state periodically."""
        write_run(
            state_dir,
            RunInfo(
                owner_pid=os.getpid(),
                chain="anvil",
                chain_url=self.url,
                chain_id=DEV_CHAIN_ID,
                anvil_pid=self.pid,
            ),
        )
        self.save_state()
        self._saver = threading.Thread(target=self._save_loop, name="anvil-state", daemon=True)
        self._saver.start()

    def _save_loop(self) -> None:
        while not self._stop.wait(self.save_interval):
            with contextlib.suppress(Exception):  # the node is gone: the last saved state stands
                if int(self.w3.eth.block_number) != self._saved_head:
                    self.save_state()

    def save_state(self) -> None:
        """Write the node's state to the state file now (atomically; the owner only)."""
        if self.state_file is None or not self.owned:
            return
        with self._lock:
            answer = self.w3.provider.make_request("anvil_dumpState", [])  # type: ignore[arg-type]
            state = canonical_state(decode_dump(str(answer["result"])))
            write_atomic(self.state_file, json.dumps(state))
            self._saved_head = int(state["blocks"][-1]["header"]["number"], 16)

    @property
    def label(self) -> str:
        kept = f"state in {self.state_file}" if self.state_file else "state not kept"
        shared = "" if self.owned else ", run by another LoopLedger process"
        return f"local anvil at {self.url} ({kept}{shared})"

    def close(self) -> None:
        """Save the state and stop anvil (when this process owns it), then make sure it is gone."""
        if not self.owned:
            return
        self._stop.set()
        if self._saver is not None:
            self._saver.join(timeout=30)
            self._saver = None
        try:
            self._stop_node()
        finally:
            if self.state_file is not None:
                remove_run(self.state_file.parent, os.getpid())

    def _stop_node(self) -> None:
        process, self.process = self.process, None
        pid, self.pid = self.pid, None
        if pid is None or not pid_alive(pid):
            if process is not None:
                process.poll()
            return
        with contextlib.suppress(Exception):
            self.save_state()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        if process is not None:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        else:
            deadline = time.monotonic() + 20
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)


@dataclass
class RpcChain(Chain):
    """Any EVM JSON-RPC endpoint, checked against the expected chain id."""

    url: str = ""

    @classmethod
    def connect(cls, settings: Settings) -> RpcChain:
        url = settings.chain
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": settings.rpc_timeout}))
        try:
            chain_id = int(w3.eth.chain_id)
        except Exception as exc:
            raise ChainUnreachable(
                f"Cannot reach the JSON-RPC endpoint {url} ({type(exc).__name__}): check the URL and the "
                "network, or use LOOPLEDGER_CHAIN=anvil for a local chain."
            ) from exc
        if settings.chain_id is None:
            raise ConfigError(
                f"{url} reports chain id {chain_id}; set LOOPLEDGER_CHAIN_ID={chain_id} to confirm it is the "
                "chain you mean to use."
            )
        if chain_id != settings.chain_id:
            raise ChainIdMismatch(
                f"{url} is chain {chain_id}, but LOOPLEDGER_CHAIN_ID is {settings.chain_id}: point "
                "LOOPLEDGER_CHAIN at the right endpoint or correct LOOPLEDGER_CHAIN_ID."
            )
        accounts = [Account.from_key(settings.operator_key)] if settings.operator_key else []
        return cls(w3=w3, accounts=accounts, url=url)

    @property
    def label(self) -> str:
        return f"JSON-RPC endpoint {self.url}"


def bring_clock_to_present(w3: Web3) -> bool:
    """Move a development chain's clock to now (after history was laid down in the past).

    The pending block shows the date the next record would get; when it is behind, one empty
    block is mined at the current time and anvil dates every later block from it. Returns whether
    the clock had to move.
    """
    now = int(time.time())
    if int(w3.eth.get_block("pending")["timestamp"]) >= now - CLOCK_TOLERANCE:
        return False
    w3.provider.make_request("evm_setNextBlockTimestamp", [now])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return True


def connect(settings: Settings) -> Chain:
    """Connect to (or start) the chain the settings name."""
    if settings.chain == "memory":
        return MemoryChain.start()
    if settings.chain == "anvil":
        chain = AnvilChain.start(settings)
        if settings.chain_id is not None and settings.chain_id != DEV_CHAIN_ID:
            chain.close()
            raise ChainIdMismatch(
                f"anvil runs chain {DEV_CHAIN_ID}, but LOOPLEDGER_CHAIN_ID is {settings.chain_id}."
            )
        return chain
    return RpcChain.connect(settings)
