"""Scoring decoded configurations: batched BP training, a cache, joblib over groups.

Each configuration is trained by :func:`gabp.train` with early stopping on the validation
part; its fitness is the validation error (``"loss"``, ``"rmse"`` or ``"error_rate"``),
averaged over ``n_units`` training units (cross-validation folds x repeated seeds).

Configurations that share everything one :func:`gabp.train` call needs (architecture,
activation, optimizer, batch size, epochs, patience, lags, unit) form a *group* and are
trained together as one population, with per-network learning rate, momentum and L2 as
arrays. joblib runs the groups in parallel (one task per group, plain data only, the
costliest groups dispatched first).

Seeds do not depend on grouping or on ``n_jobs``: the initial weights of a configuration come
from a stream keyed by the configuration itself (and the unit), and the mini-batch order of
a group from a stream keyed by the group's shared settings, so a configuration gets the same
error whichever generation, group or worker trains it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from .._seeding import int_seed
from ..evolution.problem import fitness_errors, resolve_dtype
from ..network import Architecture, Network, forward, init_params
from ..trainer import train
from .space import CNN_NAMES, network_layers

logger = logging.getLogger(__name__)

#: Fitness metrics of the search (errors, lower is better).
SEARCH_FITNESS = ("loss", "rmse", "error_rate")
# Seed-sequence stream keys.
_INIT_KEY, _SHUFFLE_KEY = 11, 12
# Settings that one train() call shares across its population.
GROUP_FIELDS = ("hidden_layer_sizes", "activation", "optimizer", "batch_size", "max_epochs",
                "patience", "n_lags", "model", *CNN_NAMES)


def _hash_words(obj: Any) -> tuple[int, ...]:
    """Four 32-bit words of a stable hash of ``repr(obj)`` (same in every process)."""
    digest = hashlib.sha256(repr(obj).encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def config_seed(entropy: int, key: tuple, unit: int) -> int:
    """Seed of the initial weights of configuration ``key`` in training unit ``unit``."""
    return int_seed(entropy, _INIT_KEY, *_hash_words(key), unit)


def group_key(config: dict[str, Any]) -> tuple:
    """The settings of ``config`` that one :func:`gabp.train` call shares."""
    return tuple((f, config.get(f)) for f in GROUP_FIELDS)


def group_seed(entropy: int, gkey: tuple, unit: int) -> int:
    """Seed of the mini-batch order of a group (from its shared settings only)."""
    return int_seed(entropy, _SHUFFLE_KEY, *_hash_words(gkey), unit)


def n_params_of(config: dict[str, Any], n_inputs: int, n_outputs: int,
                input_shape: Sequence[int] | None = None) -> int:
    """Number of weights and biases of the network ``config`` builds."""
    hidden = network_layers(config, input_shape)
    return Architecture.build((n_inputs, *hidden, n_outputs), where="n_params_of").n_params


def _work_per_sample(hidden: tuple, n_inputs: int, n_outputs: int) -> int:
    """Parameters plus activation values of one sample: a proxy for a group's cost."""
    arch = Architecture.build((n_inputs, *hidden, n_outputs), where="train_group")
    return arch.n_params + sum(int(np.prod(out)) for _, out in arch.shapes)


def train_group(
    hidden: tuple[int, ...],
    settings: dict[str, Any],
    learning_rate: np.ndarray,
    momentum: np.ndarray,
    alpha: np.ndarray,
    init_seeds: Sequence[int],
    shuffle_seed: int,
    X: np.ndarray,
    Y: np.ndarray,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    y_unscale: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train one group of configurations as one population; the unit of parallel work.

    Parameters
    ----------
    hidden : tuple
        Hidden layers shared by the group: dense widths and layer units
        (:func:`gabp.search.space.network_layers`).
    settings : dict
        ``activation``, ``output_activation``, ``loss``, ``optimizer``, ``batch_size``,
        ``max_epochs``, ``patience``, ``fitness``.
    learning_rate, momentum, alpha : ndarray of shape (P,)
        One value per configuration.
    init_seeds : sequence of P ints
        Seed of each configuration's initial weights.
    shuffle_seed : int
        Seed of the mini-batch order (shared by the group).
    X, Y, X_val, Y_val : ndarray
        Scaled training and validation data; ``Y`` one-hot for classification.
    y_unscale : ndarray of shape (n_outputs,)
        Scale of each target column in original units (``"rmse"`` is reported in them).

    Returns
    -------
    errors : ndarray of shape (P,)
        Validation error; ``inf`` where training diverged or raised.
    best_epoch : ndarray of shape (P,)
        Epoch (0-based) of the best validation loss (``-1`` if none).
    n_steps : ndarray of shape (P,)
        Gradient steps each network took.
    sample_passes : ndarray of shape (P,)
        Cost of each training in sample-passes (see :class:`gabp.trainer.History`).
    """
    P = len(init_seeds)
    try:
        arch = Architecture.build((X.shape[1], *hidden, Y.shape[1]),
                                  hidden_activation=settings["activation"],
                                  output_activation=settings["output_activation"],
                                  where="train_group")
        # the precision the refit's estimator uses too (dtype "auto": float32 for the
        # mini-batch optimizers, float64 for the full-batch solvers and "auto")
        dtype = resolve_dtype("auto", settings["optimizer"])
        params = np.concatenate([init_params(arch, 1, rng=int(s), dtype=dtype)
                                 for s in init_seeds])
        net = Network.from_architecture(arch, params)
        hist = train(net, X, Y, loss=settings["loss"], optimizer=settings["optimizer"],
                     learning_rate=learning_rate, momentum=momentum, alpha=alpha,
                     epochs=settings["max_epochs"], batch_size=settings["batch_size"],
                     X_val=X_val, Y_val=Y_val, early_stopping=True,
                     patience=settings["patience"], seed=int(shuffle_seed))
        errors = validation_errors(arch, net.params, X_val, Y_val, settings["fitness"],
                                   settings["loss"], y_unscale)
        errors = np.where(hist.diverged, np.inf, errors)
        return (errors, hist.best_epoch.astype(np.int64), hist.n_steps.astype(np.int64),
                np.asarray(hist.sample_passes, dtype=float))
    except Exception as exc:  # a failing group is a value (+inf), not a crash
        logger.warning("training a group failed: %s: %s", type(exc).__name__, exc)
        return (np.full(P, np.inf), np.full(P, -1, dtype=np.int64), np.zeros(P, dtype=np.int64),
                np.zeros(P))


def validation_errors(arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
                      fitness: str, loss: str, y_unscale: np.ndarray) -> np.ndarray:
    """Error of every network (shape ``(P,)``, ``inf`` where not finite)."""
    if fitness == "rmse":
        with np.errstate(all="ignore"):
            out = forward(arch, params, X)[0][-1]
            diff = (out - Y) * y_unscale
            err = np.sqrt(np.mean(diff * diff, axis=(1, 2)))
        return np.where(np.isfinite(err), err, np.inf)
    return fitness_errors(arch, params, X, Y, metric=fitness, loss=loss)


@dataclass
class Trained:
    """Cache entry: what training one configuration gave, per unit."""

    errors: np.ndarray  # (n_units,)
    best_epoch: np.ndarray  # (n_units,)
    n_steps: np.ndarray  # (n_units,)
    n_params: int
    sample_passes: np.ndarray | None = None  # (n_units,)

    @property
    def error(self) -> float:
        """Mean error over units; ``inf`` if any unit failed."""
        return float(np.mean(self.errors)) if np.all(np.isfinite(self.errors)) else np.inf


#: ``data(n_lags, fold) -> (X, Y, X_val, Y_val, y_unscale)``
DataFn = Callable[[int | None, int], tuple[np.ndarray, ...]]


class Evaluator:
    """Scores configurations with a cache; trains uncached ones in groups.

    Parameters
    ----------
    data : callable
        ``data(n_lags, fold) -> (X, Y, X_val, Y_val, y_unscale)`` (``n_lags`` is ``None``
        for non-series tasks).
    settings : dict
        ``output_activation``, ``loss``, ``fitness`` (shared by every group).
    n_folds, n_repeats : int
        Training units per configuration: ``n_folds * n_repeats``.
    entropy : int
        The search's seed.
    parallel : joblib.Parallel
        The pool, reused across generations.

    Attributes
    ----------
    cache : dict
        ``SearchSpace.key(config) -> Trained``.
    n_trainings : int
        Networks trained (configurations x units).
    n_cache_hits : int
        Configurations scored from the cache (including duplicates within one batch).
    """

    def __init__(self, data: DataFn, settings: dict[str, Any], *, n_folds: int, n_repeats: int,
                 entropy: int, parallel: Parallel, key: Callable[[dict], tuple]) -> None:
        self.data = data
        self.settings = settings
        self.n_folds, self.n_repeats = n_folds, n_repeats
        self.n_units = n_folds * n_repeats
        self.entropy = entropy
        self.parallel = parallel
        self.key = key
        self.cache: dict[tuple, Trained] = {}
        self.configs: dict[tuple, dict[str, Any]] = {}
        self.n_trainings = 0
        self.n_cache_hits = 0
        self.n_failed = 0

    def __call__(self, configs: Sequence[dict[str, Any]]) -> np.ndarray:
        """Errors of ``configs`` (shape ``(len(configs),)``), training the uncached ones."""
        keys = [self.key(c) for c in configs]
        todo: dict[tuple, dict[str, Any]] = {}
        for k, c in zip(keys, configs, strict=True):
            if k in self.cache or k in todo:
                self.n_cache_hits += 1
            else:
                todo[k] = c
        if todo:
            self._train(todo)
        return np.array([self.cache[k].error for k in keys])

    def lookup(self, configs: Sequence[dict[str, Any]]) -> np.ndarray:
        """Errors of already trained ``configs`` (not counted as cache hits)."""
        return np.array([self.cache[self.key(c)].error for c in configs], dtype=float)

    def _train(self, todo: dict[tuple, dict[str, Any]]) -> None:
        groups: dict[tuple, list[tuple]] = {}
        for k, c in todo.items():
            groups.setdefault(group_key(c), []).append(k)
        jobs = []
        for gkey, members in sorted(groups.items(), key=lambda kv: repr(kv[0])):
            members = sorted(members, key=repr)
            cfgs = [todo[k] for k in members]
            c0 = cfgs[0]
            settings = {**self.settings, "activation": c0["activation"],
                        "optimizer": c0["optimizer"], "batch_size": c0["batch_size"],
                        "max_epochs": c0["max_epochs"], "patience": c0["patience"]}
            lr = np.array([c["learning_rate"] for c in cfgs], dtype=float)
            mu = np.array([c.get("momentum", 0.0) for c in cfgs], dtype=float)
            al = np.array([c["alpha"] for c in cfgs], dtype=float)
            for unit in range(self.n_units):
                fold = unit // self.n_repeats
                X, Y, Xv, Yv, unscale = self.data(c0.get("n_lags"), fold)
                seeds = [config_seed(self.entropy, k, unit) for k in members]
                jobs.append((members, unit, (
                    network_layers(c0, self.settings.get("input_shape")), settings, lr, mu, al,
                    seeds,
                    group_seed(self.entropy, gkey, unit), X, Y, Xv, Yv, unscale)))
        results = self._run_jobs([args for _, _, args in jobs])
        per_key: dict[tuple, list] = {k: [None] * self.n_units for k in todo}
        for (members, unit, args), (err, ep, st, sp) in zip(jobs, results, strict=True):
            n_in, n_out = args[7].shape[1], args[8].shape[1]
            for i, k in enumerate(members):
                n_par = n_params_of(todo[k], n_in, n_out, self.settings.get("input_shape"))
                per_key[k][unit] = (err[i], ep[i], st[i], n_par, sp[i])
        for k, rows in per_key.items():
            errs = np.array([r[0] for r in rows], dtype=float)
            self.cache[k] = Trained(errs, np.array([r[1] for r in rows], dtype=np.int64),
                                    np.array([r[2] for r in rows], dtype=np.int64), rows[0][3],
                                    np.array([r[4] for r in rows], dtype=float))
            self.configs[k] = todo[k]
            self.n_failed += int(not np.all(np.isfinite(errs)))
        self.n_trainings += len(todo) * self.n_units

    def _run_jobs(self, jobs: list[tuple]) -> list[tuple]:
        """:func:`train_group` on every job, the costliest dispatched first.

        Groups differ a lot in cost (networks x (parameters + activations) x rows x epochs,
        a proxy), and joblib hands
        tasks to free workers in the order given: dispatching the largest first (LPT) keeps
        a worker from starting a large group last while the other idles. Results come back
        in the jobs' own order, so grouping and order never change a result.
        """
        cost = [len(a[5]) * _work_per_sample(a[0], a[7].shape[1], a[8].shape[1])
                * a[7].shape[0] * a[1]["max_epochs"] for a in jobs]
        order = sorted(range(len(jobs)), key=lambda i: -cost[i])
        done = self.parallel(delayed(train_group)(*jobs[i]) for i in order)
        results: list[tuple] = [()] * len(jobs)
        for i, res in zip(order, done, strict=True):
            results[i] = res
        return results

    def state_dict(self) -> dict[str, Any]:
        """The cache and counters as JSON-ready data (a search checkpoint holds them)."""
        return {
            "counters": [self.n_trainings, self.n_cache_hits, self.n_failed],
            "cache": [{"config": {k: list(v) if isinstance(v, tuple) else v
                                  for k, v in self.configs[key].items()},
                       "errors": t.errors.tolist(), "best_epoch": t.best_epoch.tolist(),
                       "n_steps": t.n_steps.tolist(), "n_params": t.n_params,
                       "sample_passes": (None if t.sample_passes is None
                                         else t.sample_passes.tolist())}
                      for key, t in self.cache.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave (in its order)."""
        self.n_trainings, self.n_cache_hits, self.n_failed = state["counters"]
        self.cache, self.configs = {}, {}
        for entry in state["cache"]:
            config = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in entry["config"].items()}
            key = self.key(config)
            sp = entry["sample_passes"]
            self.cache[key] = Trained(np.array(entry["errors"], dtype=float),
                                      np.array(entry["best_epoch"], dtype=np.int64),
                                      np.array(entry["n_steps"], dtype=np.int64),
                                      int(entry["n_params"]),
                                      None if sp is None else np.array(sp, dtype=float))
            self.configs[key] = config
