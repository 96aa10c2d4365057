"""Training of a whole population of networks at once.

:func:`train` is one entry point with one dispatch: mini-batch gradient methods ("sgd",
"momentum", "nesterov", "adam"; one forward and one backward pass per mini-batch for the whole
population) or full-batch solvers (:mod:`gabp.solvers`: "lm" Levenberg-Marquardt, "br" Bayesian
regularization, "lbfgs"), all behind the same validation, early stopping, restoring of the best
weights ("epoch -1" = the starting weights included), training budget and :class:`History`.
All networks see the same mini-batches in the same order (one shuffle per epoch, drawn from
``seed``), and every solver works on each network's rows independently, so training ``P``
networks together gives the same result as training each alone with the same seed.

Parameters are updated *in place* in ``net.params``; a genetic algorithm that passes its
genomes' memory gets the trained weights written back at no cost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._threads import single_blas_thread
from ._validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_same_length,
    fail,
)
from .network import Architecture, Network, _Backprop, check_inputs, check_loss, evaluate_loss
from .optimizers import OPTIMIZERS, SECOND_ORDER, make_optimizer
from .solvers.auto import LBFGS_MAX_WORK, resolve_optimizer
from .solvers.base import Progress, training_objective
from .solvers.lbfgs import LBFGS
from .solvers.levenberg import LevenbergMarquardt
from .solvers.memory import DEFAULT_MEMORY_BUDGET, plan_lbfgs, plan_lm
from .solvers.options import solver_settings

logger = logging.getLogger(__name__)


@dataclass
class History:
    """Per-epoch record of a population's training.

    An *epoch* is one pass over the training data for the mini-batch optimizers and one
    iteration for the full-batch solvers ("lm", "br", "lbfgs").

    Attributes
    ----------
    train_loss : ndarray of shape (n_epochs, P)
        Training objective (loss + L2 term). Mini-batch optimizers: the mean over the
        epoch's mini-batches, weighted by batch size (the average over all training samples as
        the weights move, not the last batch's). Solvers: the objective at the weights after
        the iteration ("br": its regularized objective in mse units, see
        :mod:`gabp.solvers.levenberg`). ``inf`` once diverged.
    val_loss : ndarray of shape (n_epochs, P) or None
        Loss on the validation data at the end of each epoch (no L2 term).
    best_epoch : ndarray of shape (P,)
        Epoch (0-based) whose weights were kept. With ``restore_best`` (or early stopping) the
        starting weights are candidate "epoch -1": ``-1`` means no epoch beat them and they
        were put back. Without restoring, ``-1`` means the network never produced a finite
        monitored loss.
    best_loss : ndarray of shape (P,)
        Monitored loss (validation loss if given, else the training objective) of the kept
        weights; ``inf`` for diverged networks. Without validation data and with
        ``restore_best``, it is the exact training objective of the returned weights
        (recomputed on the whole training set).
    diverged : ndarray of shape (P,), bool
        Networks whose loss or gradient became NaN or infinite; they were frozen there.
    n_steps : ndarray of shape (P,)
        Gradient steps each network actually took (stops counting when it is frozen); for
        the solvers, accepted iterations.
    stopped_epoch : ndarray of shape (P,)
        Epoch at which early stopping froze the network (``-1``: it was not stopped).
    sample_passes : ndarray of shape (P,), float
        Training cost in one solver-independent unit: one forward and backward pass of one
        sample through one network costs 1 (a forward alone 0.5). A mini-batch step of ``b``
        samples costs ``b``; an LM/BR iteration costs its Jacobian pass
        (``0.5 * n * (1 + n_out)``) plus ``0.5 * n`` per trial; an L-BFGS function-and-gradient
        evaluation (line search included) costs ``n``. Validation forwards and the "epoch -1"
        evaluations are not training cost.
    gamma : ndarray of shape (n_epochs, P) or None
        Effective number of parameters of each network after each iteration ("br" only).
    stop_reason : list of str
        Why each network stopped: ``"max_epochs"``, ``"early_stopping"`` (MATLAB's
        ``max_fail``), ``"diverged"``, ``"budget"`` (``max_sample_passes`` reached),
        ``"callback"``, and for the solvers ``"goal"``, ``"min_grad"``, ``"mu_max"`` (LM/BR),
        ``"converged"`` and ``"line_search"`` (L-BFGS).
    resolved_optimizer : str
        The method that ran (what ``"auto"`` chose, else the name given).
    """

    train_loss: np.ndarray
    val_loss: np.ndarray | None
    best_epoch: np.ndarray
    best_loss: np.ndarray
    diverged: np.ndarray
    n_steps: np.ndarray
    stopped_epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    sample_passes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gamma: np.ndarray | None = None
    stop_reason: list[str] = field(default_factory=list)
    resolved_optimizer: str = ""

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
            "sample_passes": self.sample_passes.tolist(),
            "gamma": None if self.gamma is None else self.gamma.tolist(),
            "stop_reason": list(self.stop_reason),
            "resolved_optimizer": self.resolved_optimizer,
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


class _MiniBatch:
    """The first-order epoch: one shuffle, then one optimizer step per mini-batch."""

    gamma = None

    def __init__(self, arch: Architecture, params: np.ndarray, X: np.ndarray, Y: np.ndarray, *,
                 loss: str, optimizer: str, learning_rate: np.ndarray, momentum: np.ndarray,
                 alpha: np.ndarray, batch_size: int, shuffle: bool,
                 rng: np.random.Generator, settings: dict[str, float]) -> None:
        dtype = params.dtype
        self.arch, self.params, self.X, self.Y, self.loss = arch, params, X, Y, loss
        self.batch_size, self.shuffle, self.rng = batch_size, shuffle, rng
        self.alpha: float | np.ndarray = alpha.astype(dtype) if np.any(alpha) else 0.0
        self.opt = make_optimizer(optimizer, params.shape, learning_rate=learning_rate,
                                  momentum=momentum, dtype=dtype, **settings)
        self.backprop = _Backprop(arch, params, np.empty_like(params), self.alpha)
        n = X.shape[0]
        #: the cheapest step (the smaller of a full and the last partial mini-batch): a
        #: network whose budget cannot pay for it is stopped
        self.min_step_passes = float(min(batch_size, n % batch_size or batch_size))

    def objective(self, params: np.ndarray | None = None) -> np.ndarray:
        """Training objective of ``params`` (default: the current ones) on all the data."""
        w = self.params if params is None else params
        return training_objective(self.arch, w, self.X, self.Y, loss=self.loss, alpha=self.alpha)

    def iterate(self, progress: Progress, epoch: int, budget: float | None) -> np.ndarray:
        """One epoch; returns the mean mini-batch objective of every network."""
        X, Y, n = self.X, self.Y, self.X.shape[0]
        if self.shuffle:
            order = self.rng.permutation(n)
            X, Y = X[order], Y[order]  # one gather per epoch; batches are slices
        starts = range(0, n, self.batch_size)
        values = None  # each batch's objectives, in the dtype the engine gives them
        grad, engine, step, loss = self.backprop.grad, self.backprop, self.opt.step, self.loss
        # steps taken while every network is active and no budget applies are counted here
        # and added to ``progress`` once (two fewer array updates per mini-batch)
        free = budget is None and bool(progress.active.all())
        n_free, passes_free = 0, 0
        for k, start in enumerate(starts):
            Xb, Yb = X[start : start + self.batch_size], Y[start : start + self.batch_size]
            b = Xb.shape[0]
            value = engine(Xb, Yb, loss)
            if values is None:
                values = np.empty((len(starts),) + value.shape, value.dtype)
            values[k] = value
            # A non-finite objective freezes the network before its step. (A non-finite
            # gradient with a finite objective makes the parameters non-finite, so the next
            # objective or the end-of-epoch check catches it; rows never mix.) One sum
            # answers for the whole population unless it is not finite.
            if not math.isfinite(np.add.reduce(value)):
                finite = np.isfinite(value)
                if not finite.all():
                    progress.diverge(~finite, epoch)
                    free = False
            if free:
                n_free += 1
                passes_free += b
                step(self.params, grad, None)
            else:
                stepping = progress.active
                if budget is not None:  # a step that would overshoot the budget is not taken
                    stepping = stepping & (progress.passes + b <= budget)
                progress.n_steps += stepping
                progress.passes += b * stepping
                step(self.params, grad, None if stepping.all() else stepping)
        if n_free:
            progress.n_steps += n_free
            progress.passes += passes_free
        # the batches' objectives weighted by their sizes, added in float64 in batch order
        # (an accumulation: a sum could add them pairwise)
        sizes = np.minimum(self.batch_size, n - np.asarray(starts)).astype(values.dtype)
        weighted = (values * sizes[:, None]).astype(np.float64)
        return np.cumsum(weighted, axis=0)[-1] / n

    def finish(self) -> None:
        """Nothing to write back: the steps went into the network's own array."""


def _make_stepper(name: str, arch: Architecture, params: np.ndarray, X: np.ndarray,
                  Y: np.ndarray, *, loss: str, alpha: np.ndarray, settings: dict[str, float],
                  memory_budget: float, **first_order: Any):
    """The one dispatch: a mini-batch optimizer or a full-batch solver behind one interface."""
    if name in ("lm", "br"):
        plan = plan_lm(arch, X.shape[0], params.shape[0], memory_budget, optimizer=name)
        return LevenbergMarquardt(arch, params, X, Y, alpha=alpha, settings=settings, plan=plan,
                                  bayesian=name == "br")
    if name == "lbfgs":
        plan = plan_lbfgs(arch, X.shape[0], params.shape[0], int(settings["m"]), memory_budget)
        return LBFGS(arch, params, X, Y, loss=loss, alpha=alpha, settings=settings, plan=plan)
    return _MiniBatch(arch, params, X, Y, loss=loss, optimizer=name, alpha=alpha,
                      settings=settings, **first_order)


@single_blas_thread
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
    solver_options: Mapping[str, Any] | None = None,
    memory_budget: float = DEFAULT_MEMORY_BUDGET,
    max_sample_passes: float | None = None,
) -> History:
    """Train every network of ``net``, in place.

    One call for every method: the mini-batch optimizers ("sgd", "momentum", "nesterov",
    "adam") and the full-batch solvers ("lm" Levenberg-Marquardt, "br" Bayesian
    regularization, "lbfgs"), with the same validation, early stopping, restoring and
    :class:`History`. All networks see the same data in the same order, so training ``P``
    networks together gives the same result as training each alone.

    Parameters
    ----------
    net : Network
        Population of ``P`` networks; ``net.params`` is updated in place.
    X : array-like of shape (n, n_in), or (n, C, H, W) for a network with image input
    Y : array-like of shape (n, n_out) or (n,)
        Targets; one-hot rows for ``loss="cross_entropy"``.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
        "lm" and "br" need "mse" (sum-of-squares; mse on one-hot targets of a softmax or
        sigmoid output is allowed, as in MATLAB).
    optimizer : {"sgd", "momentum", "nesterov", "adam", "lm", "br", "lbfgs", "auto"}
        "auto" picks one with :func:`resolve_optimizer` (recorded in
        ``History.resolved_optimizer``). "lm" and "br" need a dense network (a network with
        convolution or pooling layers raises; "auto" then picks "lbfgs" or "adam").
    learning_rate, momentum, alpha : float or ndarray of shape (P,)
        Step size, momentum factor and L2 strength, shared or one per network. The
        solvers ignore ``learning_rate`` and ``momentum``; "br" estimates its own penalty and
        needs ``alpha=0``.
    epochs : int
        Maximum number of passes over the training data (solvers: of iterations; MATLAB's
        ``epochs``).
    batch_size : int or None
        Mini-batch size; ``None`` (or ``>= n``) for full-batch gradient descent. The solvers
        are always full batch and ignore it.
    X_val, Y_val : array-like, optional
        Validation data, scored after every epoch (not counted as training cost).
    early_stopping : bool
        Freeze a network once its monitored loss (validation loss, or the training objective
        when no validation data is given) has not improved by ``min_delta`` for ``patience``
        epochs; training ends when every network is frozen. For "lm"/"br" this is MATLAB's
        validation stop: ``max_fail=6`` is ``patience=6`` (trainbr's default ``max_fail=0``,
        no validation stop, is ``early_stopping=False``).
    restore_best : bool
        At the end, put back each network's weights from its best monitored epoch. The
        starting weights are a candidate ("epoch -1"), so the returned weights' monitored loss
        is never above the start's: without validation data the training objective of the
        chosen weights is recomputed exactly and compared with the start's.
    seed : int, Generator or None
        Seed of the mini-batch shuffling.
    callback : callable, optional
        ``callback(epoch, history) -> stop?`` called after every epoch.
    solver_options : mapping, optional
        Settings of the method (:data:`gabp.solvers.SOLVER_DEFAULTS`): "lm"/"br" ``mu``
        (1e-3; "br" 5e-3), ``mu_dec`` (0.1), ``mu_inc`` (10), ``mu_max`` (1e10), ``goal``
        (0) and ``min_grad`` (1e-7), MATLAB's trainlm / trainbr defaults; "lbfgs" ``m``
        (10), ``gtol``, ``ftol``, ``max_ls``, ``c1``; "adam" ``beta1``, ``beta2``,
        ``epsilon``. Unknown keys raise.
    memory_budget : float
        Bytes "lm"/"br" may use for the normal equations; above it the population is solved
        in chunks of networks, and if one network does not fit, a ``ValueError`` says so
        before any work. For "lbfgs", the history of all networks and the evaluations
        (chunked over the networks the same way); a population whose history does not fit
        raises the same way (:func:`gabp.solvers.memory.plan_lbfgs`).
    max_sample_passes : float, optional
        Per-network training budget in sample-passes (see ``History.sample_passes``). A
        mini-batch step that would exceed it is not taken, and a network stops
        (``"budget"``) once it cannot pay for one more; a full-batch iteration is indivisible,
        so a second-order solver stops at the first iteration that reaches the budget.

    Returns
    -------
    History
    """
    where = "train"
    if not isinstance(net, Network):
        fail("net", where, "a gabp.Network", net, exc=TypeError)
    arch, P = net.arch, net.n_networks
    check_loss(loss, arch, where)
    check_choice(optimizer, OPTIMIZERS, "optimizer", where)
    memory_budget = check_float(memory_budget, "memory_budget", where, low=0.0, low_open=True)
    if max_sample_passes is not None:
        max_sample_passes = check_float(max_sample_passes, "max_sample_passes", where, low=0.0,
                                        low_open=True)
    X, Y, X_val, Y_val = _check_data(arch, X, Y, X_val, Y_val, where)
    has_val = X_val is not None
    l2 = _per_network(alpha, P, "alpha", low=0.0, low_open=False)
    name = _choose_solver(optimizer, arch, X.shape[0], loss, P, l2, memory_budget,
                          has_val and early_stopping, where)
    settings = solver_settings(name, solver_options, where)
    # the solvers compute in float64 whatever the parameters' dtype; mini-batch steps in it
    dtype = np.dtype(np.float64) if name in SECOND_ORDER else net.params.dtype
    if dtype != np.float64:
        X, Y = X.astype(dtype), Y.astype(dtype)
        if has_val:
            X_val, Y_val = X_val.astype(dtype), Y_val.astype(dtype)
    lr = _per_network(learning_rate, P, "learning_rate", low=0.0, low_open=True)
    mu = _per_network(momentum, P, "momentum", low=0.0, low_open=False)
    epochs = check_int(epochs, "epochs", where, low=1)
    batch_size = min(check_int(X.shape[0] if batch_size is None else batch_size, "batch_size",
                               where, low=1), X.shape[0])
    patience = check_int(patience, "patience", where, low=1)
    min_delta = check_float(min_delta, "min_delta", where, low=0.0)
    if name in ("lm", "br") and loss != "mse":
        fail("loss", where, f"'mse' with optimizer='{name}' (a sum-of-squares method)", loss,
             hint="Use optimizer='lbfgs' for a full-batch solver of any loss.")
    if name == "br" and np.any(l2):
        fail("alpha", where, "0 with optimizer='br' (Bayesian regularization estimates its "
             "own weight penalty)", alpha)

    stepper = _make_stepper(
        name, arch, net.params, X, Y, loss=loss, alpha=l2, settings=settings,
        memory_budget=memory_budget, learning_rate=lr, momentum=mu, batch_size=batch_size,
        shuffle=shuffle, rng=np.random.default_rng(seed))
    params = stepper.params  # the working array (a float64 copy for float32 + solvers)
    progress = Progress.start(P)

    def val_loss() -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            vl = evaluate_loss(arch, params, X_val, Y_val, loss=loss)
        return np.where(np.isfinite(vl), vl, np.inf)

    track = _Tracker(P, name, keep_best=restore_best or early_stopping, has_val=has_val,
                     with_gamma=stepper.gamma is not None)
    if track.keep_best:  # "epoch -1": the starting weights are a candidate
        track.start(params, val_loss() if has_val else stepper.objective())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(epochs):
            epoch_train = stepper.iterate(progress, epoch, max_sample_passes)
            bad = ~np.isfinite(params).all(axis=1) | ~np.isfinite(epoch_train)
            if bad.any():
                progress.diverge(bad, epoch)
            epoch_train = np.where(progress.diverged, np.inf, epoch_train)
            vl = None
            if has_val:
                vl = val_loss()
                progress.diverge(~np.isfinite(vl), epoch)
            track.record(epoch, epoch_train, vl, stepper.gamma, params, progress, min_delta)
            if early_stopping:
                track.stop_early(epoch, progress, patience)
            if max_sample_passes is not None:
                # mini-batch steps never overshoot the budget (a step that would is not
                # taken); a full-batch solver's iteration is indivisible and may end past it
                cheapest = getattr(stepper, "min_step_passes", 0.0)
                spent = (progress.passes + cheapest > max_sample_passes if cheapest
                         else progress.passes >= max_sample_passes)
                progress.stop(spent, "budget")
            if callback is not None and callback(epoch, track.history(progress)):
                progress.stop(progress.active, "callback")
                break
            if not progress.active.any():
                break
    progress.stop(progress.active, "max_epochs")
    if track.keep_best:
        track.restore(params, stepper)
    stepper.finish()
    return track.history(progress)


def _check_data(arch: Architecture, X: Any, Y: Any, X_val: Any, Y_val: Any, where: str):
    """Validated training (and validation) inputs and targets."""
    X = check_inputs(arch, X, "X", where)
    Y = as_targets(Y, arch.n_outputs, "Y", where)
    check_same_length(X, Y, ("X", "Y"), where)
    if X_val is None and Y_val is None:
        return X, Y, None, None
    if X_val is None or Y_val is None:
        fail("X_val", where, "given together with Y_val", X_val)
    X_val = check_inputs(arch, X_val, "X_val", where)
    Y_val = as_targets(Y_val, arch.n_outputs, "Y_val", where)
    check_same_length(X_val, Y_val, ("X_val", "Y_val"), where)
    return X, Y, X_val, Y_val


def _choose_solver(optimizer: str, arch: Architecture, n: int, loss: str, P: int,
                   l2: np.ndarray, memory_budget: float, validation_stops: bool,
                   where: str) -> str:
    """The method to run: ``optimizer``, or what ``"auto"`` resolves to for this network."""
    name = optimizer
    if optimizer == "auto":
        name = resolve_optimizer(arch, n, loss, P, memory_budget=memory_budget,
                                 alpha=float(np.max(l2)), has_validation=validation_stops)
        if name in ("lm", "br") and not arch.is_dense:  # LM/BR have dense Jacobians only
            name = "lbfgs" if n * arch.n_params <= LBFGS_MAX_WORK else "adam"
    if name in ("lm", "br") and not arch.is_dense:
        fail("optimizer", where, "a first-order method or 'lbfgs' for a network with "
             "convolution or pooling layers", optimizer,
             hint="Levenberg-Marquardt and Bayesian regularization need dense layers; use "
             "optimizer='adam' (or 'lbfgs').")
    return name


class _Tracker:
    """The per-epoch record of one :func:`train` call: curves, best epoch, kept weights."""

    def __init__(self, P: int, name: str, *, keep_best: bool, has_val: bool,
                 with_gamma: bool) -> None:
        self.P, self.name, self.keep_best, self.has_val = P, name, keep_best, has_val
        self.with_gamma = with_gamma
        self.best = np.full(P, np.inf)
        self.best_epoch = np.full(P, -1)
        self.stopped_epoch = np.full(P, -1)
        self.wait = np.zeros(P, dtype=np.int64)
        self.best_params: np.ndarray | None = None
        self.start_params: np.ndarray | None = None
        self.train_hist: list[np.ndarray] = []
        self.val_hist: list[np.ndarray] = []
        self.gamma_hist: list[np.ndarray] = []

    def start(self, params: np.ndarray, loss: np.ndarray) -> None:
        """The starting weights as epoch -1, with their monitored loss."""
        self.start_params, self.best_params = params.copy(), params.copy()
        self.best = loss

    def record(self, epoch: int, train_loss: np.ndarray, val_loss: np.ndarray | None,
               gamma: np.ndarray | None, params: np.ndarray, progress: Progress,
               min_delta: float) -> None:
        """Append one epoch's curves and keep the weights of the networks that improved."""
        self.train_hist.append(train_loss)
        if self.with_gamma:
            self.gamma_hist.append(gamma.copy())
        if val_loss is not None:
            self.val_hist.append(val_loss)
        monitor = train_loss if val_loss is None else val_loss
        improved = (monitor < self.best - min_delta) & ~progress.diverged
        self.best = np.where(improved, monitor, self.best)
        self.best_epoch[improved] = epoch
        if self.keep_best:
            self.best_params[improved] = params[improved]
        self.wait = np.where(improved, 0, self.wait + 1)

    def stop_early(self, epoch: int, progress: Progress, patience: int) -> None:
        """Freeze the active networks that have not improved for ``patience`` epochs."""
        newly = progress.active & (self.wait >= patience)
        self.stopped_epoch[newly] = epoch
        progress.stop(newly, "early_stopping")

    def restore(self, params: np.ndarray, stepper: Any) -> None:
        """Put back the best weights; without validation data, check the training objective
        of the returned weights exactly against the start's (mini-batch means are not it)."""
        params[...] = self.best_params
        if self.has_val:
            return
        kept, start = stepper.objective(params), stepper.objective(self.start_params)
        worse = ~(kept <= start) & np.isfinite(start)
        params[worse] = self.start_params[worse]
        self.best_epoch[worse] = -1
        self.best = np.where(worse, start, kept)

    def history(self, progress: Progress) -> History:
        """The :class:`History` so far."""
        P = self.P
        return History(
            train_loss=np.array(self.train_hist).reshape(-1, P),
            val_loss=np.array(self.val_hist).reshape(-1, P) if self.has_val else None,
            best_epoch=self.best_epoch.copy(),
            best_loss=np.where(progress.diverged, np.inf, self.best),
            diverged=progress.diverged.copy(),
            n_steps=progress.n_steps.copy(),
            stopped_epoch=self.stopped_epoch.copy(),
            sample_passes=progress.passes.copy(),
            gamma=np.array(self.gamma_hist).reshape(-1, P) if self.with_gamma else None,
            stop_reason=list(progress.reasons),
            resolved_optimizer=self.name,
        )
