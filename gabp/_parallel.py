"""Scoring a population on worker processes when, and only when, it pays.

The pieces the weights GA's scorer (:class:`gabp.evolution.problem.ChunkedScorer`) uses:

- :func:`balanced_chunks`: a generation's ``k`` genomes cut into ``n`` contiguous chunks of
  equal cost (every individual of a generation costs the same: one BP run of ``bp_epochs``
  epochs on the same data, or one forward pass), the parent's chunk larger by a lead
  (:meth:`PoolCostModel.lead`: from the workers' measured finish times, so that all end
  together).
- :class:`PoolCostModel`: chooses, generation by generation, between scoring in-process and
  sharing the generation with the pool, from measured costs: the in-process seconds per
  individual (every in-process generation is timed), the pool's per-task and per-byte costs
  (no-op probes just before its first generation) and the wall time of its generations once
  some ran. Starting the worker processes, probing them and a warm-up generation are paid
  only if the saving over the generations left covers them.
- :class:`LazyParallel`: the ``joblib.Parallel`` context is opened on first use, so a run
  that never uses the pool never starts joblib's resource tracker.
- :func:`start_tasks`: the tasks of a pool generation, started before the parent scores its
  own share. With joblib's default process backend (loky) a :class:`LazyParallel` sends
  them over direct links to its workers (:mod:`gabp._links`: one long-lived task per worker
  reading calls from a Unix socket), so a task starts about 0.5 ms after it was sent and its
  result is read the moment the parent wants it; through the executor a task started 2-4 ms
  late while the parent computed (its threads waited for the GIL), and ``Parallel.__call__``
  itself polls its tasks every 10 ms. A plain ``Parallel`` with loky gets futures of the very
  executor the open context configured (same workers, thread limits and memmapping folder).
  Any other backend (Dask, threads, ``multiprocessing``), or a joblib whose internals
  differ, runs the same tasks through ``Parallel`` in a dispatch thread.
- Data residency: with the loky backend the run's data arrays are written once per run to
  memory-mapped files (:meth:`LazyParallel.resident`), and every task carries file
  references instead of the data, whatever its size (over a link, the file's name; each
  worker opens it once). Other process backends get the arrays
  as the *same* objects every time, so joblib's memmapping (arrays above ``max_nbytes``,
  1 MB by default) writes each of them once per ``with Parallel(...)`` block; smaller
  arrays are pickled with each task (about 1 ms per MB, counted by the cost model's
  per-byte term). The Dask backend scatters large arguments itself.

The parent process scores one share of a pool generation itself while the workers score the
others: with ``n`` workers the generation is cut into ``n`` chunks and ``n - 1`` are sent,
which leaves no core idle on an ``n``-core machine and halves what crosses process
boundaries at ``n = 2``. Chunking never changes a score, so none of these choices changes a
result.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from joblib._parallel_backends import LokyBackend
from joblib.externals.loky.backend import resource_tracker
from joblib.parallel import get_active_backend

from ._links import LinkBroken, Links
from ._links import available as links_available

logger = logging.getLogger(__name__)

#: Seconds to start worker processes that import gabp, used until one start was measured in
#: this process (measured: 1.9 s for two loky workers at load 2.7 on the 2-core machine).
START_PRIOR = 2.0
#: Seconds per pool task and per byte shipped, used until the probe measured them (measured
#: here: 10 ms per round trip with warm loky workers, rarely 1-4; pickling ~1 ns per byte).
PER_CALL_PRIOR = 10e-3
PER_BYTE_PRIOR = 1e-9
#: The same per-task prior for tasks over links (:mod:`gabp._links`; measured here: a 0.17 ms
#: round trip, a generation's task started 0.5 ms after it was sent).
LINK_CALL_PRIOR = 1e-3
#: A worker pool used within this many seconds is assumed warm (loky's idle timeout is 300 s).
WARM_SECONDS = 240.0
#: The pool must beat in-process scoring by this fraction of the in-process time.
MARGIN = 0.05
#: Generations of each mode whose median the predictions use (noise on a shared machine).
HISTORY = 3
#: When the pool wins by less than this fraction, every ``RECHECK_EVERY``-th generation is
#: scored in-process again to refresh that measurement (a busy machine shifts both).
RECHECK_GAIN = 0.25
RECHECK_EVERY = 4

#: joblib's default memmapping threshold: larger arrays cross as file references.
MAX_NBYTES = 1e6

_measured_start: list[float] = []  # start costs measured in this process
_last_used: dict[int, float] = {}  # workers -> time.monotonic() of the last pool call


class LazyParallel:
    """A ``joblib.Parallel(n_jobs)`` that is opened on first use and closed with this context.

    Opening a process pool's context starts joblib's resource tracker (a Python process, a
    few hundred ms of CPU on a 2-core machine), which a run that never uses the pool should
    not pay. Created in the caller's thread on first use, so ``joblib.parallel_config``
    (a Dask backend, ``max_nbytes``) applies as it would to a plain ``Parallel``.
    """

    def __init__(self, n_jobs: int | None) -> None:
        self.n_jobs = n_jobs
        self._parallel: Parallel | None = None
        self._folder: str | None = None
        self._resident: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._maps: dict[int, tuple[np.ndarray, str]] = {}  # id(map) -> (map, its file)
        self._links: Links | None = None
        self._links_failed = False

    def __enter__(self) -> LazyParallel:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._links is not None:  # before the context: the links' tasks hold workers
            self._links.close()
            self._links = None
        if self._parallel is not None:
            self._parallel.__exit__(*exc)
            self._parallel = None
        self._resident.clear()
        self._maps.clear()
        if self._folder is not None:  # workers keep their maps of unlinked files (POSIX)
            shutil.rmtree(self._folder, ignore_errors=True)
            resource_tracker.unregister(self._folder, "folder")
            self._folder = None

    def resident(self, arrays: Sequence[Any]) -> tuple[Any, ...]:
        """``arrays`` as read-only memory maps of files written once for this context.

        With the loky backend a task's memory-mapped argument crosses as a file reference
        whatever its size (joblib pickles only arrays above ``max_nbytes`` that way, and
        smaller ones with every task), so data passed as these maps is sent once per run.
        Any other backend, and anything that is not a non-empty array, gets the argument
        itself. The files live in ``JOBLIB_TEMP_FOLDER``, else ``/dev/shm`` when it has room,
        else the system's temporary folder, and are deleted when the context closes (or, if
        this process is killed, by loky's resource tracker).
        """
        if _loky_futures(self.get()) is None:
            return tuple(arrays)
        out = []
        total = sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))
        for a in arrays:
            if not isinstance(a, np.ndarray) or a.size == 0 or isinstance(a, np.memmap):
                out.append(a)
                continue
            kept = self._resident.get(id(a))
            if kept is None:  # the original is kept too, so its id is not reused
                kept = self._resident[id(a)] = (a, self._dump(a, total))
                self._maps[id(kept[1])] = (kept[1], kept[1].filename)
            out.append(kept[1])
        return tuple(out)

    def _dump(self, a: np.ndarray, total: int) -> np.ndarray:
        if self._folder is None:  # room for all of them is checked once
            self._folder = tempfile.mkdtemp(prefix="gabp-data-", dir=_temp_root(total))
            # loky's resource tracker (a separate process) deletes the folder if this
            # process dies without closing the context: files in /dev/shm hold memory
            resource_tracker.register(self._folder, "folder")
        path = os.path.join(self._folder, f"{len(self._resident)}.npy")
        np.save(path, np.ascontiguousarray(a), allow_pickle=False)
        return np.load(path, mmap_mode="r")

    def links(self, n: int) -> Links | None:
        """``n`` direct links to the pool's workers (:mod:`gabp._links`), opened on first use
        and kept until the context closes; ``None`` where links do not apply (a backend other
        than loky, no Unix sockets) or could not be opened (then never tried again)."""
        if self._links is not None and len(self._links) >= n:
            return self._links
        if self._links_failed or not links_available():
            return None
        loky = _loky_futures(self.get())
        if loky is None:
            self._links_failed = True
            return None
        if self._links is not None:
            self._links.close()
            self._links = None
        try:
            self._links = Links(loky[0], n, self._maps)
        except (BrokenExecutor, OSError) as exc:  # no socket here, or the workers failed
            logger.warning("could not link to the worker processes (%s); their tasks go "
                           "through joblib's executor", exc)
            self._links_failed = True
        return self._links

    @property
    def opened(self) -> bool:
        """Whether the pool's context was opened."""
        return self._parallel is not None

    def get(self) -> Parallel:
        """The open ``Parallel`` (opened now if it was not)."""
        if self._parallel is None:
            parallel = Parallel(n_jobs=self.n_jobs)
            parallel.__enter__()
            self._parallel = parallel
        return self._parallel

    def __call__(self, iterable: Any) -> list:
        """Run ``iterable``'s delayed calls on the pool (joblib's ``Parallel.__call__``)."""
        return self.get()(iterable)


def pool_paths(parallel: Parallel | LazyParallel) -> tuple[bool, bool]:
    """``(resident, linked)``: whether a pool reached through ``parallel`` would get the
    data as resident files and the tasks over links, judged from the active joblib backend
    without opening the pool (call it where ``joblib.parallel_config`` applies)."""
    if not isinstance(parallel, LazyParallel):
        return False, False
    loky = isinstance(get_active_backend()[0], LokyBackend)
    return loky, loky and links_available()


def _temp_root(nbytes: int) -> str | None:
    """Where :meth:`LazyParallel.resident` writes: ``JOBLIB_TEMP_FOLDER``, else ``/dev/shm``
    if it is writable and has room for the data (twice over), else the system default."""
    root = os.environ.get("JOBLIB_TEMP_FOLDER")
    if root:
        return root
    shm = "/dev/shm"
    try:
        if os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2 * nbytes + 2**26:
            return shm
    except OSError:
        pass
    return None


def _loky_futures(parallel: Parallel) -> tuple[Any, Callable[[], None]] | None:
    """The loky executor behind an open ``Parallel`` context and a function that points its
    memmapping at that context's folder; ``None`` for any other backend (or joblib layout)."""
    backend = getattr(parallel, "_backend", None)
    if not isinstance(backend, LokyBackend):
        return None
    executor = getattr(backend, "_workers", None)
    manager = getattr(executor, "_temp_folder_manager", None)
    context = getattr(parallel, "_id", None)
    if executor is None or context is None or not hasattr(manager, "set_current_context"):
        return None
    # what joblib's own dispatch does while pickling a batch: arrays above max_nbytes are
    # dumped into (and cleaned up with) this Parallel context's folder
    return executor, lambda: manager.set_current_context(context)


def start_tasks(parallel: Parallel | LazyParallel, fn: Callable[..., Any],
                calls: Sequence[tuple]) -> Callable[[], list]:
    """Start ``fn(*args)`` for every ``args`` of ``calls`` on the pool; return a function that
    waits for the results and returns them in order (re-raising a task's exception).

    Call it before the parent's own work: the tasks run meanwhile. Through a
    :class:`LazyParallel` with the loky backend they go over its direct links to the workers
    (:mod:`gabp._links`: a socket round trip instead of the executor's threads); through a
    plain ``Parallel`` with loky they are futures of the open context's executor; otherwise
    ``parallel`` runs them in a dispatch thread. A worker that died raises
    ``concurrent.futures.BrokenExecutor`` where the results are awaited.
    """
    if isinstance(parallel, LazyParallel):
        links = parallel.links(len(calls)) if calls else None
        if links is not None:
            try:
                return links.start(fn, calls)
            except LinkBroken as exc:  # a dead worker: reported where the results are awaited
                error = exc

                def broken() -> list:
                    raise error

                return broken
        parallel = parallel.get()
    loky = _loky_futures(parallel)
    if loky is not None:
        executor, use_context = loky
        use_context()
        futures = [executor.submit(fn, *args) for args in calls]
        return lambda: [f.result() for f in futures]
    box: dict[str, Any] = {}

    def dispatch() -> None:
        try:
            box["out"] = parallel(delayed(fn)(*args) for args in calls)
        except BaseException as exc:  # re-raised in the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=dispatch, name="gabp-pool-dispatch", daemon=True)
    thread.start()

    def wait() -> list:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["out"]

    return wait


def balanced_chunks(k: int, n: int, lead: int = 0) -> list[np.ndarray]:
    """Indices ``0..k-1`` cut into ``min(n, k)`` contiguous chunks of equal cost.

    Sizes differ by at most one, except that the last chunk (the parent's share, which pays
    no round trip) takes up to ``lead`` more individuals, or ``-lead`` fewer for a negative
    ``lead`` (a parent slower per individual than its workers); every chunk keeps at least
    one.
    """
    n = max(1, min(n, k))
    lead = max(-((k - n) // (n - 1)), min(int(lead), (k - n) // n)) if n > 1 else 0
    sizes = [len(c) for c in np.array_split(np.arange(k - lead), n)]
    sizes[-1] += lead
    bounds = np.cumsum([0, *sizes])
    return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _median(values: Any) -> float:
    """Median of a few numbers (``np.median`` costs ~10 us, per generation)."""
    v = sorted(values)
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


def stamped(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` and the wall-clock time it returned (a pool task's finish, comparable
    with the parent's clock on the same machine)."""
    out = fn(*args)
    return out, time.time()


def _echo(payload: np.ndarray | None) -> np.ndarray | None:
    """A no-op task: returns its payload (probes the pool's round trip)."""
    return payload


class PoolCostModel:
    """In-process or pool, per generation, from measured costs.

    Parameters
    ----------
    n_workers : int
        Workers of the pool (``joblib.effective_n_jobs``); the generation is shared by the
        parent and ``n_workers - 1`` tasks.
    n_generations : int or None
        Generations the run will score (after the first); bounds the saving that must pay
        for starting the workers. ``None``: unknown (the start must pay within one).
    min_seconds : float
        Generations predicted to take less than this in-process never use the pool.

    Notes
    -----
    With ``k`` individuals, ``c`` the in-process seconds per individual (median of the last
    ``HISTORY`` in-process generations), ``a`` the seconds per pool task and ``b`` per byte
    shipped (probed), the predictions are ``local = c k`` and, until a pool generation past
    the first (a warm-up) was measured, ``pool = c k / n + a (n - 1) + b bytes``; then
    ``pool = a (n - 1) + w k`` with ``w`` the median of ``(T - a (n - 1)) / k0`` over the
    last ``HISTORY`` pool generations (``T`` seconds for ``k0`` individuals). The pool is
    used when ``pool < (1 - MARGIN) local`` and, before its first generation, when
    ``(local - pool) * remaining generations`` exceeds what trying it costs (starting the
    workers, the probe, a warm-up generation). Each mode's
    measurement is refreshed whenever it runs, so a pool that stops paying (a busier
    machine) hands the generations back; when the pool wins by less than ``RECHECK_GAIN``,
    every ``RECHECK_EVERY``-th generation is scored in-process to refresh ``c``.
    """

    def __init__(self, n_workers: int, *, n_generations: int | None = None,
                 min_seconds: float = 0.0, per_call_prior: float = PER_CALL_PRIOR) -> None:
        self.n = max(1, int(n_workers))
        self.per_call_prior = float(per_call_prior)
        self.n_generations = n_generations
        self.min_seconds = float(min_seconds)
        self._local: deque[float] = deque(maxlen=HISTORY)  # seconds per individual
        self._pool: deque[tuple[float, int]] = deque(maxlen=HISTORY)  # (seconds, individuals)
        self._leads: deque[float] = deque(maxlen=HISTORY)  # balancing leads measured
        self.pool_runs = 0  # pool generations observed (the first is a warm-up, not used)
        self.pool_streak = 0  # pool generations since the last in-process one
        self.per_call: float | None = None
        self.per_byte: float | None = None
        self.decisions: list[bool] = []

    # -- measurements ----------------------------------------------------------------------

    def observe_local(self, seconds: float, n_items: int) -> None:
        """A generation of ``n_items`` scored in-process took ``seconds``."""
        if n_items > 0:
            self._local.append(seconds / n_items)
            self.pool_streak = 0

    def observe_pool(self, seconds: float, n_items: int) -> None:
        """A generation of ``n_items`` shared with the pool took ``seconds`` (wall time).

        The first one is not used: it pays the workers' first calls (imports, buffers, the
        data's first memory-mapping) and would hand back a pool that pays from then on.
        """
        if n_items > 0:
            self.pool_runs += 1
            self.pool_streak += 1
            if self.pool_runs > 1:
                self._pool.append((seconds, n_items))

    @property
    def local_per_item(self) -> float | None:
        """Median in-process seconds per individual of the last ``HISTORY`` generations."""
        return _median(self._local) if self._local else None

    def probe(self, parallel: Parallel | LazyParallel, payload: np.ndarray) -> None:
        """Measure the pool's per-call and per-byte costs with two rounds of no-op tasks.

        The first round also starts the workers if they were not running; its time beyond
        the second's is recorded as this process's start cost.
        """
        tasks = self.n - 1

        def round_trip(arg: np.ndarray | None) -> float:
            t0 = time.perf_counter()
            start_tasks(parallel, _echo, [(arg,)] * tasks)()
            return time.perf_counter() - t0

        first, empty, full = round_trip(None), round_trip(None), round_trip(payload)
        self.per_call = empty / tasks
        self.per_byte = max(0.0, full - empty) / max(1, 2 * payload.nbytes * tasks)
        if not self._warm():
            _measured_start.append(max(0.0, first - empty))
        _last_used[self.n] = time.monotonic()
        logger.debug("pool probe: start %.3f s, %.2f ms per call, %.2f ns per byte",
                     max(0.0, first - empty), 1e3 * self.per_call, 1e9 * self.per_byte)

    # -- predictions -----------------------------------------------------------------------

    def predict(self, n_items: int, n_bytes: int) -> tuple[float, float]:
        """Predicted ``(in-process, pool)`` seconds for a generation of ``n_items``.

        ``n_bytes``: what one pool generation ships both ways (genomes out, results back,
        data pickled with each task).
        """
        c = self.local_per_item or 0.0
        a = (self.per_call_prior if self.per_call is None else self.per_call) * (self.n - 1)
        if self._pool:  # the median pool generation, scaled to n_items
            w = _median([max(0.0, t - a) / k for t, k in self._pool])
            return c * n_items, a + w * n_items
        b = PER_BYTE_PRIOR if self.per_byte is None else self.per_byte
        return c * n_items, c * n_items / self.n + a + b * n_bytes

    def observe_balance(self, lead: int, lateness: float, per_item: float) -> None:
        """A pool generation cut with ``lead`` ended with the last worker's result
        ``lateness`` seconds after the parent finished its share (negative: before); the
        parent took ``per_item`` seconds per individual. The lead that would have ended them
        together is ``lead + lateness / per_item`` (the parent's share exceeds a worker's by
        ``lead`` individuals). The first two pool generations are not used: a worker's first
        tasks also map the data's pages and load the compiled kernels (measured: 30-60 % longer
        than its later ones at 50,000 rows).
        """
        if per_item > 0 and self.pool_runs > 2:
            self._leads.append(lead + lateness / per_item)

    def lead(self) -> int:
        """Individuals the parent's share takes beyond an equal split: the median balancing
        lead of the last ``HISTORY`` pool generations once that many were measured (a
        median of three survives one disturbed generation; negative when the parent scores
        more slowly than its workers: it also sends the tasks and runs the GA), before that
        the probed round trip of a task divided by the in-process seconds per individual (0
        until both exist)."""
        if len(self._leads) == HISTORY:
            return int(round(_median(self._leads)))
        c = self.local_per_item
        if self.per_call is None or not c:
            return 0
        return int(round(self.per_call / c))

    def _warm(self) -> bool:
        last = _last_used.get(self.n)
        return last is not None and time.monotonic() - last < WARM_SECONDS

    def start_cost(self, local: float = 0.0) -> float:
        """Seconds still to pay before the pool's measurements count: starting the workers,
        probing them, and a warm-up generation (counted as one more in-process ``local``)."""
        probe = 0.0 if self.per_call is not None else 3 * self.per_call_prior * (self.n - 1)
        cost = probe + (local if self.pool_runs == 0 else 0.0)
        if self._warm():
            return cost
        return cost + (float(np.median(_measured_start)) if _measured_start else START_PRIOR)

    def use_pool(self, n_items: int, n_bytes: int, generation: int) -> bool:
        """Whether generation ``generation`` (``n_items`` individuals) should use the pool."""
        if self.n < 2 or n_items < 2 or self.local_per_item is None:
            return False
        local, pool = self.predict(n_items, n_bytes)
        if local < self.min_seconds or pool >= (1.0 - MARGIN) * local:
            return False
        start = self.start_cost(local)
        if start > 0.0:
            remaining = 1 if self.n_generations is None else max(
                1, self.n_generations - generation + 1)
            if (local - pool) * remaining <= start:
                return False
        # a narrow win rests on an in-process time measured a while ago: measure it again
        return not (pool > (1.0 - RECHECK_GAIN) * local and self.pool_streak >= RECHECK_EVERY)

    def mark_used(self) -> None:
        """Record that the pool just scored (it stays warm for a while)."""
        _last_used[self.n] = time.monotonic()


def shipped_bytes(genomes: np.ndarray, returns_genomes: bool, data: tuple[Any, ...],
                  n_tasks: int, *, resident: bool = False) -> int:
    """Bytes a pool generation ships: genomes out and back, and, unless the data is
    ``resident`` (:meth:`LazyParallel.resident`), the small data arrays with every task."""
    both_ways = genomes.nbytes * (2 if returns_genomes else 1)
    small = 0 if resident else sum(a.nbytes for a in data
                                   if isinstance(a, np.ndarray) and a.nbytes <= MAX_NBYTES)
    return int(both_ways * n_tasks // (n_tasks + 1) + n_tasks * small)
