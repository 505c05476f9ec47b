"""The gateway's app factory: one stateless gateway worker, configured by ``LOOPLEDGER_*``."""

from __future__ import annotations

from contextlib import ExitStack

from fastapi import FastAPI

from api.assemble import custody_of, write_service
from api.health import HealthPolicy
from api.main import create_app
from api.state import GatewayState
from ledger.errors import ConfigError
from ledger.runtime import open_runtime
from ledger.settings import Settings
from ledger.store.db import Store, make_engine
from pilots.seed import DemoCustody

__all__ = ["create_gateway", "health_policy"]


def health_policy(settings: Settings) -> HealthPolicy:
    """The bounds of /api/health from the settings."""
    return HealthPolicy(
        max_lag_blocks=settings.max_lag_blocks,
        confirmations=settings.confirmations,
        stale_seconds=settings.follower_stale_seconds,
    )


def create_gateway(settings: Settings | None = None) -> FastAPI:
    """One gateway worker (an app factory for ``uvicorn --factory``). It keeps no state of its
    own: the index and its read models, the write queue, sign-in nonces, signed-out sessions and
    the follower's health are rows of the SQL store, migrated by the command that starts the
    workers (``loopledger serve``). Writes are queued for the relayer process
    (``loopledger relay``); workers never deploy and never send transactions."""
    settings = settings or Settings()
    if not settings.manifest_path.exists():
        raise ConfigError(
            f"no deployment manifest at {settings.manifest_path}: run `loopledger deploy` "
            "(or `loopledger up`) once before starting gateway workers"
        )
    stack = ExitStack()
    try:
        rt = stack.enter_context(open_runtime(settings))
        store = Store(make_engine(settings.effective_database_url))
        demo_keys = [DemoCustody(settings.demo_seed, rt.pilots)] if settings.local else []
        custody = custody_of(settings.data_path, settings.keystore_secret(), *demo_keys)
        writes = write_service(
            rt.suite, store, custody, data_dir=settings.data_path, wait=settings.write_wait
        )
        state = GatewayState(
            store,
            rt.pilots,
            writes,
            company_prefix=settings.gs1_company_prefix,
            public_url=settings.effective_public_url,
            health=health_policy(settings),
        )
    except BaseException:
        stack.close()
        raise
    return create_app(state, on_close=stack.close)
