"""The ``loopledger`` command: the library's commands (``ledger.cli``) and ``serve``, which
starts stateless gateway workers through the app factory ``loopledger.app:create_gateway``."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from ledger.chain import _port_free
from ledger.cli import (
    ChainOption,
    DatabaseUrlOption,
    DataDirOption,
    _settings,
    app,
    console,
    friendly,
)
from ledger.cli import main as ledger_main
from ledger.errors import LedgerError
from ledger.store.db import Store

__all__ = ["app", "main"]


@app.command()
@friendly
def serve(
    chain: ChainOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    host: Annotated[str | None, typer.Option("--host", help="default: LOOPLEDGER_API_HOST")] = None,
    port: Annotated[int | None, typer.Option("--port", help="default: LOOPLEDGER_API_PORT")] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="worker processes (LOOPLEDGER_API_WORKERS)"),
    ] = None,
) -> None:
    """Serve the gateway with N stateless worker processes over the SQL store (needs a deployed
    chain and, for fresh dashboards, `loopledger index --follow` running)."""
    settings = _settings(
        chain,
        data_dir,
        database_url=database_url,
        api_host=host,
        api_port=port,
        api_workers=workers,
    )
    if not _port_free(settings.api_host, settings.api_port):
        raise LedgerError(
            f"Port {settings.api_port} on {settings.api_host} is in use: choose another with "
            "--port or LOOPLEDGER_API_PORT."
        )
    Store.open(settings.effective_database_url)  # migrate once, before the workers start
    # The workers are new processes that read their settings from the environment: hand the
    # command-line choices down the same way.
    os.environ.update(
        {
            "LOOPLEDGER_CHAIN": settings.chain,
            "LOOPLEDGER_DATA_DIR": str(settings.data_path),
            "LOOPLEDGER_DATABASE_URL": settings.effective_database_url,
        }
    )
    base = f"http://{settings.api_host}:{settings.api_port}"
    console.print(f"serving on {base} with {settings.api_workers} worker(s)", highlight=False)
    uvicorn.run(
        "loopledger.app:create_gateway",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_level="warning",
    )


def main() -> None:
    """The library's entry point (owner-only files, one-line errors) with `serve` registered."""
    ledger_main()


if __name__ == "__main__":
    main()
