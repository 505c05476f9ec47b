"""A fetch-and-decode process that runs ahead of the loader during a backfill.

Reading logs, decoding them and building rows is Python work that the loader's SQL would
otherwise wait for. During a long backfill the indexer hands that work to one child process,
``python -m ledger.indexer.worker``: the child prepares ranges (``ledger.indexer.prepare``)
and writes them to a pipe while the parent loads the previous one. A full pipe blocks the
child, so at most one prepared batch waits and memory stays bounded. The child never writes
anywhere else, so stopping or killing it loses nothing, and it exits by itself when the parent
goes away (its pipes close).

Messages are pickled frames with an 8-byte length. Parent to child: the configuration, then
``("run", epoch, from_block, to_block, range_size)`` commands. Child to parent: ``("ready",
0, None)`` once started, then per run ``("batch", epoch, Prepared)`` messages ended by
``("done", epoch, next_range_size)`` or ``("error", epoch, message)``. A new command replaces
the current run; the parent drops every message of an older epoch unread.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ledger.indexer.extract import BlockRanges, IndexerError, RangeTooLarge, TransientRpcError

__all__ = ["PrepareWorker"]

_LENGTH = 8
#: Linux's F_SETPIPE_SZ: a 1 MiB pipe takes a prepared batch in few writes.
_F_SETPIPE_SZ = 1031


def _write(stream: IO[bytes], message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(len(body).to_bytes(_LENGTH, "little") + body)
    while data:  # an unbuffered write may take part of the frame
        written = stream.write(data)
        data = data[written or 0 :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        chunk = os.readv(fd, [view[got:]])
        if chunk == 0:
            return None  # the other end closed
        got += chunk
    return bytes(buffer)


def _read(fd: int) -> Any:
    """The next message on `fd`; None when the other end has closed."""
    head = _read_exactly(fd, _LENGTH)
    if head is None:
        return None
    body = _read_exactly(fd, int.from_bytes(head, "little"))
    return None if body is None else pickle.loads(body)


class PrepareWorker:
    """The parent's handle on the child process."""

    def __init__(
        self,
        url: str,
        abis: Mapping[str, Sequence[Mapping[str, Any]]],
        addresses: Sequence[str],
        columns: Mapping[str, Sequence[str]],
        *,
        timeout: float,
        retries: int,
        ranges: BlockRanges,
    ) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ledger.indexer.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=env,
            start_new_session=True,  # Ctrl-C is the parent's to handle; the child follows its pipes
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        with contextlib.suppress(OSError):
            import fcntl

            fcntl.fcntl(self._stdout.fileno(), _F_SETPIPE_SZ, 1 << 20)
        config = {
            "url": url,
            "abis": {k: list(v) for k, v in abis.items()},
            "addresses": list(addresses),
            "columns": {k: list(v) for k, v in columns.items()},
            "timeout": timeout,
            "retries": retries,
            "limits": (ranges.minimum, ranges.maximum, ranges.target_logs),
        }
        _write(self._stdin, config)
        self.ready = False
        self.epoch = 0
        #: (first block of the next batch, last block) of the current run; None when idle.
        self.run: tuple[int, int] | None = None

    def poll_ready(self, *, wait: bool = False) -> bool:
        """Whether the child has started (waiting for it with `wait`)."""
        while not self.ready:
            readable, _, _ = select.select([self._stdout], [], [], None if wait else 0)
            if not readable:
                break
            self._receive_any()
        return self.ready

    def start(self, from_block: int, to_block: int, size: int) -> None:
        """Prepare [from_block, to_block] from now on, starting with ranges of `size` blocks."""
        self.epoch += 1
        self.run = (from_block, to_block)
        try:
            _write(self._stdin, ("run", self.epoch, from_block, to_block, size))
        except OSError:
            raise self._stopped() from None

    def _stopped(self) -> IndexerError:
        code = self._process.poll()
        return IndexerError(
            f"the indexer's prepare process stopped (exit code {code}); run the indexer again: "
            "it resumes from its checkpoint"
        )

    def _receive_any(self) -> tuple[str, int, Any]:
        message = _read(self._stdout.fileno())
        if message is None:
            raise self._stopped()
        kind, epoch, payload = message
        if kind == "ready":
            self.ready = True
        return kind, epoch, payload

    def receive(self) -> tuple[str, Any]:
        """The next message of the current run: ("batch", Prepared), ("done", next range size)
        or ("error", message)."""
        while True:
            kind, epoch, payload = self._receive_any()
            if kind == "ready" or epoch != self.epoch:
                continue  # the start signal, or a message of a run that was replaced
            if kind == "batch":
                self.run = (payload.to_block + 1, self.run[1]) if self.run else None
            else:
                self.run = None
            return kind, payload

    def peak_rss_mb(self) -> float | None:
        """The child's peak resident memory so far (Linux; None elsewhere or once it has ended)."""
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def close(self) -> None:
        """Stop the child; it holds nothing that needs saving."""
        for stream in (self._stdin, self._stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _serve() -> None:
    """The child: read the configuration, then prepare the ranges of each run in order."""
    # Frames go to the real stdout; anything printed by a library goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    commands = sys.stdin.buffer.fileno()
    config = _read(commands)
    if config is None:
        return
    from ledger.events import EventDecoder
    from ledger.indexer.extract import RpcSource
    from ledger.indexer.prepare import batch_work, prepare

    source = RpcSource(config["url"], timeout=config["timeout"], retries=config["retries"])
    decoder = EventDecoder(config["abis"])
    addresses, columns = config["addresses"], config["columns"]
    minimum, maximum, target = config["limits"]
    ranges = BlockRanges(minimum=minimum, maximum=maximum, target_logs=target)
    try:
        _write(out, ("ready", 0, None))
        command = _read(commands)
        while command is not None:
            _, epoch, block, end, ranges.size = command
            command = None
            while True:
                if block > end:
                    _write(out, ("done", epoch, ranges.size))
                    break
                to_block = min(block + ranges.size - 1, end)
                try:
                    with batch_work():
                        batch = prepare(source, decoder, addresses, block, to_block, columns)
                except (RangeTooLarge, TransientRpcError) as exc:
                    try:
                        ranges.shrink(exc)
                    except IndexerError as failed:
                        _write(out, ("error", epoch, str(failed)))
                        break
                    continue
                except IndexerError as exc:
                    _write(out, ("error", epoch, str(exc)))
                    break
                except Exception as exc:  # reported to the parent, which stops with it
                    _write(out, ("error", epoch, f"{type(exc).__name__}: {exc}"))
                    break
                ranges.observe(batch.logs)
                _write(out, ("batch", epoch, batch))
                if not batch.consistent:
                    break  # the chain moved under this run: the parent decides where to go on
                block = to_block + 1
                if select.select([commands], [], [], 0)[0]:
                    break  # a new command (or the parent closing) replaces this run
            if command is None:
                command = _read(commands)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent has gone: nothing to hand over any more
    finally:
        source.close()


if __name__ == "__main__":
    _serve()
