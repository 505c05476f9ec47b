"""The supervised follower rides out an RPC outage far longer than the RPC client's own retries,
records what it is doing in the store, and catches up."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ledger.clients import Suite
from ledger.indexer import indexer_for
from ledger.indexer.extract import RpcSource
from ledger.indexer.follow import Backoff, Follower
from ledger.store.db import Store
from ledger.vocabulary import Role, Source


class Proxy:
    """A TCP relay to the node that can be cut (connections refused) and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener: socket.socket | None = None
        self.port = 0
        self.open: list[socket.socket] = []

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port, self.listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones (kept-alive HTTP connections too)."""
        if self.listener is not None:
            with suppress(OSError):  # wakes the thread blocked in accept()
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        for sock in self.open:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()


@contextmanager
def following(follower: Follower) -> Iterator[threading.Thread]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            follower.run(stop=stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors


def _wait(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_the_follower_outlives_an_rpc_outage(anvil_suite: Suite, tmp_path: object) -> None:
    suite = anvil_suite
    host, port = suite.chain.url.removeprefix("http://").split(":")  # type: ignore[attr-defined]
    proxy = Proxy((host, int(port)))
    proxy.up()
    store = Store.open(f"sqlite:///{tmp_path}/index.sqlite")
    indexer = indexer_for(suite, store)
    # The client's own retries give up after well under a second; the outage lasts 8 s.
    indexer.source = RpcSource(f"http://127.0.0.1:{proxy.port}", timeout=2, retries=2)
    follower = Follower(indexer, poll=0.1, backoff=Backoff(first=0.2, most=1.0), heartbeat=0.2)
    maker = suite.chain.accounts[8]
    suite.registry.set_pilot_role(suite.chain.accounts[1], 1, maker.address, Role.MAKER)
    wood = suite.registry.material_id("20 01 38")
    with following(follower):
        _wait(lambda: (s := store.follower_state()) is not None and s.state == "following", 60)
        proxy.down()
        made = suite.materials.intake(maker, 1, wood, Source.DONATION, 1_000)
        _wait(lambda: (s := store.follower_state()) is not None and s.state == "retrying", 30)
        time.sleep(8)
        state = store.follower_state()
        assert state is not None and state.state == "retrying"
        assert state.last_error and "TransientRpcError" in state.last_error
        proxy.up()
        _wait(
            lambda: (
                (c := store.checkpoint()) is not None and c.block_number >= made.tx.block_number
            ),
            60,
        )
        _wait(lambda: (s := store.follower_state()) is not None and s.state == "following", 30)
    with store.engine.connect() as conn:
        lots = conn.execute(store.tables["intake"].select()).all()
    assert [r.lot_id for r in lots] == [made.lot_id]
    final = store.follower_state()
    assert (
        final is not None and final.state == "stopped" and final.chain_head >= made.tx.block_number
    )
