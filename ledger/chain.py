"""Chain backends behind one interface: eth-tester in process, a local anvil node, or any RPC URL.

``connect(settings)`` returns a :class:`Chain` whose ``w3`` is ready to use and whose ``close()``
releases what it started. The anvil backend keeps its state in the data directory, so stopping
and starting it again keeps every block and transaction.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from ledger.errors import (
    ChainError,
    ChainIdMismatch,
    ChainUnreachable,
    ConfigError,
    PortInUse,
    ToolchainError,
)
from ledger.files import private_dir, private_file
from ledger.settings import DEV_CHAIN_ID, Settings, project_root

__all__ = ["AnvilChain", "Chain", "MemoryChain", "RpcChain", "anvil_binary", "connect"]

#: How far back a new local chain's genesis is dated.
GENESIS_LEAD_SECONDS = 400 * 86_400

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


@dataclass
class AnvilChain(Chain):
    """A local anvil node that LoopLedger starts, waits for and stops; state kept on disk."""

    process: subprocess.Popen[bytes] | None = None
    state_file: Path | None = None
    url: str = ""

    @classmethod
    def start(
        cls, settings: Settings, *, state_dir: Path | None = None, persist: bool = True
    ) -> AnvilChain:
        """Start anvil; with `persist` its state is kept in `state_dir` (default: the data
        directory) across restarts, without it the chain is throwaway (benchmarks)."""
        binary = anvil_binary(settings.root)
        host, port = settings.anvil_host, settings.anvil_port
        if not _port_free(host, port):
            raise PortInUse(
                f"Port {port} on {host} is in use, so anvil cannot start: stop the program using it "
                "or choose another port with LOOPLEDGER_ANVIL_PORT."
            )
        state_dir = private_dir(state_dir or settings.data_path)
        state_file = state_dir / "anvil-state.json"
        if state_file.exists():
            private_file(state_file)  # anvil rewrites it in place: tighten a wider old one
        log = private_file(state_dir / "anvil.log").open("ab")
        args = [
            str(binary),
            "--host", host,
            "--port", str(port),
            "--chain-id", str(DEV_CHAIN_ID),
            "--accounts", str(settings.anvil_accounts),
            "--mnemonic", ANVIL_MNEMONIC,
            "--gas-limit", "60000000",
            "--code-size-limit", "49152",
            # Past blocks' states beyond those anvil keeps in memory would go to ~/.foundry/anvil/tmp,
            # which a killed anvil never clears (tens of GB over many runs). Nothing here reads
            # state at an old block: calls are at "latest", the indexer reads logs and headers.
            "--max-persisted-states", "0",
        ]  # fmt: skip
        if persist:
            # Blocks, transactions and logs are in every dump; a periodic dump bounds what a
            # hard kill can lose, a clean stop dumps everything.
            args += ["--state", str(state_file), "--state-interval", "10"]
        if not (persist and state_file.exists()):
            # A new chain starts its clock a little over a year back, so that the demo scenario
            # can lay a year of history that ends today (block times must only move forward).
            args += ["--timestamp", str(int(time.time()) - GENESIS_LEAD_SECONDS)]
        if settings.anvil_block_time:
            args += ["--block-time", str(settings.anvil_block_time)]
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        url = f"http://{host}:{port}"
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": settings.rpc_timeout}))
        chain = cls(w3=w3, accounts=dev_accounts(settings.anvil_accounts), process=process,
                    state_file=state_file if persist else None, url=url)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise ChainError(
                    f"anvil exited with code {process.returncode} while starting; see {state_dir / 'anvil.log'}."
                )
            with contextlib.suppress(Exception):
                if w3.is_connected():
                    return chain
            if time.monotonic() > deadline:
                chain.close()
                raise ChainUnreachable(
                    f"anvil did not answer on {url} within 30 s; see {state_dir / 'anvil.log'}."
                )
            time.sleep(0.05)

    @property
    def label(self) -> str:
        kept = f"state in {self.state_file}" if self.state_file else "state not kept"
        return f"local anvil at {self.url} ({kept})"

    def close(self) -> None:
        """Stop anvil gracefully so it writes its state, then make sure it is gone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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
