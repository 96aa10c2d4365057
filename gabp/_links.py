"""Direct links to the pool's worker processes, for the tasks of a run's generations.

A task submitted to loky's executor reaches its worker through two threads of the parent
(the executor's manager thread and its call queue's feeder thread) and its result comes back
through the manager thread. Measured on the 2-core machine: a no-op task started 1 ms after
submission with the parent idle and 2-4 ms after it while the parent computed its own share
(the threads then wait for the GIL), and its result arrived 1 ms after the worker finished;
a heavy generation there takes 25-70 ms. A link is one long-lived task per worker, submitted
when the pool is first used: a loop that reads calls from a Unix socket, runs them and writes
the results back. A call then costs one write and one read in the calling thread: about
0.1 ms for a round trip.

Calls and results are pickled as loky pickles its tasks (cloudpickle: functions defined in
``__main__`` or tests travel too). An argument that is one of the run's resident memory maps
(:meth:`gabp._parallel.LazyParallel.resident`) crosses as its file name and is opened once
per worker, so the data is sent once per run as with the executor.

Links need Unix sockets and the loky backend; anything else, or a link that cannot be
opened, leaves the tasks to the executor.
"""

from __future__ import annotations

import logging
import os
import pickle
import secrets
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from joblib.externals.loky.backend import reduction

logger = logging.getLogger(__name__)

#: Seconds to wait for the workers to connect (they may have to start first).
CONNECT_TIMEOUT = 60.0

_MAPS: dict[str, np.ndarray] = {}  # in a worker: the resident files opened by its link


class LinkBroken(BrokenExecutor):
    """A worker behind a link died, or closed its end, before returning a result."""


def available() -> bool:
    """Whether this platform has the Unix sockets links use."""
    return hasattr(socket, "AF_UNIX")


def _mapped(path: str) -> np.ndarray:
    """In a worker: the resident file ``path`` as a read-only memory map (opened once)."""
    a = _MAPS.get(path)
    if a is None:
        a = _MAPS[path] = np.load(path, mmap_mode="r")
    return a


def _dumps(obj: Any, resident: Mapping[int, tuple[np.ndarray, str]] | None = None) -> bytes:
    """``obj`` pickled as loky pickles tasks; resident maps become their file names."""
    if not resident:
        return bytes(reduction.dumps(obj))

    def reduce_map(a: np.memmap) -> tuple:
        kept = resident.get(id(a))
        if kept is not None and kept[0] is a:
            return _mapped, (kept[1],)
        return a.__reduce_ex__(pickle.HIGHEST_PROTOCOL)

    return bytes(reduction.dumps(obj, reducers={np.memmap: reduce_map}))


def serve(address: str, token: bytes) -> None:
    """A worker's end of a link: connect to ``address``, then run calls until it closes.

    Each message is ``(seq, fn, args)``; the answer is ``(seq, True, fn(*args))`` or
    ``(seq, False, (exception, traceback text))``. An empty message, or the parent's end
    closing, ends the loop (and the task that runs it).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError:  # the parent gave up waiting and removed the socket
        sock.close()
        return
    conn = Connection(sock.detach())
    try:
        conn.send_bytes(token)
        while True:
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                return
            if not message:
                return
            seq, fn, args = pickle.loads(message)
            try:
                answer = (seq, True, fn(*args))
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
                answer = (seq, False, (exc, traceback.format_exc()))
            try:
                data = _dumps(answer)
            except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
                data = _dumps((seq, False, (RuntimeError(
                    f"a link's result could not be pickled: {type(exc).__name__}: {exc}"),
                    traceback.format_exc())))
            try:
                conn.send_bytes(data)
            except OSError:
                return
    finally:
        conn.close()
        _MAPS.clear()


class Links:
    """One link per worker of a loky executor, open until :meth:`close`.

    Parameters
    ----------
    executor : loky executor
        The open ``joblib.Parallel`` context's executor; ``n`` of its workers each run one
        :func:`serve` task for as long as the links are open.
    n : int
        Links to open (calls that run at the same time).
    resident : mapping
        ``id(map) -> (map, file)`` of the run's resident memory maps, sent by file name.

    Raises
    ------
    LinkBroken
        If the workers did not connect within ``CONNECT_TIMEOUT`` seconds.
    """

    def __init__(self, executor: Any, n: int,
                 resident: Mapping[int, tuple[np.ndarray, str]]) -> None:
        self.resident = resident
        self._seq = 0
        self._conns: list[Connection] = []
        self._futures: list[Any] = []
        folder = tempfile.mkdtemp(prefix="gabp-link-")  # private (0700): only this user
        try:
            address = os.path.join(folder, "s")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listener.bind(address)
                listener.listen(n)
                listener.settimeout(0.05)
                token = secrets.token_bytes(16)
                self._futures = [executor.submit(serve, address, token) for _ in range(n)]
                self._accept(listener, token, n)
            finally:
                listener.close()
        except BaseException:
            self.close()
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _accept(self, listener: socket.socket, token: bytes, n: int) -> None:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while len(self._conns) < n:
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                failed = [f for f in self._futures if f.done()]
                if failed or time.monotonic() > deadline:
                    why = (f"a link task ended before connecting ({failed[0].exception()!r})"
                           if failed else f"no connection within {CONNECT_TIMEOUT:.0f} s")
                    raise LinkBroken(why) from None
                continue
            sock.setblocking(True)
            conn = Connection(sock.detach())
            if conn.poll(10.0) and conn.recv_bytes() == token:
                self._conns.append(conn)
            else:
                conn.close()

    def __len__(self) -> int:
        return len(self._conns)

    def start(self, fn: Callable[..., Any], calls: Sequence[tuple]) -> Callable[[], list]:
        """Send ``fn(*args)`` for every ``args`` of ``calls`` (at most one per link); return
        a function that waits for the results in order, re-raising a call's exception.

        A result that was never waited for (the caller failed in between) is skipped when
        the next one is read.
        """
        if len(calls) > len(self._conns):
            raise ValueError(f"{len(calls)} calls for {len(self._conns)} links")
        self._seq += 1
        seq = self._seq
        try:
            for conn, args in zip(self._conns, calls, strict=False):
                conn.send_bytes(_dumps((seq, fn, tuple(args)), self.resident))
        except OSError as exc:
            raise LinkBroken(f"a worker's link closed: {exc}") from exc
        used = self._conns[: len(calls)]
        return lambda: [self._receive(conn, seq) for conn in used]

    def _receive(self, conn: Connection, seq: int) -> Any:
        while True:
            try:
                got, ok, value = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError) as exc:
                # the socket tells first; once the executor has seen its worker end too, a
                # new Parallel context gets a new executor instead of this broken one
                wait(self._futures, timeout=10.0, return_when=FIRST_COMPLETED)
                raise LinkBroken("a worker process ended before returning its result "
                                 f"({type(exc).__name__})") from exc
            if got == seq:
                break
        if ok:
            return value
        exc, text = value
        if hasattr(exc, "add_note"):
            exc.add_note(f"Raised in a worker process:\n{text}")
        raise exc

    def close(self) -> None:
        """End every link (its worker's task returns once it finished its current call)."""
        for conn in self._conns:
            try:
                conn.send_bytes(b"")
            except OSError:
                pass
            conn.close()
        self._conns = []
        for f in self._futures:
            f.cancel()  # one still queued (never connected) must not start later
        self._futures = []
