"""Backpropagation training of a whole population of networks at once.

:func:`train` runs mini-batch gradient descent on every network of a :class:`~gabp.Network`
simultaneously: one forward and one backward pass per mini-batch for the whole population,
as batched array operations. All networks see the same mini-batches in the same order
(one shuffle per epoch, drawn from ``seed``), so training ``P`` networks together gives the
same result as training each alone with the same seed.

Parameters are updated *in place* in ``net.params``; a genetic algorithm that passes its
genomes' memory gets the trained weights written back at no cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import check_array, check_float, check_int, check_same_length, fail
from .network import Network, _Backprop, check_loss, evaluate_loss
from .optimizers import OPTIMIZERS, make_optimizer

logger = logging.getLogger(__name__)


@dataclass
class History:
    """Per-epoch record of a population's training.

    Attributes
    ----------
    train_loss : ndarray of shape (n_epochs, P)
        Mean objective (loss + L2 term) over the epoch's mini-batches, weighted by batch size
        (the average over all training samples, not the last batch's). ``inf`` once diverged.
    val_loss : ndarray of shape (n_epochs, P) or None
        Loss on the validation data at the end of each epoch (no L2 term).
    best_epoch : ndarray of shape (P,)
        Epoch (0-based) of the best monitored loss; its weights are the ones kept when
        ``restore_best`` is on. ``-1`` if the network never produced a finite loss.
    best_loss : ndarray of shape (P,)
        Best monitored loss (validation loss if given, else training loss); ``inf`` for
        diverged networks.
    diverged : ndarray of shape (P,), bool
        Networks whose loss or gradient became NaN or infinite; they were frozen there.
    n_steps : ndarray of shape (P,)
        Gradient steps each network actually took (stops counting when it is frozen).
    stopped_epoch : ndarray of shape (P,)
        Epoch at which early stopping froze the network (``-1``: it was not stopped).
    """

    train_loss: np.ndarray
    val_loss: np.ndarray | None
    best_epoch: np.ndarray
    best_loss: np.ndarray
    diverged: np.ndarray
    n_steps: np.ndarray
    stopped_epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def n_epochs(self) -> int:
        """Epochs run (the loop ends early when every network is frozen)."""
        return self.train_loss.shape[0]

    @property
    def final_loss(self) -> np.ndarray:
        """Best monitored loss per network, ``+inf`` where a network diverged."""
        return np.where(self.diverged, np.inf, self.best_loss)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, for JSON."""
        out: dict[str, Any] = {
            "train_loss": self.train_loss.tolist(),
            "best_epoch": self.best_epoch.tolist(),
            "best_loss": self.best_loss.tolist(),
            "diverged": self.diverged.tolist(),
            "n_steps": self.n_steps.tolist(),
            "stopped_epoch": self.stopped_epoch.tolist(),
        }
        out["val_loss"] = None if self.val_loss is None else self.val_loss.tolist()
        return out


def _per_network(value: Any, P: int, name: str, *, low: float, low_open: bool) -> np.ndarray:
    """Validate a scalar or ``(P,)`` hyperparameter; return shape ``(P,)``."""
    if np.ndim(value) == 0:
        v = check_float(value, name, "train", low=low, low_open=low_open)
        return np.full(P, v)
    arr = check_array(value, name, "train", ndim=1)
    if arr.shape[0] != P:
        fail(name, "train", f"a number or an array of shape ({P},) (one per network)", arr)
    bad = arr <= low if low_open else arr < low
    if np.any(bad):
        fail(name, "train", f"{'>' if low_open else '>='} {low:g} for every network", arr)
    return arr


def _mark_diverged(bad: np.ndarray, diverged: np.ndarray, active: np.ndarray, epoch: int) -> None:
    newly = bad & ~diverged
    if newly.any():
        logger.debug("networks %s diverged at epoch %d", np.flatnonzero(newly), epoch)
    diverged |= bad
    active &= ~bad


def as_targets(
    Y: Any, n_outputs: int, name: str, where: str, *, dtype: Any = np.float64
) -> np.ndarray:
    """Validate targets and return them with shape ``(n, n_outputs)``."""
    Y = check_array(Y, name, where, ndim=(1, 2), dtype=dtype)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape[1] != n_outputs:
        fail(name, where, f"an array with {n_outputs} column(s) (the network's outputs)", Y)
    return Y


def train(
    net: Network,
    X: Any,
    Y: Any,
    *,
    loss: str = "mse",
    optimizer: str = "adam",
    learning_rate: float | np.ndarray = 1e-3,
    momentum: float | np.ndarray = 0.9,
    alpha: float | np.ndarray = 0.0,
    epochs: int = 200,
    batch_size: int | None = 32,
    X_val: Any = None,
    Y_val: Any = None,
    early_stopping: bool = False,
    patience: int = 10,
    min_delta: float = 0.0,
    restore_best: bool = True,
    shuffle: bool = True,
    seed: np.random.Generator | int | None = None,
    callback: Callable[[int, History], bool] | None = None,
) -> History:
    """Train every network of ``net`` by backpropagation, in place.

    Parameters
    ----------
    net : Network
        Population of ``P`` networks; ``net.params`` is updated in place.
    X : array-like of shape (n, n_in)
    Y : array-like of shape (n, n_out) or (n,)
        Targets; one-hot rows for ``loss="cross_entropy"``.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    optimizer : {"sgd", "momentum", "nesterov", "adam"}
    learning_rate, momentum, alpha : float or ndarray of shape (P,)
        Step size, momentum factor and L2 strength, shared or one per network.
    epochs : int
        Maximum number of passes over the training data.
    batch_size : int or None
        Mini-batch size; ``None`` (or ``>= n``) for full-batch gradient descent.
    X_val, Y_val : array-like, optional
        Validation data, scored after every epoch.
    early_stopping : bool
        Freeze a network once its monitored loss (validation loss, or the training loss when
        no validation data is given) has not improved by ``min_delta`` for ``patience``
        epochs; training ends when every network is frozen.
    restore_best : bool
        At the end, put back each network's weights from its best monitored epoch.
    seed : int, Generator or None
        Seed of the mini-batch shuffling.
    callback : callable, optional
        ``callback(epoch, history) -> stop?`` called after every epoch.

    Returns
    -------
    History
    """
    where = "train"
    if not isinstance(net, Network):
        fail("net", where, "a gabp.Network", net, exc=TypeError)
    arch, P = net.arch, net.n_networks
    check_loss(loss, arch, where)
    if optimizer not in OPTIMIZERS:
        fail("optimizer", where, "one of " + ", ".join(repr(o) for o in OPTIMIZERS), optimizer)
    dtype = net.params.dtype
    X = check_array(X, "X", where, ndim=2, dtype=dtype)
    if X.shape[1] != arch.n_inputs:
        fail("X", where, f"an array with {arch.n_inputs} columns (the network's inputs)", X)
    Y = as_targets(Y, arch.n_outputs, "Y", where, dtype=dtype)
    check_same_length(X, Y, ("X", "Y"), where)
    has_val = X_val is not None or Y_val is not None
    if has_val:
        if X_val is None or Y_val is None:
            fail("X_val", where, "given together with Y_val", X_val)
        X_val = check_array(X_val, "X_val", where, ndim=2, dtype=dtype)
        if X_val.shape[1] != arch.n_inputs:
            fail("X_val", where, f"an array with {arch.n_inputs} columns", X_val)
        Y_val = as_targets(Y_val, arch.n_outputs, "Y_val", where, dtype=dtype)
        check_same_length(X_val, Y_val, ("X_val", "Y_val"), where)
    lr = _per_network(learning_rate, P, "learning_rate", low=0.0, low_open=True)
    mu = _per_network(momentum, P, "momentum", low=0.0, low_open=False)
    l2 = _per_network(alpha, P, "alpha", low=0.0, low_open=False)
    epochs = check_int(epochs, "epochs", where, low=1)
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    batch_size = min(check_int(batch_size, "batch_size", where, low=1), n)
    patience = check_int(patience, "patience", where, low=1)
    min_delta = check_float(min_delta, "min_delta", where, low=0.0)

    rng = np.random.default_rng(seed)
    opt = make_optimizer(
        optimizer, net.params.shape, learning_rate=lr, momentum=mu, dtype=dtype
    )
    params = net.params
    grad = np.empty_like(params)
    alpha_arg: float | np.ndarray = l2.astype(dtype) if np.any(l2) else 0.0

    active = np.ones(P, dtype=bool)
    diverged = np.zeros(P, dtype=bool)
    stopped_epoch = np.full(P, -1)
    n_steps = np.zeros(P, dtype=np.int64)
    best = np.full(P, np.inf)
    best_epoch = np.full(P, -1)
    best_params = params.copy()
    wait = np.zeros(P, dtype=np.int64)
    train_hist: list[np.ndarray] = []
    val_hist: list[np.ndarray] = []

    def history() -> History:
        return History(
            train_loss=np.array(train_hist).reshape(-1, P),
            val_loss=np.array(val_hist).reshape(-1, P) if has_val else None,
            best_epoch=best_epoch.copy(),
            best_loss=np.where(diverged, np.inf, best),
            diverged=diverged.copy(),
            n_steps=n_steps.copy(),
            stopped_epoch=stopped_epoch.copy(),
        )

    backprop = _Backprop(arch, params, grad, alpha_arg)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(epochs):
            if shuffle:
                order = rng.permutation(n)
                Xe, Ye = X[order], Y[order]  # one gather per epoch; batches are slices
            else:
                Xe, Ye = X, Y
            total = np.zeros(P)
            for start in range(0, n, batch_size):
                Xb, Yb = Xe[start : start + batch_size], Ye[start : start + batch_size]
                value = backprop(Xb, Yb, loss)
                # A non-finite objective freezes the network before its step. (A non-finite
                # gradient with a finite objective makes the parameters non-finite, so the
                # next objective or the end-of-epoch check below catches it; rows never mix.)
                bad = ~np.isfinite(value)
                if bad.any():
                    _mark_diverged(bad, diverged, active, epoch)
                all_active = active.all()
                if all_active:
                    n_steps += 1
                else:
                    n_steps += active
                opt.step(params, grad, None if all_active else active)
                total += value * Xb.shape[0]
            bad = ~np.isfinite(params).all(axis=1)
            if bad.any():
                _mark_diverged(bad, diverged, active, epoch)
            epoch_train = np.where(diverged, np.inf, total / n)
            train_hist.append(epoch_train)
            if has_val:
                vl = evaluate_loss(arch, params, X_val, Y_val, loss=loss)
                bad = ~np.isfinite(vl)
                diverged |= bad
                active &= ~bad
                vl = np.where(diverged, np.inf, vl)
                val_hist.append(vl)
                monitor = vl
            else:
                monitor = epoch_train
            improved = (monitor < best - min_delta) & ~diverged
            best = np.where(improved, monitor, best)
            best_epoch[improved] = epoch
            best_params[improved] = params[improved]
            wait = np.where(improved, 0, wait + 1)
            if early_stopping:
                newly_stopped = active & (wait >= patience)
                stopped_epoch[newly_stopped] = epoch
                active &= ~newly_stopped
            if callback is not None and callback(epoch, history()):
                break
            if not active.any():
                break

    if restore_best or early_stopping:
        keep = best_epoch >= 0
        params[keep] = best_params[keep]
    return history()
