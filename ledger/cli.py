"""The ``loopledger`` command."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from ledger.errors import LedgerError
from ledger.files import PRIVATE_UMASK
from ledger.settings import Settings

if TYPE_CHECKING:
    from ledger.runtime import Runtime
    from pilots.model import Pilot

app = typer.Typer(
    name="loopledger",
    help="LoopLedger: a blockchain-backed ledger for circular, collaborative production in cities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

ChainOption = Annotated[
    str | None,
    typer.Option(
        "--chain",
        help="memory, anvil or an http(s):// JSON-RPC URL (default: LOOPLEDGER_CHAIN or anvil)",
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option("--database-url", help="index store URL (default: SQLite in the data dir)"),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="data directory (default: LOOPLEDGER_DATA_DIR or ./.loopledger)"
    ),
]


def _settings(chain: str | None = None, data_dir: Path | None = None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if chain is not None:
        overrides["chain"] = chain
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = Settings(**overrides)
        if settings.data_path.exists() and not settings.data_path.is_dir():
            raise LedgerError(
                f"the data directory {settings.data_path} is a file: choose a directory with --data-dir or LOOPLEDGER_DATA_DIR"
            )
        return settings.model_copy(update=_running_system(settings))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise LedgerError(f"Invalid settings: {problems}") from exc


def _running_system(settings: Settings) -> dict[str, Any]:
    """The chain and store of a system running on this data directory, for what was not named.

    `loopledger up` publishes them in the run file; a setting given on the command line or in
    the environment wins."""
    from ledger.runfile import pid_alive, read_run

    info = read_run(settings.data_path)
    if info is None or not pid_alive(info.owner_pid):
        return {}
    given = settings.model_fields_set
    update: dict[str, Any] = {}
    if "chain" not in given:
        update["chain"] = info.chain
        if info.chain not in ("memory", "anvil"):
            update["chain_id"] = info.chain_id
    if "database_url" not in given and info.database_url is not None:
        update["database_url"] = info.database_url
    return update


def _serving(settings: Settings) -> int | None:
    """The pid of a `loopledger up` serving on this data directory, if one runs."""
    from ledger.runfile import pid_alive, read_run

    info = read_run(settings.data_path)
    if info is not None and info.api_url is not None and pid_alive(info.owner_pid):
        return info.owner_pid
    return None


def _refuse_if_serving(settings: Settings, what: str) -> None:
    """Stop a command that must not run beside a `loopledger up` on the same data directory."""
    from ledger.runfile import read_run

    info = read_run(settings.data_path)
    if info is not None and _serving(settings) is not None:
        raise LedgerError(
            f"LoopLedger is running on {settings.data_path} (pid {info.owner_pid}, {info.api_url}); stop it "
            f"with Ctrl-C before you {what}, or use another --data-dir."
        )


def _pilot_of(pilots: Sequence[Pilot], code: str) -> Pilot:
    """The pilot of a code given on the command line (any case), or a clear error."""
    found = next((p for p in pilots if p.code == code.upper()), None)
    if found is None:
        raise LedgerError(f"unknown pilot {code!r}: use one of {', '.join(p.code for p in pilots)}")
    return found


def friendly(fn: F) -> F:
    """Turn LoopLedger errors into one clear line and a non-zero exit code (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerError as exc:
            _fail(str(exc))
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            _fail(f"cannot use{where}: {exc.strerror or exc}; check the path and its permissions")
        except (typer.Exit, KeyboardInterrupt):
            raise
        except Exception as exc:  # the last guard: a user never gets a traceback
            _fail(
                f"unexpected {type(exc).__name__}: {exc} (a fault of LoopLedger: please report it "
                "with the command you ran)"
            )

    return wrapper  # type: ignore[return-value]


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(
        f"[bold red]error:[/] {' '.join(message.split())}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(code=code)


def _output_file(out: Path | None) -> None:
    """Refuse an output file whose directory is missing before any work is done."""
    if out is not None and not out.parent.is_dir():
        raise LedgerError(
            f"the directory {out.parent} of --out {out} does not exist: create it or choose another --out"
        )


def _block_range(from_block: int | None, to_block: int | None) -> None:
    if from_block is not None and to_block is not None and from_block > to_block:
        raise LedgerError(
            f"--from-block {from_block} is after --to-block {to_block}: give a range that runs forward"
        )


def _private_key(line: str) -> bytes:
    """The private key a user piped in (64 hex digits, 0x optional), or a clear error."""
    text = line.strip().removeprefix("0x")
    if not text:
        raise LedgerError(
            "no private key on standard input: pipe in 64 hex digits, e.g. `echo $KEY | loopledger keys add NAME --import`"
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise LedgerError(
            "the private key on standard input is not hex: give 64 hex digits (0x optional)"
        ) from None
    if len(key) != 32 or not any(key):
        raise LedgerError(
            f"the private key on standard input has {len(key)} bytes: a key is 32 bytes (64 hex digits), not all zero"
        )
    return key


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@app.command()
@friendly
def build(data_dir: DataDirOption = None) -> None:
    """Compile the contracts (npm solc through scripts/solc) and cache the artifacts."""
    from ledger.build import DEPLOYABLE
    from ledger.build import build as compile_all

    settings = _settings(data_dir=data_dir)
    with console.status("compiling contracts"):
        artifacts = compile_all(settings.root, settings.build_cache)
    for name in DEPLOYABLE:
        size = (len(artifacts[name].runtime_bytecode) - 2) // 2
        console.print(f"{name:<20} {size:>6} bytes runtime  {artifacts[name].runtime_hash[:18]}")


@app.command()
@friendly
def deploy(
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh", help="deploy anew even if a manifest exists (it is kept as a backup)"
        ),
    ] = False,
) -> None:
    """Deploy the contract suite and register the seven pilots, once per chain.

    Run again on the same chain, it reports the existing deployment and changes nothing.
    """
    from ledger.runtime import open_runtime
    from ledger.store.db import Store

    settings = _settings(chain, data_dir)
    if fresh:
        _refuse_if_serving(settings, "deploy anew")
    with (
        console.status("deploying") as status,
        open_runtime(settings, fresh=fresh, progress=status.update) as rt,
    ):
        verb = "deployed" if rt.newly_deployed else "already deployed"
        console.print(f"[green]{verb}[/] on chain {rt.manifest.chain_id} ({rt.chain.label})")
        for name, address in rt.manifest.addresses.items():
            console.print(f"  {name:<20} {address}")
        console.print(f"  manifest             {settings.manifest_path}")
        if fresh and rt.newly_deployed:
            # The index holds the previous deployment's records: served on, they would mix
            # with the new deployment's figures. They stay on chain, so nothing is lost.
            Store.open(settings.effective_database_url).clear()
            console.print(
                f"  the index {settings.effective_database_url} was emptied: run `loopledger index`",
                soft_wrap=True,
                highlight=False,
            )


@app.command()
@friendly
def node(data_dir: DataDirOption = None) -> None:
    """Run the local anvil chain (state kept in the data directory) until Ctrl-C."""
    from ledger.chain import AnvilChain

    settings = _settings("anvil", data_dir)
    _stop_on_sigterm()
    chain = AnvilChain.start(settings)
    try:
        console.print(
            f"[green]running[/] {chain.label}; block {chain.w3.eth.block_number}. Ctrl-C stops it."
        )
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        chain.close()
        console.print("anvil stopped; its state is saved.")


@app.command()
@friendly
def index(
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="keep following the head until Ctrl-C, retrying through RPC and database faults",
        ),
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="drop the indexed rows and index from the deployment")
    ] = False,
) -> None:
    """Index the deployment's events into the SQL store (backfill to the head, or --follow it)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ledger.indexer import indexer_for
    from ledger.indexer.follow import Follower
    from ledger.store.db import Store

    settings = _settings(chain, data_dir, database_url=database_url)
    _stop_on_sigterm()
    if rebuild:
        _refuse_if_serving(settings, "rebuild its index")
    serving = _serving(settings)
    with _runtime_when_reachable(settings) as rt:
        store = Store.open(settings.effective_database_url)
        if serving is not None:
            # One writer per store: the running system's indexer follows the head already.
            head = int(rt.chain.w3.eth.block_number) - settings.confirmations
            deadline = time.monotonic() + 120
            with console.status(
                f"the running system (pid {serving}) indexes this store; waiting for block {head:,}"
            ):
                while (c := store.checkpoint()) is None or c.block_number < head:
                    if time.monotonic() > deadline:
                        raise LedgerError(
                            f"the running system (pid {serving}) has not indexed block {head:,} "
                            "within 120 s: see its output"
                        )
                    time.sleep(0.2)
            console.print(
                f"indexed to block {c.block_number:,} by the running system (pid {serving}) into "
                f"{settings.effective_database_url}",
                soft_wrap=True,
                highlight=False,
            )
            return
        if rebuild:
            store.clear()
        indexer = indexer_for(
            rt.suite,
            store,
            confirmations=settings.confirmations,
            initial_range=settings.index_range,
            max_range=settings.index_range_max,
            pipeline=settings.index_pipeline,
        )
        started, total = time.monotonic(), 0
        columns = (
            TextColumn("[bold]indexing"),
            BarColumn(),
            TextColumn("block {task.completed:,.0f}/{task.total:,.0f}"),
            TextColumn("{task.fields[events]:,} events"),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("index", total=1, events=0, rate=0.0)

            def show(p: object) -> None:
                nonlocal total
                from ledger.indexer import Progress as Step

                assert isinstance(p, Step)
                total += p.events
                rate = total / max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=p.block, total=p.head, events=total, rate=rate)
                if p.reorg_to is not None:
                    console.print(f"[yellow]reorg[/]: rolled back to block {p.reorg_to}")
                if p.malformed:
                    console.print(
                        f"[yellow]malformed[/]: {p.malformed} event(s) up to block {p.block} did not decode; "
                        "stored raw in table malformed_log, indexing goes on"
                    )

            def retrying(exc: BaseException, wait: float) -> None:
                console.print(
                    f"[yellow]retrying in {wait:.1f} s[/]: {type(exc).__name__}: {exc}",
                    highlight=False,
                    soft_wrap=True,
                )

            with contextlib.suppress(KeyboardInterrupt):
                if follow:
                    Follower(indexer).run(on_progress=show, on_retry=retrying)
                else:
                    indexer.run(on_progress=show)
        checkpoint = store.checkpoint()
        console.print(
            f"indexed to block {checkpoint.block_number if checkpoint else '-'}: {total:,} events this run "
            f"into {settings.effective_database_url}"
        )


@app.command()
@friendly
def metrics(
    period: Annotated[
        list[str],
        typer.Option(
            "--period", help="2026, 2026-Q2, 2026-03, 2026-01-01..2026-06-30 or all; repeatable"
        ),
    ] = ["all"],  # noqa: B006
    pilot: Annotated[
        list[str], typer.Option("--pilot", help="pilot code or id (default: all seven); repeatable")
    ] = [],  # noqa: B006
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or json")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="output file (default: standard output)")
    ] = None,
    monthly: Annotated[
        bool, typer.Option("--monthly", help="one row per month of each period")
    ] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Circularity metrics per pilot and period from the index store (run `loopledger index` first)."""
    from ledger.circularity.period import Period
    from ledger.circularity.records import load_records
    from ledger.circularity.report import export, metric_table, within_data
    from ledger.store.db import Store
    from pilots.model import load_pilots

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if fmt not in ("csv", "parquet", "json"):
        raise LedgerError(f"unknown --format {fmt!r}: use csv, parquet or json")
    if fmt == "parquet" and out is None:
        raise LedgerError("--format parquet needs --out FILE")
    _output_file(out)
    try:
        periods = [Period.parse(p) for p in period]
    except ValueError as exc:
        raise LedgerError(str(exc)) from exc
    known = {p.code: p.id for p in load_pilots()} | {str(p.id): p.id for p in load_pilots()}
    unknown = [p for p in pilot if p.upper() not in known and p not in known]
    if unknown:
        raise LedgerError(
            f"unknown pilot {', '.join(unknown)}: use one of {', '.join(sorted(k for k in known if not k.isdigit()))}"
        )
    ids = sorted({known.get(p.upper(), known.get(p, 0)) for p in pilot}) or sorted(
        set(known.values())
    )
    store = Store.open(settings.effective_database_url)
    records = load_records(store.engine)
    # 'all' is the data's extent (as in the API), so --monthly gives the data's months.
    periods = [within_data(p, records) for p in periods]
    if monthly:
        periods = [m for p in periods for m in p.months() if p.start < p.end]
    codes = {p.id: p.code for p in load_pilots() if p.id in ids}
    with console.status("computing metrics") as status:
        table = metric_table(
            records,
            codes,
            periods,
            progress=lambda done, total: status.update(
                f"computing metrics: {done:,}/{total:,} rows"
            ),
        )
    text = export(table, out, fmt)
    if text is not None:
        typer.echo(text, nl=False)
    else:
        console.print(f"wrote {len(table)} rows to {out}")


@app.command()
@friendly
def up(
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="gateway port (default: LOOPLEDGER_API_PORT or 8000)"),
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo", help="seed the demo scenario once (default: on for local chains)"
        ),
    ] = None,
) -> None:
    """Start or reuse the chain, deploy if needed, seed the demo once, index, and serve the
    gateway and dashboards until Ctrl-C."""
    import threading

    import uvicorn

    from api.assemble import custody_of, relayer_for, write_service
    from api.demo import demo_access
    from api.demo_exchange import seed_exchange
    from api.health import HealthPolicy
    from api.main import create_app
    from api.passkeys import PasskeyService
    from api.state import GatewayState
    from ledger.chain import AnvilChain, _port_free, bring_clock_to_present
    from ledger.indexer import indexer_for
    from ledger.indexer.follow import Follower
    from ledger.runfile import RunInfo, remove_run, write_run
    from ledger.runtime import open_runtime, relayer_account
    from ledger.store.db import Store
    from ledger.vocabulary import Role
    from pilots.seed import DemoCustody, demo_account, seed_declarations, seed_scenario

    settings = _settings(chain, data_dir, database_url=database_url, api_port=port)
    _refuse_if_serving(settings, "start another gateway")
    _stop_on_sigterm()
    if not _port_free(settings.api_host, settings.api_port):
        raise LedgerError(
            f"Port {settings.api_port} on {settings.api_host} is in use, so the gateway cannot start: stop the "
            "program using it or choose another port with --port or LOOPLEDGER_API_PORT."
        )
    local = settings.chain in ("memory", "anvil")
    if demo and not local:
        raise LedgerError(
            "the demo scenario is written with public demo keys: it runs on the embedded chain "
            "only (leave out --demo, or use --chain anvil)"
        )
    with open_runtime(settings) as rt:
        if demo if demo is not None else local:
            with console.status("seeding the demo scenario") as status:
                report = seed_scenario(
                    rt.suite,
                    rt.pilots,
                    seed=settings.demo_seed,
                    scale=settings.demo_scale,
                    progress=lambda done, total: status.update(
                        f"seeding the demo scenario: {done:,}/{total:,} actions"
                    ),
                )
            if report is None:
                console.print("demo scenario: already on the chain")
            else:
                console.print(
                    f"demo scenario: {report.actions:,} actions in {report.seconds:.0f} s"
                )
        if settings.chain == "anvil":
            # A new local chain starts its clock in the past (room for the demo's history).
            bring_clock_to_present(rt.chain.w3)
        store = Store.open(settings.effective_database_url)
        with console.status("indexing"):
            indexer_for(rt.suite, store, confirmations=settings.confirmations).run()
        if demo if demo is not None else local:
            # Consented target-group declarations live off chain, in the store.
            seed_declarations(store, rt.pilots, seed=settings.demo_seed)
        stop = threading.Event()
        # The embedded shape: the supervised follower in a thread of this process.
        follower = Follower(
            indexer_for(rt.suite, store, confirmations=settings.confirmations), poll=0.2
        )
        thread = threading.Thread(target=follower.run, kwargs={"stop": stop}, daemon=True)
        thread.start()
        demo_keys = [DemoCustody(settings.demo_seed, rt.pilots)] if local else []
        custody = custody_of(settings.data_path, settings.keystore_secret(), *demo_keys)
        relayer = relayer_for(
            rt.suite, store, custody, relayer_account(settings, rt.chain, rt.pilots)
        )
        relaying = threading.Thread(target=relayer.run, args=(stop,), name="relayer", daemon=True)
        relaying.start()
        writes = write_service(
            rt.suite,
            store,
            custody,
            data_dir=settings.data_path,
            relayer=relayer,
            wait=settings.write_wait,
        )
        passkeys = PasskeyService(store, settings.effective_public_origin)
        gateway = GatewayState(
            store,
            rt.pilots,
            writes,
            passkeys=passkeys,
            company_prefix=settings.gs1_company_prefix,
            public_url=settings.effective_public_url,
            public_origin=settings.effective_public_origin,
            health=HealthPolicy(
                max_lag_blocks=settings.max_lag_blocks,
                confirmations=settings.confirmations,
                stale_seconds=settings.follower_stale_seconds,
            ),
        )
        if local and (demo if demo is not None else local):
            with console.status("seeding the exchange and challenges of the demo"):
                exchanged = seed_exchange(gateway, writes, seed=settings.demo_seed)
            if exchanged is not None:
                console.print(
                    f"demo exchange: {exchanged.listings} listings, {exchanged.matches} matches "
                    f"({exchanged.handed_over} handed over), {exchanged.challenges} challenges"
                )
        app = create_app(gateway)
        base = settings.effective_public_url
        lines = [
            f"[green]LoopLedger is up[/] on {rt.chain.label}",
            f"  municipalities  {base}/?pilot=LEU   (dashboard per pilot, comparison, CSV)",
        ]
        leuven = rt.pilots[0]
        demo_maker = demo_account(settings.demo_seed, leuven, "maker", 0).address
        demo_ready = local and bool(rt.suite.registry.roles_of(leuven.id, demo_maker) & Role.MAKER)
        if demo_ready:
            access = demo_access(settings.data_path, store, rt.pilots, settings.demo_seed)
            maker, member = access["LEU"]["maker"], access["LEU"]["member"]
            admin = rt.suite.chain.accounts[0].address
            maker_code = passkeys.issue_code(maker["address"], leuven.id, admin)
            member_code = passkeys.issue_code(member["address"], leuven.id, admin)
            lines += [
                f"  makers          {base}/enrol?code={maker_code}   (a Leuven maker: make a passkey)",
                f"  members         {base}/enrol?code={member_code}   (a Leuven member: make a passkey)",
                f"                  API keys of every pilot: {settings.data_path / 'demo-access.json'}",
            ]
        else:
            lines += [
                f"  makers          {base}/maker   (sign in with a passkey: staff enrol people; "
                "loopledger admin grant ADDRESS maker --pilot LEU gives the role)",
                f"  members         {base}/wallet   (sign in with a passkey from an enrolment code)",
            ]
        lines += [
            f"  impact          {base}/impact?pilot=LEU   (KPIs against targets, the seven pilots compared)",
            f"  staff           {base}/events   (events and QR check-in; staff sign in with a passkey)",
            f"                  {base}/staff   (onboard makers, roles, products, rewards, budget)",
        ]
        lines += [
            f"  auditors        {base}/audit   (provenance, trail; verification when signed in)",
            f"  apps            {base}/docs   (JSON API and OpenAPI)",
        ]
        for line in lines:
            console.print(line, soft_wrap=True, highlight=False)
        console.print("Ctrl-C stops everything; the next start finds the same data.")
        server = uvicorn.Server(
            uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning")
        )
        # Other commands on this data directory find the chain, store and gateway here.
        owns_chain = not isinstance(rt.chain, AnvilChain) or rt.chain.owned
        if settings.chain != "memory" and owns_chain:
            anvil_pid = rt.chain.pid if isinstance(rt.chain, AnvilChain) else None
            chain_url = rt.chain.url if isinstance(rt.chain, AnvilChain) else settings.chain
            write_run(
                settings.data_path,
                RunInfo(
                    owner_pid=os.getpid(),
                    chain=settings.chain,
                    chain_url=chain_url,
                    chain_id=rt.chain.chain_id,
                    anvil_pid=anvil_pid,
                    api_url=base,
                    database_url=settings.effective_database_url,
                ),
            )
        try:
            # uvicorn shuts down on Ctrl-C, then raises the signal again: that is the clean path.
            with contextlib.suppress(KeyboardInterrupt):
                server.run()
        finally:
            stop.set()
            thread.join(timeout=10)
            relaying.join(timeout=10)
            if settings.chain not in ("memory", "anvil"):
                remove_run(settings.data_path, os.getpid())
    console.print("stopped cleanly.")


@contextlib.contextmanager
def _runtime_when_reachable(settings: Settings, *, attempts: int = 30) -> Iterator[Runtime]:
    """The runtime, waiting (with backoff) while the chain's endpoint fails: a supervised
    process comes back by itself after an outage instead of exiting."""
    from ledger.errors import ChainUnreachable
    from ledger.write.rpc import redact

    delay = 0.5
    for attempt in range(attempts):
        stack = contextlib.ExitStack()
        try:
            from ledger.runtime import open_runtime

            rt = stack.enter_context(open_runtime(settings))
        except (ChainUnreachable, OSError) as exc:
            stack.close()
            if attempt == attempts - 1:
                raise ChainUnreachable(f"the chain did not answer: {redact(str(exc))}") from None
            console.print(
                f"the chain does not answer ({type(exc).__name__}); retrying in {delay:.1f} s"
            )
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        with stack:
            yield rt
        return


@app.command()
@friendly
def relay(
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the relayer: the one process that sends the store's queued writes to the chain,
    exactly once, until Ctrl-C. Start one per chain; it resumes from the queue after a crash."""
    import threading

    from api.assemble import custody_of, relayer_for
    from ledger.runtime import relayer_account
    from ledger.store.db import Store
    from pilots.seed import DemoCustody

    settings = _settings(chain, data_dir, database_url=database_url)
    _stop_on_sigterm()
    with _runtime_when_reachable(settings) as rt:
        store = Store.open(settings.effective_database_url)
        demo_keys = [DemoCustody(settings.demo_seed, rt.pilots)] if settings.local else []
        custody = custody_of(settings.data_path, settings.keystore_secret(), *demo_keys)
        account = relayer_account(settings, rt.chain, rt.pilots)
        relayer = relayer_for(rt.suite, store, custody, account)
        console.print(f"relaying as {account.address} on {rt.chain.label}; Ctrl-C stops")
        stop = threading.Event()
        try:
            relayer.run(stop)
        except KeyboardInterrupt:
            stop.set()
    console.print(f"stopped: {relayer.batches} batches, {relayer.requests} requests sent")


keys_app = typer.Typer(
    help="Keys of the gateway: custodial signing keys and API keys.", no_args_is_help=True
)
audit_app = typer.Typer(help="Audit: verify the store against the chain.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")


@keys_app.command("add")
@friendly
def keys_add(
    name: Annotated[str, typer.Argument(help="name of the key, e.g. atelier-leuven")],
    import_key: Annotated[
        bool,
        typer.Option("--import", help="read an existing private key (hex) from standard input"),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Create (or import) a maker's or member's signing key in the encrypted keystore."""
    from ledger.keystore import Keystore

    settings = _settings(data_dir=data_dir)
    private = _private_key(sys.stdin.readline()) if import_key else None
    account = Keystore(settings.data_path / "keys", settings.keystore_secret()).create(
        name, private
    )
    console.print(
        f"key {name!r}: {account.address}; next: `loopledger admin grant {account.address} maker --pilot CODE` "
        f"(pilot staff), then `loopledger keys issue {account.address}` for an API key",
        soft_wrap=True,
        highlight=False,
    )


@keys_app.command("issue")
@friendly
def keys_issue(
    address: Annotated[str, typer.Argument(help="the account the API key acts as")],
    label: Annotated[str, typer.Option("--label", help="who holds the key")] = "",
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Issue an API key for an account; it is shown once, only its hash is stored."""
    from eth_utils import is_address

    from api.auth import issue_api_key
    from ledger.store.db import Store

    if not is_address(address):
        raise LedgerError(f"{address!r} is not an Ethereum address (0x and 40 hex digits)")
    settings = _settings(data_dir=data_dir, database_url=database_url)
    key = issue_api_key(Store.open(settings.effective_database_url), address, label or address)
    typer.echo(key)


@keys_app.command("enrol")
@friendly
def keys_enrol(
    address: Annotated[str, typer.Argument(help="the person's custodial account")],
    pilot: Annotated[str, typer.Option("--pilot", help="pilot code, e.g. LEU")],
    qr: Annotated[
        bool, typer.Option("--qr", help="also draw the link as a QR code to scan with a phone")
    ] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """A one-time enrolment code with which a person makes a passkey for their custodial
    account (valid 7 days, shown once); prints the code and the link to open."""
    import segno
    from eth_utils import is_address, to_checksum_address

    from api.assemble import custody_of
    from api.passkeys import PasskeyService
    from ledger.store.db import Store
    from pilots.model import load_pilots
    from pilots.seed import DemoCustody

    if not is_address(address):
        raise LedgerError(f"{address!r} is not an Ethereum address (0x and 40 hex digits)")
    settings = _settings(data_dir=data_dir, database_url=database_url)
    pilots = load_pilots()
    found = _pilot_of(pilots, pilot)
    demo = [DemoCustody(settings.demo_seed, pilots)] if settings.local else []
    if not custody_of(settings.data_path, settings.keystore_secret(), *demo).holds(address):
        raise LedgerError(
            f"{address} has no custodial key here: add one with `loopledger keys add`"
        )
    service = PasskeyService(
        Store.open(settings.effective_database_url), settings.effective_public_origin
    )
    code = service.issue_code(to_checksum_address(address), found.id, "cli")
    link = f"{settings.effective_public_url}/enrol?code={code}"
    typer.echo(code)
    typer.echo(link)
    if qr:
        segno.make(link, error="m").terminal(compact=True)


@keys_app.command("revoke")
@friendly
def keys_revoke(
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="a file holding the API key (default: read it from standard input); never on the command line",
        ),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Revoke an API key, read from standard input or --key-file (a key given as an argument
    would stay in the shell history and in every process listing)."""
    from sqlalchemy import update

    from api.auth import hash_api_key
    from ledger.store.db import Store

    try:
        text = key_file.read_text() if key_file is not None else sys.stdin.readline()
    except OSError as exc:
        raise LedgerError(f"cannot read {key_file}: {exc.strerror}") from exc
    key = text.strip()
    if not key:
        raise LedgerError("no API key given: pipe it on standard input or pass --key-file FILE")
    settings = _settings(data_dir=data_dir, database_url=database_url)
    store = Store.open(settings.effective_database_url)
    table = store.tables["api_key"]
    with store.engine.begin() as conn:
        changed = conn.execute(
            update(table).where(table.c.key_hash == hash_api_key(key)).values(revoked=True)
        )
    if changed.rowcount == 0:
        raise LedgerError("no such API key")
    console.print("revoked")


@audit_app.command("verify")
@friendly
def audit_verify(
    pilot: Annotated[str | None, typer.Option("--pilot", help="pilot code (default: all)")] = None,
    from_block: Annotated[
        int | None, typer.Option("--from-block", min=0, help="default: the deployment block")
    ] = None,
    to_block: Annotated[
        int | None, typer.Option("--to-block", min=0, help="default: the indexed block")
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option("--gateway", help="also check the figures a running gateway publishes"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Re-read the chain and compare every row, lot and headline metric with the store (and a
    gateway's published figures). Exit code 0 only when everything matches."""
    import json

    import httpx

    from ledger.audit.verify import verify
    from ledger.runtime import open_runtime
    from ledger.store.db import Store
    from pilots.model import load_pilots

    _block_range(from_block, to_block)
    pilot_id = _pilot_of(load_pilots(), pilot).id if pilot is not None else None
    settings = _settings(chain, data_dir, database_url=database_url)
    with open_runtime(settings) as rt:
        known = {p.code: p.id for p in rt.pilots}
        head = int(rt.chain.w3.eth.block_number)
        for option, value in (("--from-block", from_block), ("--to-block", to_block)):
            if value is not None and value > head:
                raise LedgerError(
                    f"{option} {value} is beyond the chain's head, block {head}: give {head} or less"
                )
        published = None
        if gateway is not None:
            try:
                body = (
                    httpx.get(f"{gateway.rstrip('/')}/api/pilots", timeout=60)
                    .raise_for_status()
                    .json()
                )
            except httpx.HTTPError as exc:
                raise LedgerError(f"cannot read the gateway's figures at {gateway}: {exc}") from exc
            published = {int(p["id"]): p["metrics"] for p in body["data"]}
        store = Store.open(settings.effective_database_url)
        with console.status("reading the chain") as status:
            report = verify(
                rt.suite,
                store,
                from_block=from_block,
                to_block=to_block,
                pilot=pilot_id,
                pilot_ids=list(known.values()),
                published=published,
                progress=lambda b: status.update(f"reading the chain: block {b:,}"),
            )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        for mismatch in report.mismatches:
            console.print(
                f"[red]mismatch[/] {mismatch.describe()}", highlight=False, soft_wrap=True
            )
        lots = f", {report.lots_checked:,} lots" if report.lots_checked is not None else ""
        figures = f", {report.metrics_checked:,} figures" if report.metrics_checked else ""
        verdict = (
            "[green]everything matches[/]"
            if report.ok
            else f"[red]{len(report.mismatches)} mismatches[/]"
        )
        console.print(
            f"blocks {report.from_block:,}..{report.to_block:,}: {report.events:,} events, "
            f"{report.rows_checked:,} rows{lots}{figures} checked: {verdict}"
        )
    if not report.ok:
        raise typer.Exit(code=1)


@audit_app.command("report")
@friendly
def audit_report(
    pilot: Annotated[str, typer.Option("--pilot", help="pilot code, e.g. LEU")],
    period: Annotated[
        str, typer.Option("--period", help="2026, 2026-Q2, 2026-03, a..b or all")
    ] = "all",
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default: audit-<pilot>-<period>.html)")
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf/--no-pdf", help="also a PDF, where a converter is installed")
    ] = True,
    verify_chain: Annotated[
        bool, typer.Option("--verify/--no-verify", help="verify the index against the chain first")
    ] = True,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """An audit report of one pilot and period: metrics with their method, mass-balance findings,
    the largest flows with chain references and evidence hashes, and every record."""
    from ledger.audit.epcis import store_tables
    from ledger.audit.report import render_report, to_pdf
    from ledger.audit.verify import verify
    from ledger.circularity.period import Period
    from ledger.circularity.records import load_records
    from ledger.impact.framework import evaluate
    from ledger.impact.inputs import community_records, impact_inputs
    from ledger.runtime import open_runtime
    from ledger.store.db import Store
    from pilots.model import load_pilots

    try:
        span = Period.parse(period)
    except ValueError as exc:
        raise LedgerError(str(exc)) from exc
    found = _pilot_of(load_pilots(), pilot)
    _output_file(out)
    settings = _settings(chain, data_dir, database_url=database_url)
    with open_runtime(settings) as rt:
        store = Store.open(settings.effective_database_url)
        checkpoint = store.checkpoint()
        if checkpoint is None:
            raise LedgerError("nothing is indexed yet: run `loopledger index` first")
        verification = None
        if verify_chain:
            with console.status("verifying the index against the chain"):
                verification = verify(rt.suite, store, pilot=found.id, pilot_ids=[found.id])
        records = load_records(store.engine)
        codes = dict(
            zip(
                records.materials["material_id"].astype(int), records.materials["code"], strict=True
            )
        )
        # The impact framework counts calendar years: the year the period ends in (or this year).
        year = datetime.fromtimestamp(min(span.end, time.time()) - 1, UTC).year
        community = community_records(store.engine, found.id)
        kpis = evaluate(
            found, impact_inputs(records.for_pilot(found.id), community, found, year), year
        )
        text = render_report(
            pilot_id=found.id,
            pilot_name=f"{found.city} ({found.code})",
            period=span,
            records=records,
            rows=store_tables(store, pilot=found.id),
            material_codes=codes,
            chain={
                "chain_id": checkpoint.chain_id,
                "genesis_hash": checkpoint.genesis_hash,
                "indexed_block": checkpoint.block_number,
            },
            verification=verification,
            impact=(year, kpis),
            material_names=_material_names(rt.pilots),
        )
    target = out or Path(f"audit-{found.code}-{span.label.replace('..', '_')}.html")
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(target)
    console.print(f"wrote {target}")
    if pdf:
        converter = to_pdf(target, target.with_suffix(".pdf"))
        console.print(
            f"wrote {target.with_suffix('.pdf')} ({converter})"
            if converter
            else "no PDF: neither chromium nor libreoffice is installed"
        )
    if verification is not None and not verification.ok:
        console.print(
            f"[red]the index differs from the chain in {len(verification.mismatches)} places: see section 1[/]"
        )
        raise typer.Exit(code=1)


evidence_app = typer.Typer(
    help="Evidence files: their SHA-256, and a check against the chain.", no_args_is_help=True
)
epcis_app = typer.Typer(help="GS1 EPCIS 2.0 export and import.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
app.add_typer(epcis_app, name="epcis")


@evidence_app.command("hash")
@friendly
def evidence_hash(files: Annotated[list[Path], typer.Argument(help="evidence files")]) -> None:
    """Print the SHA-256 to record as evidence for each file."""
    from ledger.audit.evidence import hash_file

    for path in files:
        typer.echo(f"{hash_file(path)}  {path}")


@evidence_app.command("check")
@friendly
def evidence_check(
    file: Annotated[Path, typer.Argument(help="the evidence file")],
    tx: Annotated[str, typer.Option("--tx", help="transaction of the record")],
    log: Annotated[
        int | None,
        typer.Option("--log", min=0, help="log index of the record in the transaction"),
    ] = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check that a file is the evidence a record carries on chain (exit code 1 when it is not)."""
    from ledger.audit.evidence import check_file
    from ledger.runtime import open_runtime

    if not file.is_file():
        raise LedgerError(f"no such file: {file}")
    if re.fullmatch(r"0x[0-9a-fA-F]{64}", tx) is None:
        raise LedgerError(f"--tx {tx!r} is not a transaction hash: give 0x and 64 hex digits")
    settings = _settings(chain, data_dir)
    with open_runtime(settings) as rt:
        result = check_file(rt.suite, file, tx, log)
    where = f"{result.event} in block {result.block_number}, tx {result.tx_hash}, log {result.log_index}"
    if result.matches:
        console.print(f"[green]matches[/] the evidence of {where}", soft_wrap=True)
        return
    console.print(
        f"[red]does not match[/] {where}: file {result.file_hash}, on chain {result.recorded}",
        soft_wrap=True,
    )
    raise typer.Exit(code=1)


@epcis_app.command("export")
@friendly
def epcis_export(
    pilot: Annotated[str, typer.Option("--pilot", help="pilot code")],
    maker: Annotated[str | None, typer.Option("--maker", help="only this maker's records")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="file (default: standard output)")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Export a pilot's indexed material events as an EPCIS 2.0 JSON-LD document."""
    import json

    from ledger.audit.epcis import document, export_events, store_tables
    from ledger.circularity.records import load_records
    from ledger.store.db import Store
    from pilots.model import load_pilots

    pilots = load_pilots()
    found = _pilot_of(pilots, pilot)
    _output_file(out)
    settings = _settings(data_dir=data_dir, database_url=database_url)
    store = Store.open(settings.effective_database_url)
    checkpoint = store.checkpoint()
    if checkpoint is None:
        raise LedgerError("nothing is indexed yet: run `loopledger index` first")
    materials = load_records(store.engine).materials
    codes = dict(zip(materials["material_id"].astype(int), materials["code"], strict=True))
    events = export_events(
        store_tables(store, pilot=found.id, maker=maker),
        chain_id=checkpoint.chain_id,
        pilot_codes={p.id: p.code for p in pilots},
        material_codes=codes,
        company_prefix=settings.gs1_company_prefix,
    )
    text = json.dumps(document(events), indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        console.print(f"wrote {len(events):,} events to {out}")


@epcis_app.command("import")
@friendly
def epcis_import(
    file: Annotated[Path, typer.Argument(help="an EPCIS 2.0 JSON-LD document")],
    pilot: Annotated[str, typer.Option("--pilot", help="pilot code")],
    key: Annotated[str, typer.Option("--key", help="name of the maker's key in the keystore")],
    skip_known: Annotated[
        bool,
        typer.Option("--skip-known", help="leave out events already on this chain (by event id)"),
    ] = False,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Record a document's events as the maker, relayed in one all-or-nothing transaction.

    Events already on this chain (their event id among the pilot's indexed records) are refused,
    or left out with --skip-known."""
    import json

    from ledger.audit.epcis import plan_import, remember_event_times, schema_path
    from ledger.keystore import Keystore
    from ledger.runtime import open_runtime
    from ledger.store.db import Store
    from ledger.write.shell import Writer
    from pilots.model import load_pilots

    settings = _settings(chain, data_dir, database_url=database_url)
    try:
        doc = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read {file} as JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(
        (doc.get("epcisBody") or {}).get("eventList"), list
    ):
        raise LedgerError(f"{file} is not an EPCIS document: it needs epcisBody.eventList")
    found = _pilot_of(load_pilots(), pilot)
    maker = Keystore(settings.data_path / "keys", settings.keystore_secret()).load(key)
    with open_runtime(settings) as rt:
        store = Store.open(settings.effective_database_url)
        doc = _leave_out_known(
            doc,
            store,
            rt.pilots,
            found.id,
            rt.manifest.chain_id,
            skip=skip_known,
        )
        if not doc["epcisBody"]["eventList"]:
            console.print("nothing to import: every event of the document is already on this chain")
            return
        plan = plan_import(
            doc,
            schema=schema_path(settings.root),
            chain_id=rt.manifest.chain_id,
            pilot_code=found.code,
        )
        planned = Writer(rt.suite).prepare(
            maker.address, found.id, plan.records, where=plan.where, handles=True
        )
        ((call, _),) = planned.calls
        receipt = rt.suite.tx.relay(maker, call)
        remember_event_times(store, doc["epcisBody"]["eventList"])
    console.print(
        f"recorded {len(plan.records)} events in block {receipt.block_number}, tx {receipt.tx_hash}",
        soft_wrap=True,
    )
    for uri, lot in planned.lots.items():
        console.print(f"  {uri} -> lot {lot}", soft_wrap=True, highlight=False)


def _material_names(pilots: Sequence[Pilot]) -> dict[str, str]:
    """Names of the material classes the pilots' files give (streams and products)."""
    streams = {s.ewc: s.name for p in pilots for s in p.streams}
    return streams | {pr.product: pr.product_name for p in pilots for pr in p.processes}


def _leave_out_known(
    doc: dict[str, Any],
    store: Any,
    pilots: Sequence[Pilot],
    pilot: int,
    chain_id: int,
    *,
    skip: bool,
) -> dict[str, Any]:
    """The document without events already on this chain (--skip-known), or a refusal naming them."""
    from ledger.audit.epcis_known import chain_event_ids, split_known, without_events
    from ledger.circularity.records import load_records

    materials = load_records(store.engine).materials
    codes = dict(zip(materials["material_id"].astype(int), materials["code"], strict=True))
    on_chain = chain_event_ids(
        store,
        pilot=pilot,
        chain_id=chain_id,
        pilot_codes={p.id: p.code for p in pilots},
        material_codes=codes,
    )
    events = doc["epcisBody"]["eventList"]
    found = split_known(events, on_chain)
    if not found.known:
        return doc
    if not skip:
        raise LedgerError(
            f"{found.describe(len(events))}: importing them would record them twice; "
            "leave them out with --skip-known"
        )
    console.print(f"left out {len(found.known)} events already on this chain", highlight=False)
    return without_events(doc, found.new)


admin_app = typer.Typer(
    help="Pilot administration by its staff: roles, makers, product classes, rewards, budgets.",
    no_args_is_help=True,
)
app.add_typer(admin_app, name="admin")
PilotOption = Annotated[str, typer.Option("--pilot", help="pilot code, e.g. LEU")]
StaffKeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="staff key in the keystore (default on the local chain: the pilot's admin account)",
    ),
]


def _admin(
    action_of: Callable[[int], Any],
    pilot: str,
    key: str | None,
    chain: str | None,
    data_dir: Path | None,
) -> None:
    """Plan one admin action against the caller's on-chain roles, then send it."""
    from ledger.admin import plan_admin, read_view, send_admin
    from ledger.keystore import Keystore
    from ledger.runtime import dev_admins, open_runtime
    from pilots.model import load_pilots

    found = _pilot_of(load_pilots(), pilot)
    action = action_of(found.id)
    settings = _settings(chain, data_dir)
    staff = (
        Keystore(settings.data_path / "keys", settings.keystore_password).load(key) if key else None
    )
    with open_runtime(settings) as rt:
        if staff is None:
            staff = (
                dev_admins(rt.chain, rt.pilots).get(found.id) if settings.chain == "anvil" else None
            )
            if staff is None:
                raise LedgerError(
                    "give --key NAME: the staff key in the keystore that signs the action"
                )
        plan = plan_admin(action, read_view(rt.suite, action, staff.address, int(time.time())))
        send_admin(rt.suite, staff, plan)
    console.print(f"[green]done[/]: {plan.summary}", highlight=False, soft_wrap=True)


def _date(text: str) -> int:
    from datetime import UTC, datetime

    try:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise LedgerError(f"{text!r} is not a date: give YYYY-MM-DD") from None


@admin_app.command("grant")
@friendly
def admin_grant(
    account: Annotated[str, typer.Argument(help="the account (0x...)")],
    role: Annotated[str, typer.Argument(help="maker, partner, issuer or facilitator")],
    pilot: PilotOption,
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Grant a role of the pilot to an account (pilot admin or operator)."""
    from ledger.admin import AdminAction

    _admin(
        lambda p: AdminAction("grant", p, account=account, role=role), pilot, key, chain, data_dir
    )


@admin_app.command("revoke")
@friendly
def admin_revoke(
    account: Annotated[str, typer.Argument(help="the account (0x...)")],
    role: Annotated[str, typer.Argument(help="maker, partner, issuer or facilitator")],
    pilot: PilotOption,
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a role of the pilot from an account."""
    from ledger.admin import AdminAction

    _admin(
        lambda p: AdminAction("revoke", p, account=account, role=role), pilot, key, chain, data_dir
    )


@admin_app.command("suspend")
@friendly
def admin_suspend(
    account: Annotated[str, typer.Argument(help="the maker (0x...)")],
    pilot: PilotOption,
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Suspend a maker: its records are refused until it is reactivated."""
    from ledger.admin import AdminAction

    _admin(lambda p: AdminAction("suspend", p, account=account), pilot, key, chain, data_dir)


@admin_app.command("reactivate")
@friendly
def admin_reactivate(
    account: Annotated[str, typer.Argument(help="the maker (0x...)")],
    pilot: PilotOption,
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Reactivate a suspended maker."""
    from ledger.admin import AdminAction

    _admin(lambda p: AdminAction("reactivate", p, account=account), pilot, key, chain, data_dir)


@admin_app.command("product")
@friendly
def admin_product(
    code: Annotated[str, typer.Argument(help="product class code, e.g. P-BENCH")],
    pilot: PilotOption,
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a product class in the pilot."""
    from ledger.admin import AdminAction

    _admin(lambda p: AdminAction("product", p, code=code), pilot, key, chain, data_dir)


@admin_app.command("reward")
@friendly
def admin_reward(
    pilot: PilotOption,
    partner: Annotated[str, typer.Option("--partner", help="the reward partner (0x...)")],
    cost: Annotated[int, typer.Option("--cost", help="points it costs")],
    stock: Annotated[int, typer.Option("--stock", help="how many can be redeemed")],
    expires: Annotated[str, typer.Option("--expires", help="YYYY-MM-DD")],
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List a reward in the pilot's catalogue."""
    from ledger.admin import AdminAction

    expiry = _date(expires)
    _admin(
        lambda p: AdminAction("reward", p, account=partner, cost=cost, stock=stock, expiry=expiry),
        pilot,
        key,
        chain,
        data_dir,
    )


@admin_app.command("update-reward")
@friendly
def admin_update_reward(
    reward_id: Annotated[int, typer.Argument(help="the reward's id")],
    pilot: PilotOption,
    stock: Annotated[int, typer.Option("--stock", help="how many can be redeemed")],
    expires: Annotated[str, typer.Option("--expires", help="YYYY-MM-DD")],
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change a reward's stock and expiry."""
    from ledger.admin import AdminAction

    expiry = _date(expires)
    _admin(
        lambda p: AdminAction("update-reward", p, reward_id=reward_id, stock=stock, expiry=expiry),
        pilot,
        key,
        chain,
        data_dir,
    )


@admin_app.command("budget")
@friendly
def admin_budget(
    points: Annotated[int, typer.Argument(help="the pilot's award budget in points")],
    pilot: PilotOption,
    key: StaffKeyOption = None,
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set the pilot's award budget."""
    from ledger.admin import AdminAction

    _admin(lambda p: AdminAction("budget", p, budget=points), pilot, key, chain, data_dir)


def main() -> None:
    # Everything LoopLedger (and the anvil it starts) creates is owner-only: keys, the index,
    # the manifest, the chain and its log.
    os.umask(PRIVATE_UMASK)
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:  # usage: an unknown command, a missing or bad option
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        console.print(f"[bold red]error:[/] {message}{hint}", highlight=False, soft_wrap=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
