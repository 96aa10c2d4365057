"""What a weights genome means and how a batch of genomes is scored.

A genome is one network's flat parameter vector (see :mod:`gabp.network` for the layout), so
a batch of genomes of shape ``(k, n_params)`` *is* a population of networks. Scoring is a
module-level function over plain data (arrays, dicts, ints) so joblib can ship it to worker
processes or a Dask cluster cheaply; when the pool pays is :mod:`gabp._parallel`'s business.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Hashable
from concurrent.futures import BrokenExecutor
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
from joblib import Parallel

from .._parallel import (
    LINK_CALL_PRIOR,
    PER_CALL_PRIOR,
    LazyParallel,
    PoolCostModel,
    balanced_chunks,
    pool_paths,
    shipped_bytes,
    stamped,
    start_tasks,
)
from .._seeding import int_seed, stream
from .._threads import single_blas_thread
from .._validation import check_choice, check_float, check_int
from ..losses import LOSSES
from ..network import Architecture, Network, forward, init_params
from ..optimizers import FIRST_ORDER, OPTIMIZERS
from ..trainer import train
from .engine import Evaluation

logger = logging.getLogger(__name__)

MODES = ("classic", "baldwinian", "lamarckian", "bp")
# Seed-sequence stream keys of the weights GA (the values keep earlier results).
_INIT, _GEN, _BP, _FINAL, _BASELINE, _LAMARCK, _PYRANDOM = range(7)
FITNESS_METRICS = ("loss", "mse", "rmse", "mae", "sae", "error_rate")


#: ``BPConfig.dtype`` values; "auto" is resolved by :func:`resolve_dtype`.
DTYPE_CHOICES = ("auto", "float64", "float32")


def resolve_dtype(dtype: str, optimizer: str) -> str:
    """``dtype`` with "auto" resolved for ``optimizer``: float32 for the mini-batch optimizers
    (sgd, momentum, nesterov, adam), float64 for the full-batch solvers and an unresolved
    ``"auto"`` optimizer."""
    if dtype != "auto":
        return dtype
    return "float32" if optimizer in FIRST_ORDER else "float64"


@dataclass(frozen=True)
class BPConfig:
    """How backpropagation is run inside and after the evolution.

    Parameters
    ----------
    optimizer : {"auto", "lm", "br", "lbfgs", "adam", "sgd", "momentum", "nesterov"}
        ``"auto"`` (the default) lets :func:`gabp.trainer.resolve_optimizer` choose from the
        network, the loss and the data size (Levenberg-Marquardt for small regression
        networks, as MATLAB's GA-BP recipe does); ``"lm"`` / ``"br"`` (Levenberg-Marquardt,
        Bayesian regularization) and ``"lbfgs"`` are full-batch solvers whose "epoch" is one
        iteration; the others are mini-batch gradient descent.
    learning_rate, momentum, alpha : float
        Step size, momentum factor (first-order optimizers only), L2 strength on weights.
    batch_size : int or None
        Mini-batch size of the first-order optimizers; ``None`` for full batch.
    bp_epochs : int
        Epochs (iterations) of BP given to each individual before it is scored (baldwinian
        and lamarckian modes).
    max_epochs : int
        Epoch (iteration) cap of the final fine-tune of the best individual (and of plain BP).
    early_stopping, patience : bool, int
        Early stopping on the validation loss in the final fine-tune and the baseline;
        for ``"lm"`` / ``"br"`` the patience is MATLAB's ``max_fail``.
    dtype : {"auto", "float64", "float32"}
        Precision of the BP training. ``"auto"`` (the default): float32 for the mini-batch
        optimizers (sgd, momentum, nesterov, adam: 1.2-1.8x faster, with the same test
        predictions in ``bench/float32_accuracy.py``), float64 for "lm", "br" and "lbfgs"
        (which compute in float64 inside anyway). Resolved with ``optimizer="auto"``.
    """

    optimizer: str = "auto"
    learning_rate: float = 1e-2
    momentum: float = 0.9
    alpha: float = 0.0
    batch_size: int | None = 32
    bp_epochs: int = 5
    max_epochs: int = 200
    early_stopping: bool = True
    patience: int = 20
    dtype: str = "auto"

    def validate(self, where: str = "BPConfig") -> BPConfig:
        """Raise ``ValueError``/``TypeError`` naming the first bad field."""
        check_choice(self.optimizer, OPTIMIZERS, "optimizer", where)
        check_float(self.learning_rate, "learning_rate", where, low=0.0, low_open=True)
        check_float(self.momentum, "momentum", where, low=0.0, high=1.0, high_open=True)
        check_float(self.alpha, "alpha", where, low=0.0)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", where, low=1)
        check_int(self.bp_epochs, "bp_epochs", where, low=1)
        check_int(self.max_epochs, "max_epochs", where, low=1)
        check_int(self.patience, "patience", where, low=1)
        check_choice(self.dtype, DTYPE_CHOICES, "dtype", where)
        return self

    def train_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`gabp.train` shared by every BP run."""
        return {
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "alpha": self.alpha,
            "batch_size": self.batch_size,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able fields."""
        return asdict(self)


def _output_errors(out: np.ndarray, Y: np.ndarray, metric: str) -> np.ndarray:
    """Non-loss fitness metrics of outputs ``(P, n, k)`` against ``Y`` ``(n, k)``."""
    if metric == "error_rate":
        if out.shape[-1] == 1:
            hit = (out[..., 0] > 0.5) == (Y[:, 0] > 0.5)
        else:
            hit = out.argmax(axis=-1) == Y.argmax(axis=-1)
        err = 1.0 - hit.mean(axis=1)
        return np.where(np.isfinite(out).all(axis=(1, 2)), err, np.inf)
    diff = out - Y
    if metric in ("mse", "rmse"):
        err = np.mean(diff * diff, axis=(1, 2))
        return np.sqrt(err) if metric == "rmse" else err
    if metric == "mae":
        return np.mean(np.abs(diff), axis=(1, 2))
    return np.sum(np.abs(diff), axis=(1, 2))


def _finite(err: Any) -> np.ndarray:
    err = np.asarray(err, dtype=np.float64)
    return np.where(np.isfinite(err), err, np.inf)


#: Bytes the fitness forward pass may hold at once (every layer's pre-activations and
#: activations); larger populations x data are scored a chunk of networks at a time, which
#: gives the same errors (each network's pass is independent of the others).
FITNESS_CHUNK_BYTES = 64e6


def _networks_per_chunk(arch: Architecture, n_samples: int, itemsize: int) -> int:
    values = sum(int(np.prod(out)) for _, out in arch.shapes)  # per sample, every layer
    return max(1, int(FITNESS_CHUNK_BYTES // max(1, 2 * values * n_samples * itemsize)))


def fitness_errors(
    arch: Architecture,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    metric: str,
    loss: str,
) -> np.ndarray:
    """Error of every network on ``(X, Y)``; shape ``(P,)``, ``inf`` where not finite.

    ``metric``: ``"loss"`` (the training loss without L2), ``"mse"``, ``"rmse"``, ``"mae"``,
    ``"sae"`` (sum of absolute errors, the classic MATLAB fitness) or ``"error_rate"``
    (``1 - accuracy``: argmax of the outputs, or a 0.5 threshold for one sigmoid output).
    Memory is bounded by :data:`FITNESS_CHUNK_BYTES` (networks are scored in chunks).
    """
    step = _networks_per_chunk(arch, X.shape[0], params.dtype.itemsize)
    if params.shape[0] > step:
        return np.concatenate([fitness_errors(arch, params[i : i + step], X, Y, metric=metric,
                                              loss=loss)
                               for i in range(0, params.shape[0], step)])
    with np.errstate(all="ignore"):
        acts, z = forward(arch, params, X)
        if metric == "loss":
            return _finite(LOSSES[loss](z, acts[-1], Y, arch.activations[-1])[0])
        return _finite(_output_errors(acts[-1], Y, metric))


def ensemble_error(
    arch: Architecture,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    metric: str,
    loss: str,
) -> float:
    """Fitness error of the ensemble of all ``P`` networks (the mean of their outputs).

    For one network it equals :func:`fitness_errors`. For several, regression outputs and
    class probabilities are averaged, and ``metric="loss"`` is the loss of those averages
    (mean squared error, or the cross-entropy of the averaged probabilities).
    """
    if params.shape[0] == 1:
        return float(fitness_errors(arch, params, X, Y, metric=metric, loss=loss)[0])
    with np.errstate(all="ignore"):
        out = forward(arch, params, X)[0][-1].mean(axis=0, keepdims=True)
        if metric != "loss":
            return float(_finite(_output_errors(out, Y, metric))[0])
        p = np.clip(out[0], 1e-300, 1.0)
        if loss == "cross_entropy":
            value = -np.sum(Y * np.log(p)) / Y.shape[0]
        elif loss == "binary_cross_entropy":
            q = np.clip(1.0 - out[0], 1e-300, 1.0)
            value = -np.sum(Y * np.log(p) + (1.0 - Y) * np.log(q)) / Y.shape[0]
        else:
            value = np.mean((out[0] - Y) ** 2)
    return float(_finite(value))


#: Cost of a forward pass alone, in sample-passes (one forward + backward of one sample
#: through one network is 1); the GA's fitness evaluations are counted with it.
FORWARD_COST = 0.5


class Scores(NamedTuple):
    """What scoring a batch of ``k`` genomes gives back.

    Attributes
    ----------
    errors : ndarray of shape (k,)
        Fitness errors; ``inf`` for individuals that diverged or raised.
    trained : ndarray of shape (k, n_params) or None
        Parameters after BP (hybrid modes), for Lamarckian write-back.
    n_steps : ndarray of shape (k,)
        Gradient steps (solver iterations) spent on each individual.
    failed : ndarray of shape (k,), bool
    sample_passes : ndarray of shape (k,)
        Cost of each individual in sample-passes: its BP training plus the forward pass of
        its fitness evaluation (``FORWARD_COST`` per fitness sample).
    """

    errors: np.ndarray
    trained: np.ndarray | None
    n_steps: np.ndarray
    failed: np.ndarray
    sample_passes: np.ndarray


def _score_batch(
    arch: Architecture,
    genomes: np.ndarray,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    settings: dict[str, Any],
    seed: int,
) -> Scores:
    X, Y, Xf, Yf = data
    mode = settings["mode"]
    k = genomes.shape[0]
    eval_cost = FORWARD_COST * Xf.shape[0]
    if mode == "classic":
        err = fitness_errors(arch, genomes, Xf, Yf, metric=settings["fitness"],
                             loss=settings["loss"])
        return Scores(err, None, np.zeros(k, dtype=np.int64), ~np.isfinite(err),
                      np.full(k, eval_cost))
    net = Network.from_architecture(arch, np.array(genomes, dtype=settings["dtype"]))
    hist = train(
        net, X, Y, loss=settings["loss"], epochs=settings["bp_epochs"], seed=seed,
        restore_best=False, **settings["train_kwargs"],
    )
    # the fitness in the precision the networks trained in: a float32 population's forward
    # pass then runs in float32 (with the compiled passes), not in float64 over float32
    # weights (1.3x per generation at 400 networks x 1 epoch on 2,000 rows)
    dtype = net.params.dtype
    err = fitness_errors(arch, net.params, Xf.astype(dtype, copy=False),
                         Yf.astype(dtype, copy=False), metric=settings["fitness"],
                         loss=settings["loss"])
    err = np.where(hist.diverged, np.inf, err)
    return Scores(err, net.params.astype(np.float64), hist.n_steps, ~np.isfinite(err),
                  hist.sample_passes + eval_cost)


@single_blas_thread
def score_genomes(
    arch_dict: dict[str, Any],
    genomes: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    X_fit: np.ndarray,
    Y_fit: np.ndarray,
    settings: dict[str, Any],
    seed: int,
) -> Scores:
    """Score a batch of genomes as one population; the unit of parallel work.

    Parameters
    ----------
    arch_dict : dict
        :meth:`Architecture.to_dict` of the networks.
    genomes : ndarray of shape (k, n_params)
    X, Y : training data (used by BP in the hybrid modes)
    X_fit, Y_fit : data the fitness is computed on (validation data by default)
    settings : dict
        ``mode``, ``fitness``, ``loss``, ``bp_epochs``, ``dtype``, ``train_kwargs``.
    seed : int
        Seed of BP's mini-batch order, shared by the whole generation so that the result of
        an individual does not depend on which batch (or worker) it was scored in.

    Returns
    -------
    Scores
        A batch that raises is scored again one by one, so only the culprit fails.
    """
    arch = Architecture.from_dict(arch_dict)
    data = (X, Y, X_fit, Y_fit)
    try:
        return _score_batch(arch, genomes, data, settings, seed)
    except Exception as exc:  # isolate the culprit: score one by one
        logger.warning("batch scoring failed (%s: %s); scoring individuals one by one",
                       type(exc).__name__, exc)
    k = genomes.shape[0]
    errors = np.full(k, np.inf)
    trained = None if settings["mode"] == "classic" else np.array(genomes, dtype=np.float64)
    steps = np.zeros(k, dtype=np.int64)
    passes = np.zeros(k)
    for i in range(k):
        try:
            one = _score_batch(arch, genomes[i : i + 1], data, settings, seed)
        except Exception as exc:
            logger.warning("individual failed: %s: %s", type(exc).__name__, exc)
            continue
        errors[i], steps[i], passes[i] = one.errors[0], one.n_steps[0], one.sample_passes[0]
        if trained is not None and one.trained is not None:
            trained[i] = one.trained[0]
    return Scores(errors, trained, steps, ~np.isfinite(errors), passes)


def _score_compact(score: Callable[..., Scores], *args: Any) -> Scores:
    """``score(*args)`` (:func:`score_genomes`) for a pool task: trained weights come back
    in the genomes' dtype (a float32 population trains in float32, so its weights are
    float32 values and the parent's cast back to float64 is exact)."""
    scores = score(*args)
    dtype = args[1].dtype
    if scores.trained is not None and scores.trained.dtype != dtype:
        scores = scores._replace(trained=scores.trained.astype(dtype))
    return scores


def check_fitness(metric: str, where: str) -> str:
    """Validate a fitness metric name."""
    return check_choice(metric, FITNESS_METRICS, "fitness", where)


def check_mode(mode: str, where: str) -> str:
    """Validate a mode name."""
    return check_choice(mode, MODES, "mode", where)


def _concatenate(results: list[Scores]) -> Scores:
    trained = (None if results[0].trained is None
               else np.concatenate([r.trained for r in results]))
    return Scores(
        errors=np.concatenate([r.errors for r in results]),
        trained=trained,
        n_steps=np.concatenate([r.n_steps for r in results]),
        failed=np.concatenate([r.failed for r in results]),
        sample_passes=np.concatenate([r.sample_passes for r in results]),
    )


class ChunkedScorer:
    """Scores generations in-process or shared with one joblib pool (open for the whole run).

    Every generation is scored in-process unless :class:`gabp._parallel.PoolCostModel`,
    fed with the measured in-process and pool costs, predicts that sharing it with the pool
    is faster; then the generation is cut into ``n_workers`` chunks of equal cost (the
    parent's larger by what it scores during a worker's round trip), ``n_workers - 1`` go to
    the pool and the parent scores the last one meanwhile. The data arrays are the
    same objects in every task, so joblib memory-maps the large ones once per run.
    Chunking never changes the scores, so none of this affects results. If a worker dies
    (killed, out of memory), its chunk is scored in-process, with a warning, and so is the
    rest of the run.

    Parameters
    ----------
    parallel : joblib.Parallel or gabp._parallel.LazyParallel
        Called with the delayed tasks of a pool generation.
    n_workers : int
        ``joblib.effective_n_jobs(n_jobs)``; 1 scores everything in-process.
    arch, data, settings
        The networks, ``(X, Y, X_fit, Y_fit)`` and :func:`score_genomes`' settings.
    min_seconds : float or None
        ``None``: the cost model decides. ``0``: every generation uses the pool (a Dask
        cluster, tests). ``t > 0``: generations predicted to take less than ``t`` seconds
        in-process stay there; above, the cost model decides.
    n_generations : int or None
        Generations after the first, for the cost model's start-up rule.

    Attributes
    ----------
    pooled : list of bool
        Per call, whether the pool took part (for benchmarks and tests).
    """

    def __init__(self, parallel: Parallel | LazyParallel, n_workers: int, arch: Architecture,
                 data: tuple[np.ndarray, ...], settings: dict[str, Any], *,
                 min_seconds: float | None = None, n_generations: int | None = None) -> None:
        self.parallel = parallel
        self.n_workers = max(1, n_workers)
        self.arch_dict = arch.to_dict()
        self.data = data
        self.settings = settings
        self.force_pool = min_seconds == 0 and self.n_workers > 1
        self.resident, linked = pool_paths(parallel)
        self.model = PoolCostModel(self.n_workers, n_generations=n_generations,
                                   min_seconds=min_seconds or 0.0,
                                   per_call_prior=LINK_CALL_PRIOR if linked else PER_CALL_PRIOR)
        self.probed = False
        self.broken = False  # a worker died: the rest of the run is scored in-process
        self.pooled: list[bool] = []

    def _args(self, genomes: np.ndarray, seed: int, data: tuple | None = None) -> tuple:
        return (self.arch_dict, genomes, *(self.data if data is None else data), self.settings,
                seed)

    def _pool_data(self) -> tuple:
        """The data as the pool's tasks carry it: written once per run where the pool can
        map files (:meth:`gabp._parallel.LazyParallel.resident`), else the arrays."""
        if isinstance(self.parallel, LazyParallel):
            return self.parallel.resident(self.data)
        return self.data

    def _wants_pool(self, genomes: np.ndarray, generation: int) -> bool:
        if self.force_pool:
            return True
        n_bytes = shipped_bytes(genomes, self.settings["mode"] != "classic", self.data,
                                self.n_workers - 1, resident=self.resident)
        if not self.model.use_pool(len(genomes), n_bytes, generation):
            return False
        if not self.probed:  # measure the pool's overheads once, then decide again
            self.probed = True
            self.model.probe(self.parallel, genomes[: -(-len(genomes) // self.n_workers)])
            return self.model.use_pool(len(genomes), n_bytes, generation)
        return True

    def __call__(self, genomes: np.ndarray, seed: int, generation: int = 0) -> Scores:
        """Scores of ``genomes`` (shape ``(k, n_params)``), BP seeded with ``seed``."""
        k = genomes.shape[0]
        if k == 0:
            return Scores(np.zeros(0), None, np.zeros(0, dtype=np.int64),
                          np.zeros(0, dtype=bool), np.zeros(0))
        pool = (k > 1 and self.n_workers > 1 and not self.broken
                and self._wants_pool(genomes, generation))
        if self.n_workers > 1 and logger.isEnabledFor(logging.DEBUG):
            logger.debug("generation %d (%d individuals): %s; predicted in-process %.4g s, "
                         "pool %.4g s", generation, k, "pool" if pool else "in-process",
                         *self.model.predict(k, 0))
        self.pooled.append(pool)
        if not pool:
            t0 = time.perf_counter()
            scores = score_genomes(*self._args(genomes, seed))
            self.model.observe_local(time.perf_counter() - t0, k)
            return scores
        lead = self.model.lead()
        *sent, mine = balanced_chunks(k, self.n_workers, lead)
        t0 = time.perf_counter()
        # started here, in the caller's thread, where joblib.parallel_config applies
        data = self._pool_data()
        # BP trains a float32 population from float32 copies of the genomes: sending those
        # halves what crosses the pipe (~1 ms per 300 KB), and the same scores come back
        # (the classic mode scores the genomes themselves: they go as they are)
        send = (genomes if self.settings["mode"] == "classic"
                else genomes.astype(self.settings["dtype"], copy=False))
        wait = start_tasks(self.parallel, stamped,
                           [(_score_compact, score_genomes, *self._args(send[c], seed, data))
                            for c in sent])
        local = score_genomes(*self._args(genomes[mine], seed))
        t_local, local_end = time.perf_counter() - t0, time.time()
        try:
            remote, ends = zip(*wait(), strict=True)
        except BrokenExecutor as exc:  # a worker died (killed, out of memory): not a score
            logger.warning("the worker pool failed (%s: %s); scoring in-process from now on",
                           type(exc).__name__, exc)
            self.broken = True
            remote = [score_genomes(*self._args(genomes[c], seed)) for c in sent]
            return _concatenate([*remote, local])
        remote = [r if r.trained is None or r.trained.dtype == np.float64
                  else r._replace(trained=r.trained.astype(np.float64)) for r in remote]
        self.model.observe_pool(time.perf_counter() - t0, k)
        self.model.observe_balance(lead, max(ends) - local_end, t_local / len(mine))
        self.model.mark_used()
        return _concatenate([*remote, local])


class WeightsProblem:
    """A genome is a network's parameter vector; its fitness the network's error.

    In the hybrid modes each genome is trained by BP before it is scored; in mode
    ``"lamarckian"`` the trained weights are what is told back to the strategy (each
    genome with probability ``lamarck_prob``), which is all Lamarckian write-back is.
    """

    stream_keys = (_INIT, _GEN, _PYRANDOM)
    extra_columns: tuple[str, ...] = ()
    all_failed_message = (
        "Every individual of the initial population failed (diverged or raised). Check the "
        "data for extreme values, lower the learning rate, or narrow the initial weights.")

    def __init__(self, arch: Architecture, scorer: ChunkedScorer, *, entropy: int, mode: str,
                 init: str, init_range: float, bounds: tuple[float, float] | None,
                 lamarck_prob: float, holdout: Holdout | None = None) -> None:
        self.arch, self.scorer, self.entropy, self.mode = arch, scorer, entropy, mode
        self.init, self.init_range, self.bounds = init, init_range, bounds
        self.lamarck_prob = lamarck_prob
        self.holdout = holdout
        if holdout is not None:
            self.extra_columns = ("holdout_error",)
        self._generation = 0

    def initial_population(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` genomes from the configured initializer, clipped to the gene bounds."""
        pop = init_params(self.arch, n, method=self.init, init_range=self.init_range, rng=rng)
        if self.bounds is not None:
            np.clip(pop, *self.bounds, out=pop)
        return pop

    def evaluate(self, genomes: np.ndarray, generation: int) -> Evaluation:
        """Score ``genomes``; Lamarckian mode tells the trained weights back."""
        self._generation = generation
        scores = self.scorer(genomes, int_seed(self.entropy, _BP, generation), generation)
        told = genomes
        if self.mode == "lamarckian" and scores.trained is not None:
            write = stream(self.entropy, _LAMARCK, generation).random(len(genomes))
            write = (write < self.lamarck_prob) & ~scores.failed
            told = genomes.copy()
            told[write] = scores.trained[write]
        return Evaluation(scores.errors, told, scores.failed, int(scores.n_steps.sum()),
                          float(scores.sample_passes.sum()))

    def key(self, genome: np.ndarray) -> Hashable:
        """Genomes are distinct when their bytes differ."""
        return np.asarray(genome, dtype=np.float64).tobytes()

    def record(self, best_genome: np.ndarray) -> dict[str, Any]:
        """With a holdout, the generation's best genome scored on it (``holdout_error``)."""
        if self.holdout is None:
            return {}
        return {"holdout_error": self.holdout.observe(self.arch, best_genome, self._generation)}

    def stop_reason(self) -> str | None:
        """``"holdout_patience"`` once the holdout's best is that many generations old."""
        return None if self.holdout is None else self.holdout.stop_reason()

    def state_dict(self) -> dict[str, Any]:
        """The holdout's best so far (scoring itself is a pure function of genome and seed)."""
        return {} if self.holdout is None else {"holdout": self.holdout.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        if self.holdout is not None and "holdout" in state:
            self.holdout.load_state_dict(state["holdout"])


class Holdout:
    """Rows held out of the GA's fitness, on which each generation's best genome is scored.

    The best genome *on the holdout* (first reached, so the earliest generation among
    equals) is what the run delivers: selection that overfits the fitness rows, as tens of
    thousands of evaluations of a long run can, then costs nothing on unseen data.

    Parameters
    ----------
    X, Y : ndarray
        The held-out rows.
    metric, loss : str
        The GA's fitness metric (see :func:`fitness_errors`) and the training loss.
    patience : int or None
        Generations without a new best on the holdout after which :meth:`stop_reason`
        asks the run to stop.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, *, metric: str, loss: str,
                 patience: int | None = None) -> None:
        self.X, self.Y, self.metric, self.loss, self.patience = X, Y, metric, loss, patience
        self.best_error = math.inf
        self.best_genome: np.ndarray | None = None
        self.best_generation = -1
        self.generation = -1

    def observe(self, arch: Architecture, genome: np.ndarray, generation: int) -> float:
        """Score ``genome`` (generation ``generation``'s best) on the holdout; keep it if it
        is the best so far. Returns its holdout error."""
        err = float(fitness_errors(arch, np.asarray(genome, dtype=np.float64)[None], self.X,
                                   self.Y, metric=self.metric, loss=self.loss)[0])
        self.generation = generation
        if err < self.best_error:
            self.best_error, self.best_generation = err, generation
            self.best_genome = np.array(genome, dtype=np.float64)
        return err

    def stop_reason(self) -> str | None:
        """``"holdout_patience"`` after ``patience`` generations without a new best."""
        if (self.patience is not None and self.best_generation >= 0
                and self.generation - self.best_generation >= self.patience):
            return "holdout_patience"
        return None

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready best so far."""
        return {"best_error": self.best_error, "best_generation": self.best_generation,
                "generation": self.generation,
                "best_genome": None if self.best_genome is None else self.best_genome.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.best_error = float(state["best_error"])
        self.best_generation = int(state["best_generation"])
        self.generation = int(state["generation"])
        g = state["best_genome"]
        self.best_genome = None if g is None else np.asarray(g, dtype=np.float64)
