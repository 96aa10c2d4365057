"""Search spaces for hyperparameter and architecture evolution.

Every gene lives in ``[0, 1]``; a :class:`SearchSpace` decodes a genome of shape
``(n_genes,)`` into a *configuration*, a plain dict of how to build and train one network::

    {"hidden_layer_sizes": (32, 8), "activation": "tanh", "optimizer": "adam",
     "learning_rate": 0.0032, "alpha": 1e-05, "batch_size": 32, "max_epochs": 100,
     "patience": 10}

so the GA's operators (:mod:`gabp.evolution.operators`) stay generic.

Architecture: an ``n_layers`` dimension and a ``units`` dimension; ``units`` is expanded into
one gene per possible layer (``units_1 .. units_max``, ``max`` = the largest ``n_layers``).
The genes of layers beyond the decoded ``n_layers`` are *inactive*: they change neither the
decoded configuration nor its :meth:`SearchSpace.key`, so two genomes that differ only there
are the same individual for the cache. Likewise ``momentum`` is inactive unless the optimizer
is ``"momentum"`` or ``"nesterov"``.

Kind of network: ``model`` is ``"mlp"`` (dense layers on the flat inputs) or ``"cnn"`` (for
image inputs): ``conv_layers`` convolutions of ``filters`` filters of ``kernel_size`` x
``kernel_size`` ("same" padding, the hidden activation), one 2 x 2 max-pooling, a flatten and
then the ``n_layers`` dense layers as a head (``n_layers = 0``: the output layer directly).
``filters``, ``kernel_size`` and ``conv_layers`` are inactive for an MLP.
:func:`network_layers` turns a decoded configuration into the hidden layers of a network.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_array, check_choice, fail
from ..activations import HIDDEN_ACTIVATIONS
from ..optimizers import OPTIMIZERS

#: Hyperparameters a space may search or fix, with the value used when neither is done.
DEFAULTS: dict[str, Any] = {
    "n_layers": 1,
    "units": 16,
    "activation": "tanh",
    "optimizer": "adam",
    "learning_rate": 1e-2,
    "momentum": 0.9,
    "alpha": 0.0,
    "batch_size": 32,
    "max_epochs": 100,
    "patience": 10,
    "n_lags": 12,
    "model": "mlp",
    "filters": 16,
    "kernel_size": 3,
    "conv_layers": 1,
}
#: Optimizers that use ``momentum`` (elsewhere the gene is inactive).
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
#: Kinds of network (``model``); ``"cnn"`` needs image inputs.
MODELS = ("mlp", "cnn")
#: Hyperparameters of the convolutional part (inactive unless ``model == "cnn"``).
CNN_NAMES = ("filters", "kernel_size", "conv_layers")
_INT_NAMES = ("n_layers", "units", "batch_size", "max_epochs", "patience", "n_lags",
              *CNN_NAMES)
_POSITIVE = ("learning_rate",)
TASKS = ("regression", "classification", "series")


def _round_sig(x: float, digits: int | None) -> float:
    if digits is None or x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


class Dimension:
    """One searched hyperparameter: maps a gene ``u`` in ``[0, 1]`` to a value."""

    def decode(self, u: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


class Real(Dimension):
    """A float in ``[low, high]``, linear or log-scaled.

    ``u -> low + u (high - low)``, or ``exp(log low + u (log high - log low))`` when
    ``log``; the value is rounded to ``digits`` significant digits (``None``: no rounding)
    so that nearly identical genomes share a configuration and a cache entry.
    """

    def __init__(self, low: float, high: float, *, log: bool = False, digits: int | None = 4,
                 name: str = "Real") -> None:
        _check_range(low, high, name, log=log, integer=False)
        self.low, self.high, self.log, self.digits = float(low), float(high), bool(log), digits

    def decode(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        return min(max(_round_sig(x, self.digits), self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}

    def __repr__(self) -> str:
        return f"Real({self.low:g}, {self.high:g}{', log=True' if self.log else ''})"


class Integer(Dimension):
    """An integer in ``[low, high]`` with equal-width bins over ``[0, 1]``.

    Linear: ``low + floor(u (high - low + 1))``; log: ``floor(exp(log low + u (log(high + 1)
    - log low)))``; both clipped to ``high`` at ``u = 1``. Every value has a bin of the same
    width (linear) or of the same width in log space (log).
    """

    def __init__(self, low: int, high: int, *, log: bool = False, name: str = "Integer") -> None:
        _check_range(low, high, name, log=log, integer=True)
        self.low, self.high, self.log = int(low), int(high), bool(log)

    def decode(self, u: float) -> int:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high + 1)
            v = math.floor(math.exp(lo + u * (hi - lo)) + 1e-9)
        else:
            v = self.low + math.floor(u * (self.high - self.low + 1))
        return int(min(max(v, self.low), self.high))

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "type": "int"}

    def __repr__(self) -> str:
        return f"Integer({self.low}, {self.high}{', log=True' if self.log else ''})"


class Categorical(Dimension):
    """One of ``choices``, each with an equal share of ``[0, 1]``."""

    def __init__(self, choices: Sequence[Any], *, name: str = "Categorical") -> None:
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
            fail(name, "Categorical", "a sequence of choices", choices, exc=TypeError)
        if len(choices) < 1:
            fail(name, "Categorical", "a non-empty sequence of choices", choices)
        for c in choices:
            if not isinstance(c, Hashable) or isinstance(c, (list, dict)):
                fail(name, "Categorical", "a sequence of numbers or strings", choices,
                     exc=TypeError)
        self.choices = [_plain(c) for c in choices]

    def decode(self, u: float) -> Any:
        k = len(self.choices)
        return self.choices[min(int(min(max(float(u), 0.0), 1.0) * k), k - 1)]

    def to_dict(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}

    def __repr__(self) -> str:
        return f"Categorical({self.choices!r})"


def _plain(v: Any) -> Any:
    """NumPy scalars -> Python scalars (configs are JSON/TOML-friendly)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _check_range(low: Any, high: Any, name: str, *, log: bool, integer: bool) -> None:
    where = "SearchSpace"
    kind = "an integer" if integer else "a real number"
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral if integer else numbers.Real):
            fail(name, where, f"a range whose bounds are {kind}s", [low, high], exc=TypeError)
        if not math.isfinite(v):
            fail(name, where, "a range with finite bounds", [low, high])
    if not low <= high:
        fail(name, where, "a range [low, high] with low <= high", [low, high])
    if log and low <= 0:
        fail(name, where, "a log-scaled range with low > 0", [low, high])


class SearchSpace:
    """What a genome means: searched dimensions plus fixed values.

    Parameters
    ----------
    dims : dict of str -> Dimension
        Searched hyperparameters; names from :data:`DEFAULTS` (``n_layers``, ``units``,
        ``activation``, ``optimizer``, ``learning_rate``, ``momentum``, ``alpha``,
        ``batch_size``, ``max_epochs``, ``patience``, ``n_lags``, and for image inputs
        ``model`` (``"mlp"`` / ``"cnn"``), ``filters``, ``kernel_size``, ``conv_layers``).
    fixed : dict of str -> value, optional
        Hyperparameters held constant. ``units`` may be fixed to an int or to a list of
        per-layer sizes, or ``hidden_layer_sizes`` may be fixed to a list (which also fixes
        ``n_layers``). Anything neither searched nor fixed takes its :data:`DEFAULTS` value.

    Attributes
    ----------
    gene_names : list of str
        Name of each gene, in genome order (``units`` expanded to ``units_1 ..``).
    """

    def __init__(self, dims: Mapping[str, Dimension], fixed: Mapping[str, Any] | None = None
                 ) -> None:
        where = "SearchSpace"
        if not isinstance(dims, Mapping):
            fail("dims", where, "a dict of name -> Dimension", dims, exc=TypeError)
        fixed = dict(fixed or {})
        known = (*DEFAULTS, "hidden_layer_sizes")
        for name, d in dims.items():
            if name not in DEFAULTS:
                fail("dims", where, "names among " + ", ".join(DEFAULTS), name,
                     hint=f"Unknown hyperparameter {name!r}.")
            if not isinstance(d, Dimension):
                fail(name, where, "an Integer, Real or Categorical dimension", d, exc=TypeError)
        for name in fixed:
            if name not in known:
                fail("fixed", where, "names among " + ", ".join(known), name,
                     hint=f"Unknown hyperparameter {name!r}.")
            if name in dims:
                fail(name, where, "either searched or fixed, not both", fixed[name])
        if "hidden_layer_sizes" in fixed and ({"n_layers", "units"} & set(dims)):
            fail("hidden_layer_sizes", where, "fixed only when n_layers and units are not searched",
                 fixed["hidden_layer_sizes"])
        self.dims: dict[str, Dimension] = dict(dims)
        self.fixed: dict[str, Any] = {k: _plain(v) for k, v in fixed.items()}
        self._validate_values()
        nl = self.dims.get("n_layers")
        self.max_layers = nl.high if isinstance(nl, Integer) else (
            max(nl.choices) if isinstance(nl, Categorical) else self._fixed_layers())
        names: list[str] = []
        for name in self.dims:
            if name == "units":
                names += [f"units_{i + 1}" for i in range(self.max_layers)]
            else:
                names.append(name)
        self.gene_names = names
        self._slots = {n: i for i, n in enumerate(names)}

    # -- validation of values that decoding can produce ------------------------------------

    def _fixed_layers(self) -> int:
        if "hidden_layer_sizes" in self.fixed:
            return len(self.fixed["hidden_layer_sizes"])
        return int(self.fixed.get("n_layers", DEFAULTS["n_layers"]))

    def _values(self, name: str) -> list[Any]:
        d = self.dims.get(name)
        if isinstance(d, Categorical):
            return list(d.choices)
        if isinstance(d, (Integer, Real)):
            return [d.low, d.high]
        if name in self.fixed:
            v = self.fixed[name]
            return list(v) if name == "units" and isinstance(v, (list, tuple)) else [v]
        return [DEFAULTS[name]]

    def _validate_values(self) -> None:
        where = "SearchSpace"
        for name in DEFAULTS:
            for v in self._values(name):
                if name in _INT_NAMES:
                    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (
                            0 if name == "n_layers" else 1):
                        fail(name, where, "positive integers" if name != "n_layers"
                             else "integers >= 0", v)
                elif name == "activation":
                    check_choice(v, HIDDEN_ACTIVATIONS, name, where)
                elif name == "model":
                    check_choice(v, MODELS, name, where)
                elif name == "optimizer":
                    check_choice(v, OPTIMIZERS, name, where)
                else:
                    low_ok = v > 0 if name in _POSITIVE else v >= 0
                    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not low_ok:
                        fail(name, where, "positive numbers" if name in _POSITIVE
                             else "non-negative numbers", v)
                    if name == "momentum" and v >= 1:
                        fail(name, where, "numbers in [0, 1)", v)
        if "hidden_layer_sizes" in self.fixed:
            hs = self.fixed["hidden_layer_sizes"]
            if isinstance(hs, (str, bytes)) or not isinstance(hs, Sequence) or any(
                    isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1
                    for h in hs):
                fail("hidden_layer_sizes", where, "a list of positive integers", hs)
        units = self.fixed.get("units")
        if isinstance(units, (list, tuple)) and "n_layers" not in self.dims:
            if len(units) != self._fixed_layers():
                fail("units", where, f"a list of {self._fixed_layers()} sizes (one per layer)",
                     units)

    @property
    def can_build_cnn(self) -> bool:
        """True when some genome decodes to ``model == "cnn"`` (which needs image inputs)."""
        return "cnn" in self._values("model")

    # -- decoding ------------------------------------------------------------------------------

    @property
    def n_genes(self) -> int:
        """Length of a genome."""
        return len(self.gene_names)

    def _gene(self, genes: np.ndarray, name: str) -> Any:
        return self.dims[name].decode(genes[self._slots[name]])

    def _get(self, genes: np.ndarray, name: str) -> Any:
        if name in self.dims:
            return self._gene(genes, name)
        return self.fixed.get(name, DEFAULTS[name])

    def decode(self, genes: Any) -> dict[str, Any]:
        """Decode one genome of shape ``(n_genes,)`` (values in ``[0, 1]``) to a config.

        Returns
        -------
        dict
            ``hidden_layer_sizes`` (tuple of int), ``activation``, ``optimizer``,
            ``learning_rate``, ``momentum`` (only for momentum optimizers), ``alpha``,
            ``batch_size``, ``max_epochs``, ``patience``, and ``n_lags`` when searched or
            fixed (series tasks); ``model`` when the space can build a CNN, and then for a
            CNN ``filters``, ``kernel_size`` and ``conv_layers``. Only active values appear.
        """
        g = check_array(genes, "genes", "SearchSpace.decode", ndim=1, min_rows=0)
        if g.shape[0] != self.n_genes:
            fail("genes", "SearchSpace.decode", f"an array of shape ({self.n_genes},)", g)
        if "hidden_layer_sizes" in self.fixed:
            hidden = tuple(int(h) for h in self.fixed["hidden_layer_sizes"])
        else:
            n_layers = int(self._get(g, "n_layers"))
            if "units" in self.dims:
                d = self.dims["units"]
                hidden = tuple(int(d.decode(g[self._slots[f"units_{i + 1}"]]))
                               for i in range(n_layers))
            else:
                u = self.fixed.get("units", DEFAULTS["units"])
                hidden = tuple(int(x) for x in u[:n_layers]) if isinstance(
                    u, (list, tuple)) else (int(u),) * n_layers
        cfg: dict[str, Any] = {"hidden_layer_sizes": hidden}
        for name in ("activation", "optimizer", "learning_rate", "momentum", "alpha",
                     "batch_size", "max_epochs", "patience"):
            cfg[name] = _plain(self._get(g, name))
        if cfg["optimizer"] not in MOMENTUM_OPTIMIZERS:
            del cfg["momentum"]
        model = self._get(g, "model")
        if model == "cnn":
            cfg["model"] = "cnn"
            for name in CNN_NAMES:
                cfg[name] = int(self._get(g, name))
        elif self.can_build_cnn:  # said only where the space has both kinds
            cfg["model"] = "mlp"
        if not hidden and model == "mlp":  # a linear model: no hidden activation is used
            cfg["activation"] = "identity"
        if "n_lags" in self.dims or "n_lags" in self.fixed:
            cfg["n_lags"] = int(self._get(g, "n_lags"))
        for k in ("learning_rate", "alpha", "momentum"):
            if k in cfg:
                cfg[k] = float(cfg[k])
        for k in ("batch_size", "max_epochs", "patience"):
            cfg[k] = int(cfg[k])
        return cfg

    def decode_batch(self, genomes: Any) -> list[dict[str, Any]]:
        """Decode genomes of shape ``(P, n_genes)``; returns ``P`` configs."""
        G = check_array(genomes, "genomes", "SearchSpace.decode_batch", ndim=2, min_rows=0)
        return [self.decode(row) for row in G]

    @staticmethod
    def key(config: Mapping[str, Any]) -> tuple:
        """Canonical hashable form of a config: its sorted ``(name, value)`` pairs.

        Configs decoded by :meth:`decode` hold only active values, so genomes that differ
        only in inactive genes get the same key.
        """
        return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                            for k, v in config.items()))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform random genomes, shape ``(n, n_genes)``."""
        return rng.random((n, self.n_genes))

    # -- plain data ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """TOML/JSON-friendly form, accepted by :meth:`from_dict`."""
        out: dict[str, Any] = {k: d.to_dict() for k, d in self.dims.items()}
        for k, v in self.fixed.items():
            out[k] = list(v) if isinstance(v, tuple) else v
        for k, d in self.dims.items():
            if isinstance(d, Categorical):
                out[k] = list(d.choices)
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SearchSpace:
        """Parse a TOML-friendly spec, e.g. a ``[search.space]`` table.

        ``[a, b]`` with two numbers is a range (integers for integer hyperparameters such as
        ``units``, floats otherwise); a list of strings, of booleans, or of three or more
        numbers is a categorical choice; a table ``{low, high, log}`` (optionally
        ``type = "int"`` / ``"float"``) is a range; ``{choices = [...]}`` is categorical; a
        scalar fixes the value (``units`` and ``hidden_layer_sizes`` may also be fixed to a
        list of sizes with the table ``{fixed = [...]}``).
        """
        where = "SearchSpace.from_dict"
        if not isinstance(spec, Mapping):
            fail("spec", where, "a dict (a TOML table)", spec, exc=TypeError)
        dims: dict[str, Dimension] = {}
        fixed: dict[str, Any] = {}
        for name, value in spec.items():
            if not isinstance(name, str) or (name not in DEFAULTS
                                             and name != "hidden_layer_sizes"):
                fail("spec", where, "keys among " + ", ".join((*DEFAULTS, "hidden_layer_sizes")),
                     name, hint=f"Unknown hyperparameter {name!r}.")
            is_int = name in _INT_NAMES
            if name == "hidden_layer_sizes":
                fixed[name] = list(value) if isinstance(value, (list, tuple)) else value
            elif isinstance(value, Mapping):
                if "fixed" in value:
                    v = value["fixed"]
                    fixed[name] = list(v) if isinstance(v, (list, tuple)) else v
                elif "choices" in value:
                    dims[name] = Categorical(value["choices"], name=name)
                elif "low" in value and "high" in value:
                    extra = set(value) - {"low", "high", "log", "type"}
                    if extra:
                        fail(name, where, "a table with keys low, high, log and type",
                             dict(value), hint=f"Unknown key(s): {', '.join(sorted(extra))}.")
                    typ = value.get("type", "int" if is_int else "float")
                    if typ not in ("int", "float"):
                        fail(name, where, "a table whose 'type' is 'int' or 'float'", typ)
                    log = value.get("log", False)
                    if not isinstance(log, bool):
                        fail(name, where, "a table whose 'log' is true or false", log,
                             exc=TypeError)
                    lo, hi = value["low"], value["high"]
                    if typ == "int":
                        dims[name] = Integer(lo, hi, log=log, name=name)
                    else:
                        dims[name] = Real(lo, hi, log=log, name=name)
                else:
                    fail(name, where, "a table with low and high, or with choices, or with fixed",
                         dict(value))
            elif isinstance(value, (list, tuple)):
                vals = list(value)
                if not vals:
                    fail(name, where, "a non-empty list", value)
                numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                              for v in vals)
                if numeric and len(vals) == 2:
                    if is_int:
                        if not all(isinstance(v, numbers.Integral) for v in vals):
                            fail(name, where, "a range of two integers", value, exc=TypeError)
                        dims[name] = Integer(vals[0], vals[1], name=name)
                    else:
                        dims[name] = Real(vals[0], vals[1], name=name)
                elif numeric or all(isinstance(v, (str, bool)) for v in vals):
                    dims[name] = Categorical(vals, name=name)
                else:
                    fail(name, where, "a list of two numbers (a range) or a list of choices",
                         value)
            elif isinstance(value, (numbers.Real, str)):
                fixed[name] = value
            else:
                fail(name, where, "a range [low, high], a list of choices, a table or a scalar",
                     value, exc=TypeError)
        return cls(dims, fixed)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={d!r}" for k, d in self.dims.items())
        fx = f", fixed={self.fixed!r}" if self.fixed else ""
        return f"SearchSpace({inner}{fx})"


def default_space(task: str = "regression") -> SearchSpace:
    """The space searched when the user gives none.

    1-3 hidden layers of 4-64 units (log scale), tanh / relu / sigmoid, sgd / momentum /
    adam, learning rate 1e-4..0.3 (log), momentum 0.5..0.99, L2 1e-6..0.1 (log), batch size
    16 / 32 / 64 / 128; at most 100 epochs with early stopping after 10 without improvement.
    Series tasks add ``n_lags`` 2..24.
    """
    check_choice(task, TASKS, "task", "default_space")
    dims: dict[str, Dimension] = {
        "n_layers": Integer(1, 3),
        "units": Integer(4, 64, log=True),
        "activation": Categorical(["tanh", "relu", "sigmoid"]),
        "optimizer": Categorical(["sgd", "momentum", "adam"]),
        "learning_rate": Real(1e-4, 0.3, log=True),
        "momentum": Real(0.5, 0.99),
        "alpha": Real(1e-6, 0.1, log=True),
        "batch_size": Categorical([16, 32, 64, 128]),
    }
    if task == "series":
        dims["n_lags"] = Integer(2, 24)
    return SearchSpace(dims, {"max_epochs": 100, "patience": 10})


def network_layers(config: Mapping[str, Any], input_shape: Sequence[int] | None) -> tuple:
    """The hidden layers of the network a decoded ``config`` builds.

    An MLP: ``config["hidden_layer_sizes"]`` (dense widths). A CNN (``model == "cnn"``):
    ``Reshape(input_shape)``, ``conv_layers`` x ``Conv2D(filters, kernel_size, padding =
    kernel_size // 2)``, ``MaxPool2D(2)`` when the maps are at least 2 x 2, ``Flatten()``,
    then the dense widths. ``input_shape`` is the image shape ``(C, H, W)``; a CNN without
    one raises ``ValueError``.
    """
    from ..layers import Conv2D, Flatten, MaxPool2D, Reshape

    hidden = tuple(int(h) for h in config["hidden_layer_sizes"])
    if config.get("model", "mlp") != "cnn":
        return hidden
    if input_shape is None or len(input_shape) != 3:
        fail("input_shape", "network_layers", "an image shape (C, H, W) for a CNN configuration",
             input_shape)
    k = int(config["kernel_size"])
    layers: list[Any] = [Reshape(tuple(int(v) for v in input_shape))]
    layers += [Conv2D(int(config["filters"]), k, padding=k // 2)
               for _ in range(int(config["conv_layers"]))]
    # "same" padding keeps H x W for odd kernels; an even kernel adds one pixel per layer
    grow = (k % 2 == 0) * int(config["conv_layers"])
    if min(input_shape[1:]) + grow >= 2:
        layers.append(MaxPool2D(2))
    return (*layers, Flatten(), *hidden)
