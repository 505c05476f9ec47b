"""The supervised follower: ``loopledger index --follow``, the one writer of the index.

It steps the indexer, and when the node or the database fails it waits (doubling the wait up to
a bound) and tries again, for as long as it takes; it never ends without saying why. What it is
doing (its state, a heartbeat, the chain head it last read, its last error) is written to the
store, so that every gateway worker can report it in ``/api/health``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.exc import OperationalError

from ledger.indexer.extract import TransientRpcError
from ledger.indexer.run import Indexer, Progress
from ledger.store.models import FollowerState

__all__ = ["RETRYABLE", "Backoff", "Follower"]

log = logging.getLogger(__name__)

#: Faults that pass: the node or the database is away for a while. Anything else (a wrong
#: chain, a bad ABI) stops the follower with its message.
RETRYABLE: tuple[type[BaseException], ...] = (
    TransientRpcError,
    httpx.HTTPError,
    OSError,
    OperationalError,
)


@dataclass
class Backoff:
    """Waits between attempts: `first`, doubled after each failure, at most `most` seconds."""

    first: float = 0.5
    most: float = 30.0
    _next: float = 0.0

    def failed(self) -> float:
        self._next = self.first if self._next == 0 else min(self._next * 2, self.most)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


class Follower:
    """Runs an indexer at the head, retrying through faults, reporting itself in the store."""

    def __init__(
        self,
        indexer: Indexer,
        *,
        poll: float = 0.5,
        backoff: Backoff | None = None,
        heartbeat: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.indexer = indexer
        self.store = indexer.store
        self.poll, self.heartbeat = poll, heartbeat
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.state = FollowerState(
            state="starting", heartbeat=clock(), chain_head=-1, indexed_block=-1
        )
        self._said = 0.0

    def _say(self, state: str, *, error: str | None = None, force: bool = False) -> None:
        """Record the follower's state (at most every `heartbeat` seconds unless it changed)."""
        now = self.clock()
        changed = state != self.state.state or error is not None
        if not (force or changed or now - self._said >= self.heartbeat):
            return
        self.state.state, self.state.heartbeat = state, now
        if self.indexer.chain_head is not None:
            self.state.chain_head = self.indexer.chain_head
        checkpoint = self.indexer.last_block
        if checkpoint is not None:
            self.state.indexed_block = checkpoint
        if error is not None:
            self.state.last_error, self.state.error_at = error, now
        try:
            self.store.set_follower_state(self.state.model_copy())
            self._said = now
        except RETRYABLE as exc:  # the database is away: the next word will be written
            log.warning("cannot record the follower's state: %s", exc)

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] = lambda _: None,
        on_retry: Callable[[BaseException, float], None] = lambda _e, _w: None,
    ) -> None:
        """Follow the head until `stop` is set; raises (after recording it) only on a fault
        that waiting cannot fix."""
        stop = stop or threading.Event()
        self._say("starting", force=True)
        try:
            while not stop.is_set():
                try:
                    progress = self.indexer.step()
                except RETRYABLE as exc:
                    wait = self.backoff.failed()
                    message = f"{type(exc).__name__}: {exc}"
                    self._say("retrying", error=message)
                    on_retry(exc, wait)
                    self.indexer.close()  # a worker process may hold a broken connection
                    stop.wait(wait)
                    continue
                self.backoff.reset()
                self._say("following")
                if progress is not None:
                    on_progress(progress)
                    continue
                stop.wait(self.poll)
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):
                self._say("stopped", error=f"{type(exc).__name__}: {exc}", force=True)
            raise
        finally:
            self.indexer.close()
        self._say("stopped", force=True)
