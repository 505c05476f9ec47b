"""Opening the pieces a command needs: settings -> artifacts -> chain -> deployment -> suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.build import Artifact, build
from ledger.chain import Chain, connect
from ledger.clients import Suite
from ledger.deploy import Manifest, deploy
from ledger.errors import ConfigError
from ledger.settings import Settings
from pilots.model import Pilot, load_pilots

__all__ = ["Runtime", "dev_admins", "open_runtime", "relayer_account"]


def dev_admins(chain: Chain, pilots: list[Pilot]) -> dict[int, LocalAccount]:
    """On a development chain, pilot i's admin is funded account i (account 0 is the operator)."""
    if len(chain.accounts) <= len(pilots):
        return {}
    return {p.id: chain.accounts[p.id] for p in pilots}


def relayer_account(settings: Settings, chain: Chain, pilots: list[Pilot]) -> LocalAccount:
    """The key that sends relayed batches: never the operator's, and with no role anywhere.

    On a development chain it is the last funded account; on a network it is
    ``LOOPLEDGER_RELAYER_KEY``. It sits in the internet-facing relayer, so a leak costs gas
    money, not the pilots' administration."""
    if settings.local:
        if len(chain.accounts) <= len(pilots) + 1:
            raise ConfigError("the development chain has no spare account for the relayer")
        return chain.accounts[-1]
    if not settings.relayer_key:
        raise ConfigError(
            "set LOOPLEDGER_RELAYER_KEY: a funded key with no role that pays for relayed "
            "requests (not the operator key)"
        )
    try:
        account: LocalAccount = Account.from_key(settings.relayer_key)
    except (ValueError, TypeError):
        raise ConfigError("LOOPLEDGER_RELAYER_KEY is not a hex private key") from None
    if chain.accounts and account.address == chain.accounts[0].address:
        raise ConfigError(
            "LOOPLEDGER_RELAYER_KEY is the operator's key: give the relayer a key of its own"
        )
    return account


@dataclass
class Runtime:
    settings: Settings
    artifacts: dict[str, Artifact]
    chain: Chain
    pilots: list[Pilot]
    manifest: Manifest
    suite: Suite
    newly_deployed: bool


@contextmanager
def open_runtime(
    settings: Settings, *, fresh: bool = False, progress: Callable[[str], None] = lambda _: None
) -> Iterator[Runtime]:
    """Build, connect, deploy if needed; closes the chain (stopping anvil) on exit."""
    progress("compiling contracts")
    artifacts = build(settings.root, settings.build_cache)
    pilots = load_pilots()
    progress(f"connecting to {settings.chain}")
    chain = connect(settings)
    try:
        manifest, new = deploy(
            chain,
            artifacts,
            pilots,
            settings.manifest_path,
            fresh=fresh,
            admins=dev_admins(chain, pilots),
            progress=progress,
        )
        yield Runtime(
            settings, artifacts, chain, pilots, manifest, Suite(chain, manifest, artifacts), new
        )
    finally:
        chain.close()


@contextmanager
def scratch_suite(*, port: int | None = None) -> Iterator[Suite]:
    """A throwaway anvil chain on a free port with the suite deployed; gone on exit (benchmarks)."""
    import socket
    import tempfile
    from pathlib import Path

    from ledger.chain import AnvilChain

    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    pilots = load_pilots()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(chain="anvil", data_dir=Path(tmp), anvil_port=port)
        artifacts = build(settings.root, settings.build_cache)
        chain = AnvilChain.start(settings, persist=False)  # a throwaway chain: no state dumps
        try:
            manifest, _ = deploy(
                chain,
                artifacts,
                pilots,
                Path(tmp) / "manifest.json",
                admins=dev_admins(chain, pilots),
            )
            yield Suite(chain, manifest, artifacts)
        finally:
            chain.close()
