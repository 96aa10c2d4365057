"""scikit-learn-style estimators: :class:`GABPRegressor` and :class:`GABPClassifier`.

Both follow scikit-learn's estimator protocol (``__init__`` stores keyword parameters
unchanged, ``fit`` validates them and returns ``self``, fitted attributes end with an
underscore, ``get_params`` / ``set_params``, ``clone``-friendly, picklable), so they drop
into pipelines, cross-validation and model selection. scikit-learn is *not* needed to use
them and is never imported by this module: the pieces of the protocol that refer to
scikit-learn's own classes (estimator tags, ``NotFittedError``, ``DataConversionWarning``) are
taken from ``sys.modules`` only when scikit-learn has already been imported by the caller.

A fit is one call to :func:`gabp.evolution.evolve`:

1. validate every parameter and the data (errors are raised before any work);
2. hold out ``validation_fraction`` of the data (stratified for the classifier, random for
   the regressor, seeded from ``random_state``): the GA's fitness is computed on it and the
   final BP fine-tune stops early on it;
3. standardize the inputs (and, for the regressor, the targets) with
   :class:`gabp.data.StandardScaler` fitted on the training part only (the policy of every
   gabp door: runs, the search, the forecaster), so nothing of the validation part leaks
   into training;
4. evolve (or, in mode ``"bp"``, just train) the network and keep the fine-tuned best one.
"""

from __future__ import annotations

import inspect
import numbers
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._seeding import int_seed
from ._validation import check_array, check_choice, check_float, check_int, fail
from .activations import HIDDEN_ACTIVATIONS
from .data.encoding import OneHotEncoder, as_labels
from .data.scaling import StandardScaler
from .data.splits import random_split, stratified_split
from .evolution import MODES, BPConfig, GAConfig, evolve
from .layers import Layer
from .network import check_dtype
from .optimizers import OPTIMIZERS
from .ridge import fit_linear_part

__all__ = ["DataConversionWarning", "GABPClassifier", "GABPRegressor", "NotFittedError"]

REGRESSION_FITNESS = ("loss", "mse", "rmse", "mae", "sae")
CLASSIFICATION_FITNESS = ("loss", "error_rate")

# Seed-sequence key of the validation split (evolve's own streams use keys 0..6).
_SPLIT_KEY = 1000


# --------------------------------------------------------------------------- exceptions


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needing a fitted estimator is called before ``fit``.

    It derives from ``ValueError`` and ``AttributeError`` as scikit-learn's does. When
    scikit-learn is already imported, the instance raised is also an instance of
    ``sklearn.exceptions.NotFittedError``.
    """

    def __reduce__(self):
        return _not_fitted_error, (str(self),)


class DataConversionWarning(UserWarning):
    """Warns that input data was converted (e.g. a column-vector ``y`` raveled).

    When scikit-learn is already imported, the warning raised is also an instance of
    ``sklearn.exceptions.DataConversionWarning``.
    """


_BRIDGED: dict[str, type] = {}


def _bridged(ours: type, sk_name: str) -> type:
    """``ours``, or a subclass of ``ours`` and scikit-learn's class of the same role when
    scikit-learn is already loaded (never imported here)."""
    sk_module = sys.modules.get("sklearn.exceptions")
    sk_cls = getattr(sk_module, sk_name, None)
    if sk_cls is None or issubclass(ours, sk_cls):
        return ours
    if sk_name not in _BRIDGED:
        _BRIDGED[sk_name] = type(ours.__name__, (ours, sk_cls), {"__module__": __name__})
    return _BRIDGED[sk_name]


def _not_fitted_error(message: str) -> NotFittedError:
    return _bridged(NotFittedError, "NotFittedError")(message)


# --------------------------------------------------------------------------- protocol base


class _BaseEstimator:
    """``get_params`` / ``set_params`` / ``__repr__`` / tags without scikit-learn.

    Parameter names are read from the ``__init__`` signature; ``__init__`` must store each
    keyword argument unchanged under its own name.
    """

    _estimator_type: str | None = None  # read by scikit-learn < 1.6

    @classmethod
    def _get_param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        names = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must not take *args or **kwargs.")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as given to ``__init__`` (or ``set_params``).

        With ``deep=True``, parameters of nested estimators are added as ``name__param``.
        """
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> _BaseEstimator:
        """Set parameters (validated in ``fit``, not here); returns ``self``."""
        valid = self._get_param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self"
        }
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            if value is defaults.get(name) or repr(value) == repr(defaults.get(name)):
                continue
            changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    def __sklearn_tags__(self):
        """scikit-learn (>= 1.6) estimator tags; only scikit-learn calls this."""
        sk = sys.modules.get("sklearn.utils")
        if sk is None or not hasattr(sk, "Tags"):
            raise AttributeError("__sklearn_tags__ needs scikit-learn >= 1.6 to be imported.")
        tags = sk.Tags(
            estimator_type=self._estimator_type,
            target_tags=sk.TargetTags(
                required=True, multi_output=self._estimator_type == "regressor"
            ),
            input_tags=sk.InputTags(two_d_array=True),
        )
        if self._estimator_type == "classifier":
            tags.classifier_tags = sk.ClassifierTags(multi_class=True, multi_label=False)
        else:
            tags.regressor_tags = sk.RegressorTags()
        return tags

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise _not_fitted_error(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )


def _store_params(est: _BaseEstimator, values: dict[str, Any]) -> None:
    """Store every ``__init__`` keyword argument unchanged (scikit-learn's protocol).

    For estimators whose signature is written out by hand (the forecaster); the others get
    theirs from :func:`keyword_init`. ``tests/test_estimators.py`` checks every signature
    against :data:`COMMON_PARAMS`.
    """
    for name in type(est)._get_param_names():
        setattr(est, name, values[name])


# --------------------------------------------------------------------------- input checks


def _is_sparse(value: Any) -> bool:
    return type(value).__module__.startswith("scipy.sparse") or (
        hasattr(value, "tocsr") and hasattr(value, "nnz")
    )


def _check_X(value: Any, where: str, n_features: int | None = None) -> np.ndarray:
    """Validate features: 2-D, real, finite, at least one row and one column."""
    if value is None:
        fail("X", where, "an array-like of shape (n_samples, n_features)", value, exc=TypeError)
    if _is_sparse(value):
        fail(
            "X",
            where,
            "a dense array",
            value,
            exc=TypeError,
            hint="Sparse input is not supported; convert it with X.toarray().",
        )
    raw = np.asarray(value)
    if np.iscomplexobj(raw):
        fail("X", where, "real numbers", raw, hint="Complex data not supported.")
    if raw.ndim != 2:
        fail(
            "X",
            where,
            "a 2-D array of shape (n_samples, n_features)",
            raw,
            hint="Reshape your data either using X.reshape(-1, 1) if it has a single feature "
            "or X.reshape(1, -1) if it contains a single sample.",
        )
    try:
        raw = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        fail("X", where, "array-like of numbers", raw, exc=TypeError, hint=f"({exc})")
    X = check_array(raw, "X", where, ndim=2, min_rows=0)
    if X.shape[0] == 0:
        fail(
            "X",
            where,
            "an array with at least 1 sample",
            X,
            hint=f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
            "required.",
        )
    if X.shape[1] == 0:
        fail(
            "X",
            where,
            "an array with at least 1 feature",
            X,
            hint=f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            "required.",
        )
    if n_features is not None and X.shape[1] != n_features:
        fail(
            "X",
            where,
            f"an array with {n_features} columns, as seen in fit",
            X,
            hint=f"X has {X.shape[1]} features, but {where.split('.')[0]} is expecting "
            f"{n_features} features as input.",
        )
    return X


def _check_y_given(y: Any, where: str) -> None:
    if y is None:
        raise ValueError(
            f"{where} requires y to be passed, but the target y is None. "
            f"The 'y' parameter of {where} must be an array-like of targets."
        )


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def _check_bool(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        fail(name, where, "a bool (True or False)", value, exc=TypeError)
    return bool(value)


def _check_hidden(value: Any, where: str) -> tuple[Any, ...]:
    """Hidden layers: unit counts, or layer units of :mod:`gabp.layers` (``Conv2D(8, 3)``,
    ``MaxPool2D(2)``, ``Flatten()``, or their dict form) for image input."""
    name = "hidden_layer_sizes"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        fail(name, where, "an integer or a sequence of integers", value, exc=TypeError)
    sizes: list[Any] = []
    for size in value:
        if isinstance(size, (Layer, dict)):
            sizes.append(size)
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            fail(name, where, "a sequence of integers (or gabp.layers units)", value,
                 exc=TypeError)
        if size < 1:
            fail(name, where, "a sequence of integers >= 1 (units per hidden layer)", value)
        sizes.append(int(size))
    return tuple(sizes)


def _check_input_shape(value: Any, where: str) -> tuple[int, int, int] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) \
            or len(value) != 3:
        fail("input_shape", where, "None or an image shape (channels, height, width)", value)
    return tuple(check_int(v, "input_shape", where, low=1) for v in value)  # type: ignore


def _image_rows(X: Any, input_shape: tuple[int, ...] | None, where: str
                ) -> tuple[Any, tuple[int, ...] | None]:
    """Images ``(n, C, H, W)`` as flat rows (C, H, W order), and the image shape in use."""
    dims = getattr(X, "shape", None)  # arrays and frames; nothing is converted otherwise
    if X is None or _is_sparse(X) or dims is None or len(dims) != 4:
        return X, input_shape
    raw = np.asarray(X)
    shape = tuple(int(v) for v in raw.shape[1:])
    if input_shape is not None and tuple(input_shape) != shape:
        fail("X", where, f"images of shape (n, {', '.join(map(str, input_shape))}) "
             "(input_shape)", raw)
    return raw.reshape(raw.shape[0], -1), shape


def _resolve_seed(random_state: Any, where: str) -> int:
    """An int seed from ``None`` (fresh entropy), an int >= 0, a Generator or RandomState."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        fail(
            "random_state",
            where,
            "None, an integer >= 0, a numpy.random.Generator or a numpy.random.RandomState",
            random_state,
            exc=TypeError,
        )
    return check_int(random_state, "random_state", where, low=0)


def _weighted_mean(values: np.ndarray, sample_weight: Any, where: str) -> float:
    if sample_weight is None:
        return float(np.mean(values))
    w = check_array(sample_weight, "sample_weight", where, ndim=1)
    if w.shape[0] != values.shape[0]:
        fail("sample_weight", where, f"an array of shape ({values.shape[0]},)", w)
    return float(np.average(values, weights=w))


# --------------------------------------------------------------------------- estimators

REG_WHY = """
        Why the regressor's defaults are what they are (``bench/solvers_quality.py``, 3
        seeds, GA-BP lamarckian): with no L2 and validation data, ``optimizer="auto"`` trains
        by Bayesian regularization, which sets its own penalty. That gives Mackey-Glass test
        RMSE 0.0026 with 10 tanh units (LM with ``alpha=1e-4``: 0.0039; scikit-learn's
        default MLP: 0.032) and sunspots ARV 0.112 / 0.272 with 8 units (0.099 / 0.250 with
        ``ensemble=5``; LM: 0.158 / 0.375; scikit-learn: 0.127 / 0.287). 10 hidden units is
        MATLAB's default."""
CLS_WHY = """
        Why the classifier's defaults are what they are (``bench/solvers_quality.py``, 3
        seeds, 25 %% test split): 64 ReLU units with ``alpha=1e-3`` trained by L-BFGS (what
        ``"auto"`` picks for these sizes) reach digits 0.984 against 0.981 for
        scikit-learn's default ``MLPClassifier`` (10 tanh units: 0.962); on wine (0.985 vs
        0.992) and breast cancer (0.972 vs 0.977) gabp is one test sample behind, within the
        seed spread: the GA holds out ``validation_fraction`` of these small sets for its
        fitness, which scikit-learn trains on."""

_PARAMS_DOC = """
    hidden_layer_sizes : int or sequence of int, default %(hidden)s
        Units of each hidden layer.
    activation : {"tanh", "sigmoid", "relu", "leaky_relu", "identity"}, default %(activation)s
        Activation of the hidden layers.
    mode : {"classic", "baldwinian", "lamarckian", "bp"}, default "lamarckian"
        ``classic``: the GA scores untrained weights, BP fine-tunes the best; ``baldwinian``:
        each individual is trained ``bp_epochs`` epochs before it is scored; ``lamarckian``:
        as baldwinian, and the trained weights are written back into the genome; ``bp``:
        plain backpropagation with no GA (the baseline, same trainer).
    population_size : int, default 40
    n_generations : int, default 50
    bp_epochs : int, default 5
        BP epochs per individual per generation (baldwinian and lamarckian modes).
    max_epochs : int, default 200
        Epoch cap of the final BP fine-tune of the best individual (and of mode ``bp``).
    optimizer : {"auto", "lm", "br", "lbfgs", "adam", "sgd", "momentum", "nesterov"}, \
default "auto"
        ``"auto"`` chooses with :func:`gabp.trainer.resolve_optimizer` (Levenberg-Marquardt
        for small regression networks, L-BFGS or Adam otherwise); ``"lm"``, ``"br"``
        (Bayesian regularization) and ``"lbfgs"`` are full-batch solvers, for which
        ``bp_epochs`` and ``max_epochs`` count iterations and ``learning_rate``,
        ``momentum`` and ``batch_size`` do not apply.
    learning_rate : float, default 0.01
        Step size of the first-order optimizers.
    momentum : float, default 0.9
        Momentum factor of the ``momentum`` and ``nesterov`` optimizers.
    batch_size : int or None, default 32
        Mini-batch size of the first-order optimizers; ``None`` for full-batch gradient
        descent.
    alpha : float, default %(alpha)s
        L2 penalty on the weights (biases are not penalized).%(why)s
    input_shape : (int, int, int) or None, default None
        Image shape (channels, height, width) when ``hidden_layer_sizes`` holds layer units
        of :mod:`gabp.layers` (``[Conv2D(8, 3), MaxPool2D(2), Flatten(), 32]``); not needed
        when ``X`` is given as images ``(n, C, H, W)``.
    validation_fraction : float in [0, 1), default 0.1
        Part of the training data held out (seeded by ``random_state``) to compute the GA's
        fitness and to stop the final fine-tune early. With 0, the fitness is computed on
        the training data and early stopping monitors the training loss.
    early_stopping : bool, default True
        Stop the final fine-tune when the monitored loss has not improved for ``patience``
        epochs, and keep the weights of its best epoch.
    patience : int, default 20
    scale_inputs : bool, default True
        Standardize the inputs (:class:`gabp.data.StandardScaler` fitted on the training part).
    fitness : str, default "loss"
        Error the GA minimizes on the validation part: %(fitness)s. It is computed on the
        data as the network sees it: for the regressor with ``scale_targets=True``, in
        standardized target units (``target_scaler_.scale_`` converts an RMSE or MAE back
        to the targets' units); ``best_fitness_``, ``validation_error_`` and ``logbook_``
        are in these units. (:class:`gabp.search.EvolutionarySearch`'s ``"rmse"`` is in
        the targets' units.)
    crossover_prob, mutation_prob, mutation_sigma, n_elite : float, float, float, int
        See :class:`gabp.evolution.GAConfig` (defaults 0.7, 0.05, 0.1, 2).
    selection : {"tournament", "rank", "sus"}, default "tournament"
    crossover : {"blend", "sbx", "arithmetic", "uniform"}, default "blend"
    mutation : {"gaussian", "polynomial", "nonuniform"}, default "gaussian"
    bounds : (float, float) or None, default None
        Gene bounds (needed by the polynomial and non-uniform mutations).
    dtype : {"auto", "float64", "float32"}, default "auto"
        Precision of BP training: ``"auto"`` is float32 for the mini-batch optimizers
        (1.2-1.8x faster, the same test predictions in ``bench/float32_accuracy.py``) and
        float64 for "lm", "br" and "lbfgs" (see :class:`gabp.evolution.BPConfig`).
    n_baseline : int, default 0
        Restarts of the equal-budget plain-BP baseline stored in ``result_.baseline``
        (for reports; it does not change the fitted model).
    ensemble : int, default 1
        Networks the model averages (regression outputs, class probabilities): the best
        genome and the next best distinct ones of the final population, each fine-tuned
        and never worse than its start (see :func:`gabp.evolution.evolve`).
    n_jobs : int or None, default None
        Workers scoring the population (joblib semantics). Results do not depend on it.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seed of the validation split, the GA and BP. An int gives reproducible fits.
    verbose : int, default 0
        1: a progress bar; 2: also log each generation.
"""

_ATTRS_DOC = """
    n_features_in_ : int
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape ``(fan_in, fan_out)``: the weights of layer ``i + 1`` (of the
        best member of an ensemble).
    intercepts_ : list of ndarray
        ``intercepts_[i]`` has shape ``(fan_out,)``.
    network_ : gabp.Network
        The fitted network (``ensemble`` members, whose outputs are averaged), working on
        scaled inputs and outputs.
    loss_curve_ : list of float
        Training loss (with the L2 term) per epoch of the final fine-tune.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch of the final fine-tune (lower is better); ``None`` when
        ``validation_fraction == 0``.
    validation_error_ : float
        The final model's fitness metric on the validation part (training data if none).
    logbook_ : deap.tools.Logbook or None
        One record per generation (``gen``, ``error_min``, ``error_mean``, ...); ``None`` in
        mode ``"bp"``.
    best_fitness_ : float
        Error of the best genome the GA found (before the fine-tune); ``nan`` in mode
        ``"bp"``.
    n_iter_ : int
        Epochs of the final fine-tune.
    seed_ : int
        The seed the fit used (drawn from ``random_state``).
    result_ : gabp.evolution.EvolutionResult
        Everything :func:`gabp.evolution.evolve` returned (hall of fame, baseline, ...).
    input_scaler_ : gabp.data.StandardScaler or None
    input_shape_ : tuple of int or None
        The image shape (channels, height, width) of an image network; ``predict`` then takes
        images ``(n, C, H, W)`` or the same images as flat rows.
"""


#: The one parameter table: every parameter the GA-BP estimators share, with its default.
#: The estimators' ``__init__`` signatures are built from it by :func:`keyword_init`
#: (explicit keyword-only parameters, as scikit-learn needs); a class that adds parameters
#: or changes a default says so where it builds its signature, and
#: ``tests/test_estimators.py`` checks every signature (the forecaster's too) against it.
COMMON_PARAMS: dict[str, Any] = {
    "hidden_layer_sizes": (10,), "activation": "tanh", "mode": "lamarckian",
    "population_size": 40, "n_generations": 50, "bp_epochs": 5, "max_epochs": 200,
    "optimizer": "auto", "learning_rate": 0.01, "momentum": 0.9, "batch_size": 32,
    "alpha": 0.0, "validation_fraction": 0.1, "early_stopping": True, "patience": 20,
    "scale_inputs": True, "fitness": "loss", "crossover_prob": 0.7, "mutation_prob": 0.05,
    "mutation_sigma": 0.1, "n_elite": 2, "selection": "tournament", "crossover": "blend",
    "mutation": "gaussian", "bounds": None, "dtype": "auto", "n_baseline": 0,
    "ensemble": 1, "n_jobs": None, "random_state": None, "verbose": 0,
}


#: Parameters of the estimators that take tabular or image input (not the forecaster):
#: ``input_shape`` (channels, height, width) for networks with ``gabp.layers`` units.
IMAGE_PARAMS: dict[str, Any] = {"input_shape": None}


def keyword_init(params: dict[str, Any]) -> Callable[..., None]:
    """An ``__init__`` whose signature is ``(self, *, name=default, ...)`` for ``params``.

    It stores every argument unchanged under its own name (scikit-learn's protocol);
    ``inspect.signature`` (and so ``get_params``, ``clone``, ``help``) sees the explicit
    keyword-only parameters, and an unknown or positional argument raises ``TypeError``.
    """
    sig = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
        + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
           for n, d in params.items()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}(): {exc}; every parameter is keyword-only"
                            ) from None
        bound.apply_defaults()
        for name in params:
            setattr(self, name, bound.arguments[name])

    __init__.__signature__ = sig  # type: ignore[attr-defined]
    return __init__


class _GABPBase(_BaseEstimator):
    _fitness_choices: tuple[str, ...] = ()

    __init__ = keyword_init(COMMON_PARAMS)

    # -- validation -------------------------------------------------------------------

    def _validate_params(self, where: str) -> dict[str, Any]:
        """Check every parameter; return the values evolve needs."""
        hidden = _check_hidden(self.hidden_layer_sizes, where)
        check_choice(self.activation, HIDDEN_ACTIVATIONS, "activation", where)
        check_choice(self.mode, MODES, "mode", where)
        check_choice(self.optimizer, OPTIMIZERS, "optimizer", where)
        check_choice(self.fitness, self._fitness_choices, "fitness", where)
        vf = check_float(
            self.validation_fraction,
            "validation_fraction",
            where,
            low=0.0,
            high=1.0,
            high_open=True,
        )
        early = _check_bool(self.early_stopping, "early_stopping", where)
        _check_bool(self.scale_inputs, "scale_inputs", where)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", where, low=1)
        bounds = self.bounds
        if bounds is not None:
            try:
                bounds = (float(bounds[0]), float(bounds[1]))
                ok = len(self.bounds) == 2
            except (TypeError, ValueError, IndexError):
                ok = False
            if not ok:
                fail("bounds", where, "None or a pair (low, high) of numbers", self.bounds)
        dtype = "auto" if _is_auto(self.dtype) else check_dtype(self.dtype, where).name
        ga = GAConfig(
            population_size=self.population_size,
            n_generations=self.n_generations,
            selection=self.selection,
            crossover=self.crossover,
            crossover_prob=self.crossover_prob,
            mutation=self.mutation,
            mutation_prob=self.mutation_prob,
            mutation_sigma=self.mutation_sigma,
            n_elite=self.n_elite,
            bounds=bounds,
        ).validate(where)
        bp = BPConfig(
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            alpha=self.alpha,
            batch_size=self.batch_size,
            bp_epochs=self.bp_epochs,
            max_epochs=self.max_epochs,
            early_stopping=early,
            patience=self.patience,
            dtype=dtype,
        ).validate(where)
        n_baseline = check_int(self.n_baseline, "n_baseline", where, low=0)
        ensemble = check_int(self.ensemble, "ensemble", where, low=1,
                             high=max(1, ga.population_size))
        if self.n_jobs is not None:
            check_int(self.n_jobs, "n_jobs", where)
            if self.n_jobs == 0:
                fail("n_jobs", where, "None or a non-zero integer", self.n_jobs)
        verbose = self.verbose
        if not isinstance(verbose, (bool, np.bool_)):
            verbose = check_int(verbose, "verbose", where, low=0)
        if not isinstance(self.random_state, (np.random.Generator, np.random.RandomState)):
            _resolve_seed(self.random_state, where)  # type/range check only; no draw yet
        return {
            "hidden": hidden,
            "validation_fraction": vf,
            "ga": ga,
            "bp": bp,
            "n_baseline": n_baseline,
            "ensemble": ensemble,
            "verbose": int(verbose),
        }

    @staticmethod
    def _check_split_size(X: np.ndarray, vf: float, where: str) -> None:
        n = X.shape[0]
        n_val = int(round(n * vf))
        if vf > 0 and (n_val < 1 or n - n_val < 1):
            need = next(m for m in range(2, 10**9) if 1 <= round(m * vf) < m)
            fail(
                "X",
                where,
                f"an array with at least {need} samples when validation_fraction={vf:g}",
                X,
                hint=f"With n_samples={n} the validation split would hold {n_val} sample(s) "
                f"and training {n - n_val}. Too few samples: pass more, or set "
                "validation_fraction=0 to compute the fitness on the training data.",
            )

    # -- fitting ----------------------------------------------------------------------

    def _prepare_targets(self, y: Any, where: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def _split(self, y: Any, n: int, vf: float, seed: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X: Any, y: Any) -> _GABPBase:
        where = type(self).__name__
        settings = self._validate_params(where)
        _check_y_given(y, where)
        shape = _check_input_shape(getattr(self, "input_shape", None), where)
        X, shape = _image_rows(X, shape, where)
        X = _check_X(X, where)
        hidden = settings["hidden"]
        if any(not isinstance(h, int) for h in hidden):  # layer units: an image network
            if shape is None:
                fail("input_shape", where, "set (channels, height, width), or X given as "
                     "images of shape (n, C, H, W), when hidden_layer_sizes holds layers",
                     None)
            if int(np.prod(shape)) != X.shape[1]:
                fail("input_shape", where, f"of {X.shape[1]} values (X's columns)", shape)
            hidden = ({"type": "reshape", "shape": list(shape)}, *hidden)
        Y, output_activation, loss, labels, attrs = self._prepare_targets(y, where)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(
                f"The 'X' and 'y' parameters of {where} must have the same number of rows. "
                f"Got {X.shape[0]} and {Y.shape[0]} instead."
            )
        vf = settings["validation_fraction"]
        self._check_split_size(X, vf, where)
        # All checks passed: from here on, work.
        seed = _resolve_seed(self.random_state, where)
        if vf > 0:
            tr, va = self._split(labels, X.shape[0], vf, int_seed(seed, _SPLIT_KEY))
        else:
            tr, va = np.arange(X.shape[0]), None
        # the scaling policy of every gabp door: scalers see the training part only
        input_scaler = StandardScaler().fit(X[tr]) if self.scale_inputs else None
        Xs = X if input_scaler is None else input_scaler.transform(X)
        Ys, target_attrs = self._scale_targets(Y, tr)
        Ys, linear_attrs = self._linear_part(Xs, Ys, tr)
        target_attrs.update(linear_attrs)
        if va is not None:
            data = (Xs[tr], Ys[tr], Xs[va], Ys[va])
            fitness_on = "validation"
        else:
            data = (Xs, Ys, None, None)
            fitness_on = "train"
        result = evolve(
            *data,
            hidden_layer_sizes=hidden,
            hidden_activation=self.activation,
            output_activation=output_activation,
            loss=loss,
            mode=self.mode,
            fitness=self.fitness,
            fitness_on=fitness_on,
            ga=settings["ga"],
            bp=settings["bp"],
            n_baseline=settings["n_baseline"],
            ensemble=settings["ensemble"],
            n_jobs=self.n_jobs,
            seed=seed,
            verbose=settings["verbose"],
        )
        net = result.network
        hist = result.bp_history
        for name, value in {**attrs, **target_attrs}.items():
            setattr(self, name, value)
        self.n_features_in_ = int(X.shape[1])
        self.input_shape_ = shape
        self.input_scaler_ = input_scaler
        self.network_ = net
        self.coefs_ = [np.array(W[0]) for W, _ in net.layers]
        self.intercepts_ = [np.array(b[0, 0]) for _, b in net.layers]
        self.loss_curve_ = [float(v) for v in hist.train_loss[:, 0]]
        self.validation_loss_curve_ = (
            None if hist.val_loss is None else [float(v) for v in hist.val_loss[:, 0]]
        )
        self.validation_error_ = float(result.val_error)
        self.logbook_ = result.logbook
        self.best_fitness_ = float(result.best_fitness)
        self.n_iter_ = int(hist.n_epochs)
        self.seed_ = seed
        self.result_ = result
        return self

    def _scale_targets(self, Y: np.ndarray, train: np.ndarray
                       ) -> tuple[np.ndarray, dict[str, Any]]:
        """Targets as trained on (fitted on the rows ``train``) and fitted attributes."""
        return Y, {}

    def _linear_part(self, Xs: np.ndarray, Ys: np.ndarray, train: np.ndarray
                     ) -> tuple[np.ndarray, dict[str, Any]]:
        """The targets the network learns (``Ys`` minus a linear part, if any) and the
        fitted attributes of that part."""
        return Ys, {}

    def _outputs(self, X: Any, method: str) -> np.ndarray:
        """Model outputs of shape (n, n_out) (scaled targets) for validated, scaled ``X``:
        the network's, plus the linear part's where there is one."""
        self._check_is_fitted()
        where = f"{type(self).__name__}.{method}"
        X, _ = _image_rows(X, getattr(self, "input_shape_", None), where)
        X = _check_X(X, where, self.n_features_in_)
        if self.input_scaler_ is not None:
            X = self.input_scaler_.transform(X)
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.network_.forward(X).mean(axis=0)  # an ensemble's mean output
        linear = getattr(self, "linear_", None)
        return out if linear is None else linear.predict(X) + out * self.residual_scale_


class GABPRegressor(_GABPBase):
    __doc__ = (
        """Neural-network regressor whose weights are optimized by a GA and backpropagation.

    The network has an identity output trained with mean squared error. Targets are
    standardized with :class:`gabp.data.StandardScaler` (``scale_targets=True``) and
    predictions are returned in the original units, with the shape of the ``y`` given to
    ``fit``: ``(n,)`` or ``(n, k)``.

    Parameters
    ----------"""
        + _PARAMS_DOC % {"fitness": ", ".join(repr(f) for f in REGRESSION_FITNESS),
                         "hidden": "(10,)", "activation": '"tanh"', "alpha": "0.0",
                         "why": REG_WHY}
        + """    scale_targets : bool, default True
        Standardize the targets for training; predictions are scaled back.
    linear : bool, default False
        Add a linear model: a ridge regression on the (scaled) inputs is fitted to the
        training rows first, its penalty chosen by leave-one-out error
        (:func:`gabp.ridge.fit_ridge`), and the network (GA, fitness, fine-tune) learns its
        residuals (rescaled to the targets' spread); predictions are the sum (the hybrid of Zhang,
        *Neurocomputing* 50, 2003). Where the signal is mostly linear (a trend, an
        autoregression) the network then only has the nonlinear rest to learn
        (:class:`~gabp.GABPForecaster` turns it on by default; on scikit-learn's diabetes
        data it brings the test RMSE from 55.5 to 54.9, where ``RidgeCV`` has 54.8:
        ``bench/README.md``, "Forecasting"). The network's attributes
        (``network_``, ``coefs_``, ``validation_error_``, ...) are those of the residual
        model.

    Attributes
    ----------"""
        + _ATTRS_DOC
        + """    target_scaler_ : gabp.data.StandardScaler or None
    n_outputs_ : int
    linear_ : gabp.ridge.RidgeFit or None
        The linear part (``linear=True``), on scaled inputs and targets; ``None`` otherwise.
    residual_scale_ : ndarray of shape (n_outputs,) or None
        The linear part's training residuals' spread over the targets' (scaled targets,
        :func:`gabp.ridge.residual_scale`): the network learns the residuals divided by it,
        and its outputs are multiplied back.

    Examples
    --------
    >>> import numpy as np
    >>> from gabp.estimators import GABPRegressor
    >>> X = np.linspace(-1, 1, 60).reshape(-1, 1)
    >>> reg = GABPRegressor(population_size=4, n_generations=2, random_state=0)
    >>> reg.fit(X, X[:, 0] ** 2).predict(X[:3]).shape
    (3,)
    """
    )

    _estimator_type = "regressor"
    _fitness_choices = REGRESSION_FITNESS

    __init__ = keyword_init({**COMMON_PARAMS, **IMAGE_PARAMS, "scale_targets": True,
                             "linear": False})

    def _validate_params(self, where: str) -> dict[str, Any]:
        settings = super()._validate_params(where)
        _check_bool(self.scale_targets, "scale_targets", where)
        _check_bool(self.linear, "linear", where)
        return settings

    def _linear_part(self, Xs: np.ndarray, Ys: np.ndarray, train: np.ndarray
                     ) -> tuple[np.ndarray, dict[str, Any]]:
        if not self.linear:
            return Ys, {"linear_": None, "residual_scale_": None}
        fit, scale = fit_linear_part(Xs[train], Ys[train])
        return (Ys - fit.predict(Xs)) / scale, {"linear_": fit, "residual_scale_": scale}

    def _prepare_targets(self, y: Any, where: str):
        y_arr = check_array(y, "y", where, ndim=(1, 2), min_rows=0)
        if y_arr.ndim == 2 and y_arr.shape[1] == 0:
            fail("y", where, "an array with at least 1 column", y_arr)
        Y = y_arr.reshape(y_arr.shape[0], -1)
        return Y, "identity", "mse", None, {"_y_1d": y_arr.ndim == 1}

    def _scale_targets(self, Y: np.ndarray, train: np.ndarray
                       ) -> tuple[np.ndarray, dict[str, Any]]:
        scaler = StandardScaler().fit(Y[train]) if self.scale_targets else None
        attrs = {"n_outputs_": int(Y.shape[1]), "target_scaler_": scaler}
        return (Y if scaler is None else scaler.transform(Y)), attrs

    def _split(self, labels: Any, n: int, vf: float, seed: int):
        tr, va, _ = random_split(n, val_fraction=vf, test_fraction=0.0, seed=seed)
        return tr, va

    def fit(self, X: Any, y: Any) -> GABPRegressor:
        """Fit the network to ``X`` of shape (n, n_features) and ``y`` of shape (n,) or
        (n, k); returns ``self``."""
        return self._fit(X, y)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in the units of ``y``: shape (n,) or (n, k) like the fitted ``y``."""
        out = self._outputs(X, "predict")
        if self.target_scaler_ is not None:
            out = self.target_scaler_.inverse_transform(out)
        return out.ravel() if self._y_1d else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R^2 (averaged uniformly over outputs).

        As scikit-learn's ``r2_score``: a constant target scores 1 if predicted exactly,
        else 0.
        """
        where = f"{type(self).__name__}.score"
        pred = self.predict(X)
        y_arr = check_array(y, "y", where, ndim=(1, 2))
        Y = y_arr.reshape(y_arr.shape[0], -1)
        P = pred.reshape(pred.shape[0], -1)
        if Y.shape != P.shape:
            fail("y", where, f"an array with shape {pred.shape} (as the predictions)", y_arr)
        w = (
            np.ones(Y.shape[0])
            if sample_weight is None
            else check_array(sample_weight, "sample_weight", where, ndim=1)
        )
        if w.shape[0] != Y.shape[0]:
            fail("sample_weight", where, f"an array of shape ({Y.shape[0]},)", w)
        w = w[:, None]
        ss_res = np.sum(w * (Y - P) ** 2, axis=0)
        mean = np.sum(w * Y, axis=0) / np.sum(w)
        ss_tot = np.sum(w * (Y - mean) ** 2, axis=0)
        safe = np.where(ss_tot > 0, ss_tot, 1.0)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res > 0, 0.0, 1.0))
        return float(np.mean(r2))


class GABPClassifier(_GABPBase):
    __doc__ = (
        """Neural-network classifier whose weights are optimized by a GA and backpropagation.

    Labels may be of any hashable type (ints, strings, ...); ``classes_`` holds them sorted.
    With two classes the network has **one sigmoid output** trained with binary
    cross-entropy (the probability of ``classes_[1]``); with more, a softmax output trained
    with cross-entropy. The validation part is drawn stratified by class.

    Parameters
    ----------"""
        + _PARAMS_DOC % {"fitness": ", ".join(repr(f) for f in CLASSIFICATION_FITNESS),
                         "hidden": "(64,)", "activation": '"relu"', "alpha": "1e-3",
                         "why": CLS_WHY}
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)"""
        + _ATTRS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from gabp.estimators import GABPClassifier
    >>> X = np.array([[0.0], [0.1], [0.2], [0.8], [0.9], [1.0]] * 5)
    >>> y = np.array(["low", "low", "low", "high", "high", "high"] * 5)
    >>> clf = GABPClassifier(population_size=4, n_generations=2, random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['high', 'low']
    """
    )

    _estimator_type = "classifier"
    _fitness_choices = CLASSIFICATION_FITNESS

    __init__ = keyword_init({**COMMON_PARAMS, **IMAGE_PARAMS, "hidden_layer_sizes": (64,),
                             "activation": "relu",
                             "alpha": 1e-3})

    def _prepare_targets(self, y: Any, where: str):
        labels = as_labels(y, "y", where)
        if labels.ndim == 2 and labels.shape[1] == 1:
            warnings.warn(
                _bridged(DataConversionWarning, "DataConversionWarning")(
                    "A column-vector y was passed when a 1d array was expected. Please change "
                    "the shape of y to (n_samples,), for example using ravel()."
                ),
                stacklevel=4,
            )
            labels = labels.ravel()
        if labels.ndim != 1:
            fail(
                "y",
                where,
                "a 1-D array of class labels",
                labels,
                hint="y should be a 1d array; multi-output / multi-label targets are not "
                "supported.",
            )
        if labels.shape[0] == 0:
            fail("y", where, "a non-empty array of class labels", labels)
        if labels.dtype.kind == "c":
            fail("y", where, "class labels, not complex numbers", labels)
        if labels.dtype.kind == "f":
            if not np.all(np.isfinite(labels)):
                fail("y", where, "finite (no NaN or infinity)", labels)
            if np.any(labels != np.round(labels)):
                fail(
                    "y",
                    where,
                    "class labels (ints, strings, ...)",
                    labels,
                    hint="Unknown label type: continuous. For a continuous target use "
                    "GABPRegressor.",
                )
        encoder = OneHotEncoder().fit(labels)
        if encoder.n_classes < 2:
            fail(
                "y",
                where,
                "labels of at least 2 classes",
                labels,
                hint=f"Found only one class: {encoder.classes_[0]!r}; a classifier needs "
                "two or more classes.",
            )
        onehot = encoder.transform(labels)
        attrs = {"classes_": encoder.classes_}
        if encoder.n_classes == 2:
            return onehot[:, 1:], "sigmoid", "binary_cross_entropy", labels, attrs
        return onehot, "softmax", "cross_entropy", labels, attrs

    def _split(self, labels: Any, n: int, vf: float, seed: int):
        tr, va, _ = stratified_split(labels, val_fraction=vf, test_fraction=0.0, seed=seed)
        return tr, va

    def fit(self, X: Any, y: Any) -> GABPClassifier:
        """Fit the network to ``X`` of shape (n, n_features) and labels ``y`` of shape (n,);
        returns ``self``."""
        return self._fit(X, y)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of shape (n, n_classes), columns ordered as ``classes_``."""
        out = self._outputs(X, "predict_proba")
        if out.shape[1] == 1:
            out = np.hstack([1.0 - out, out])
        return out

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels of shape (n,) (the most probable class; first on ties)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy: (weighted) fraction of samples whose label is predicted exactly."""
        where = f"{type(self).__name__}.score"
        pred = self.predict(X)
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()
        if labels.ndim != 1 or labels.shape[0] != pred.shape[0]:
            fail("y", where, f"an array of shape ({pred.shape[0]},)", labels)
        hits = np.array([a == b for a, b in zip(labels.tolist(), pred.tolist(), strict=True)])
        return _weighted_mean(hits.astype(float), sample_weight, where)
