"""Run configuration: the TOML file behind ``gabp run``.

A config has five tables; every key is optional and takes the default shown by
``gabp run --help`` / :data:`SCHEMA`::

    name = "sunspots"            # run name (folder suffix)
    seed = 0
    n_jobs = 1

    [data]
    dataset = "sunspots"         # a built-in name, or csv = "file.csv" with target = "..."
    n_lags = 12                  # series only
    horizon = 1
    difference = 0               # series: 0, 1 or "auto" (chosen on the validation part)
    seasonal_period = 12         # series: season length (seasonal naive, seasonal difference)
    seasonal_difference = 0      # series: 0, 1 or "auto"
    val_fraction = 0.15
    test_fraction = 0.15
    scaler = "minmax"            # "minmax", "standard" or "none"
    feature_range = [-1.0, 1.0]

    [network]
    hidden_layer_sizes = [8]
    activation = "tanh"
    linear = false               # regression / series: a ridge plus the network on its
                                 # residuals (as GABPRegressor(linear=True))

    [ga]                         # gabp.evolution.GAConfig fields, plus preset = "classic"
    population_size = 40

    [bp]                         # gabp.evolution.BPConfig fields
    learning_rate = 0.01

    [run]
    mode = "lamarckian"          # classic, baldwinian, lamarckian, bp
    fitness = "loss"
    n_baseline = 5
    ensemble = 1                 # networks averaged by the delivered model
    checkpoint_every = 5

An unknown key, a value of the wrong type or range, an unknown choice or a missing data
file is rejected by :func:`load_config` with a :class:`ConfigError` that names the file,
the key and its line. Once the data is loaded, :func:`check_task` (degenerate data) and
:func:`check_memory` (:func:`memory_estimate` against the available memory) run, still
before the run folder exists. :func:`dump_toml` writes a config that always reads back.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import sys
from typing import Any

import numpy as np

from ._validation import check_float, check_int
from .evolution.config import GAConfig
from .evolution.problem import FITNESS_METRICS, MODES, BPConfig
from .network import Architecture
from .solvers.memory import DEFAULT_MEMORY_BUDGET, lm_bytes, plan_lbfgs, plan_lm
from .solvers.options import SOLVER_DEFAULTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration problem, with the file and line it comes from."""


_NUM = (int, float)
_OPT = type(None)

# section -> key -> (accepted types, default)
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "": {
        "name": ((str,), None),
        "seed": ((int, _OPT), None),
        "n_jobs": ((int, _OPT), None),
        "description": ((str,), ""),
    },
    "data": {
        "dataset": ((str, _OPT), None),
        "csv": ((str, _OPT), None),
        "target": ((str, int, list, _OPT), None),
        "features": ((list, _OPT), None),
        "date_column": ((str, int, _OPT), None),
        "task": ((str, _OPT), None),
        "delimiter": ((str,), ","),
        "n_lags": ((int, _OPT), None),
        "lag_step": ((int, _OPT), None),
        "horizon": ((int, list, _OPT), None),
        "val_fraction": (_NUM, 0.15),
        "test_fraction": (_NUM, 0.15),
        "split_seed": ((int,), 0),
        "scaler": ((str,), "minmax"),
        "feature_range": ((list,), [-1.0, 1.0]),
        "classic_split": ((bool,), False),
        "difference": ((int, str), 0),
        "seasonal_period": ((int, _OPT), None),
        "seasonal_difference": ((int, str), 0),
    },
    "network": {
        "hidden_layer_sizes": ((list, int), [10]),
        "activation": ((str, list), "tanh"),
        "layers": ((list, _OPT), None),
        "input_shape": ((list, _OPT), None),
        "linear": ((bool,), False),
    },
    "run": {
        "mode": ((str,), "lamarckian"),
        "fitness": ((str,), "loss"),
        "n_baseline": ((int,), 5),
        "ensemble": ((int,), 1),
        "checkpoint_every": ((int,), 5),
        "report": ((bool,), True),
    },
}


def _dataclass_schema(cls: type) -> dict[str, tuple[tuple[type, ...], Any]]:
    """Accepted TOML types of each field, read from the dataclass annotations."""
    by_token = {"int": (int,), "float": _NUM, "str": (str,), "bool": (bool,), "None": (_OPT,)}
    out = {}
    for f in dataclasses.fields(cls):
        types: tuple[type, ...] = ()
        for token in str(f.type).split("|"):
            token = token.strip()
            types += by_token.get(token, (list,))  # tuple[...] -> a TOML array
        out[f.name] = (tuple(dict.fromkeys(types)), f.default)
    return out


SCHEMA["ga"] = {"preset": ((str, _OPT), None), **_dataclass_schema(GAConfig)}
SCHEMA["bp"] = _dataclass_schema(BPConfig)
SECTIONS = ("data", "network", "ga", "bp", "run", "search")
#: ``[search]`` keys that are the search GA's stopping rules (:class:`GAConfig` fields).
SEARCH_STOP_KEYS = ("stagnation", "target_error", "max_time")
#: Keys of the optional ``[search]`` table (hyperparameter search instead of GA-BP);
#: ``space`` is a sub-table read by :meth:`gabp.search.SearchSpace.from_dict`.
SEARCH_KEYS = ("population_size", "n_generations", "fitness", "validation_fraction", "cv",
               "n_repeats", "multi_objective", "space", "input_shape", *SEARCH_STOP_KEYS)


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """1-based line of ``key`` inside ``[section]`` (or of the header when key is None)."""
    current = ""
    for i, line in enumerate(text.splitlines(), 1):
        head = re.match(r"\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]", line)
        if head:
            current = head.group(1)
            if key is None and current == section:
                return i
            continue
        if key is not None and current == section and re.match(
            rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line
        ):
            return i
    return None


class _Reporter:
    def __init__(self, source: str, text: str) -> None:
        self.source, self.text = source, text

    def error(self, section: str, key: str | None, message: str) -> ConfigError:
        line = _line_of(self.text, section, key)
        if line is None and key is not None and section:  # a default: point at the table
            line = _line_of(self.text, section, None)
        where = f"{self.source}, line {line}" if line else self.source
        name = f"[{section}] {key}" if section and key else (key or f"[{section}]")
        return ConfigError(f"{where}: {name}: {message}")

    def unknown_key(self, section: str, key: str, known: list[str]) -> ConfigError:
        """The error for a key not in ``known``, suggesting the closest known key."""
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return self.error(section, key, f"unknown key; {hint}known keys: {', '.join(known)}")


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false",
             list: "an array", _OPT: "omitted"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def _check_type(value: Any, types: tuple[type, ...]) -> bool:
    if value is None:
        return _OPT in types
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, tuple(t for t in types if t is not _OPT))


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a TOML config file; returns the resolved config (all defaults)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such config file")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return resolve_config(raw, source=path, text=text,
                          base_dir=os.path.dirname(os.path.abspath(path)))


def resolve_config(
    raw: dict[str, Any], *, source: str = "<config>", text: str = "", base_dir: str = "."
) -> dict[str, Any]:
    """Validate a config dict and fill in every default.

    Relative CSV paths are resolved against ``base_dir`` (the config file's folder).
    """
    rep = _Reporter(source, text)
    out: dict[str, Any] = {s: {} for s in ("data", "network", "ga", "bp", "run")}
    for key, value in raw.items():
        if isinstance(value, dict):
            if key not in SECTIONS:
                raise rep.error(key, None, f"unknown table; known tables: {', '.join(SECTIONS)}")
            continue
        _set(rep, "", key, value, out)
    for section in ("data", "network", "ga", "bp", "run"):
        table = raw.get(section, {})
        for key, value in table.items():
            _set(rep, section, key, value, out[section])
    for key, (_, default) in SCHEMA[""].items():
        out.setdefault(key, default)
    for section in ("data", "network", "ga", "bp", "run"):
        for key, (_, default) in SCHEMA[section].items():
            out[section].setdefault(key, default)
    if "search" in raw:
        out["search"] = dict(raw["search"])
    _check_semantics(rep, out, base_dir)
    return out


def _set(rep: _Reporter, section: str, key: str, value: Any, dest: dict[str, Any]) -> None:
    schema = SCHEMA[section]
    if key not in schema:
        raise rep.unknown_key(section, key, sorted(schema))
    types, _ = schema[key]
    if not _check_type(value, types):
        raise rep.error(section, key, f"must be {_type_name(types)}, got {value!r}")
    dest[key] = value


def _check_semantics(rep: _Reporter, cfg: dict[str, Any], base_dir: str) -> None:
    from .data import list_datasets

    data = cfg["data"]
    if (data["dataset"] is None) == (data["csv"] is None):
        raise rep.error("data", "dataset", "give exactly one of 'dataset' (a built-in name) or "
                        "'csv' (a file)")
    if data["dataset"] is not None and data["dataset"] not in list_datasets():
        raise rep.error("data", "dataset", f"unknown dataset {data['dataset']!r}; built-ins: "
                        f"{', '.join(list_datasets())}")
    if data["csv"] is not None:
        path = data["csv"]
        if not os.path.isabs(path):
            path = os.path.normpath(os.path.join(base_dir, path))
        if not os.path.isfile(path):
            raise rep.error("data", "csv", f"file not found: {path}")
        if not os.access(path, os.R_OK):
            raise rep.error("data", "csv", f"file not readable: {path}")
        data["csv"] = path
        if data["target"] is None:
            raise rep.error("data", "target", "required with 'csv' (column name or index)")
    if data["scaler"] not in ("minmax", "standard", "none"):
        raise rep.error("data", "scaler", f"must be 'minmax', 'standard' or 'none', got "
                        f"{data['scaler']!r}")
    if data["task"] is not None and data["task"] not in ("regression", "classification",
                                                         "series"):
        raise rep.error("data", "task", "must be 'regression', 'classification' or 'series'")
    _check_differencing(rep, cfg)
    run = cfg["run"]
    if run["mode"] not in MODES:
        raise rep.error("run", "mode", f"must be one of {', '.join(MODES)}, got {run['mode']!r}")
    if run["fitness"] not in FITNESS_METRICS:
        raise rep.error("run", "fitness", f"must be one of {', '.join(FITNESS_METRICS)}, got "
                        f"{run['fitness']!r}")
    if "search" in cfg:
        _check_search(rep, cfg["search"])
    hidden = cfg["network"]["hidden_layer_sizes"]
    if isinstance(hidden, int):
        cfg["network"]["hidden_layer_sizes"] = [hidden]
    _resolve_layers(rep, cfg)
    _check_values(rep, cfg)
    try:
        ga = ga_config(cfg)
    except (ValueError, TypeError) as exc:
        key = _param_name(str(exc))
        raise rep.error("ga", key if key in SCHEMA["ga"] else None, str(exc)) from None
    # the delivered model averages members of the final population (evolve checks it too,
    # but only once the run folder exists)
    _checked(rep, "run", "ensemble", check_int, cfg["run"]["ensemble"], "ensemble", low=1,
             high=ga.population_size)
    try:
        bp_config(cfg)
    except (ValueError, TypeError) as exc:
        key = _param_name(str(exc))
        raise rep.error("bp", key if key in SCHEMA["bp"] else None, str(exc)) from None


def _check_differencing(rep: _Reporter, cfg: dict[str, Any]) -> None:
    """[data] difference / seasonal_period / seasonal_difference (series runs)."""
    data = cfg["data"]
    for key in ("difference", "seasonal_difference"):
        if data[key] not in (0, 1, "auto") or isinstance(data[key], bool):
            raise rep.error("data", key, f"must be 0, 1 or \"auto\", got {data[key]!r}")
    period = data["seasonal_period"]
    if period is not None and period < 2:
        raise rep.error("data", "seasonal_period", f"must be an integer >= 2, got {period!r}")
    if data["seasonal_difference"] != 0 and period is None:
        raise rep.error("data", "seasonal_difference", "needs 'seasonal_period'")
    if data["difference"] == 0 and data["seasonal_difference"] == 0:
        return
    if data["horizon"] not in (None, 1, [1]):
        raise rep.error("data", "difference", "needs horizon = 1 in a run (forecast more "
                        "steps with `gabp predict --steps`, or use gabp.GABPForecaster)")
    if "search" in cfg:
        raise rep.error("data", "difference", "is not available with a [search] table")


def _checked(rep: _Reporter, section: str, key: str, check: Any, *args: Any, **kw: Any) -> Any:
    """Run a :mod:`gabp._validation` check and report its failure at ``[section] key``."""
    where = f"[{section}]" if section else "the config"
    try:
        return check(*args, where=where, **kw)
    except (ValueError, TypeError) as exc:
        raise rep.error(section, key, str(exc)) from None


def _check_values(rep: _Reporter, cfg: dict[str, Any]) -> None:
    """Ranges and element types of the top-level, [data], [network] and [run] keys."""
    if cfg["seed"] is not None:
        _checked(rep, "", "seed", check_int, cfg["seed"], "seed", low=0)
    if cfg["n_jobs"] is not None and _checked(rep, "", "n_jobs", check_int, cfg["n_jobs"],
                                              "n_jobs", low=-1024, high=1024) == 0:
        raise rep.error("", "n_jobs", "must be a positive number of workers, or negative "
                        "(-1: all cores), or omitted; got 0")
    d = cfg["data"]
    if len(d["delimiter"]) != 1 or d["delimiter"] in '\r\n"':
        raise rep.error("data", "delimiter", f"must be one character (not a quote or line "
                        f"break), got {d['delimiter']!r}")
    for key in ("n_lags", "lag_step"):
        if d[key] is not None:
            _checked(rep, "data", key, check_int, d[key], key, low=1)
    horizon = d["horizon"]
    if horizon is not None:
        steps = horizon if isinstance(horizon, list) else [horizon]
        if not steps:
            raise rep.error("data", "horizon", "must be a positive integer or a non-empty "
                            "array of them")
        for h in steps:
            _checked(rep, "data", "horizon", check_int, h, "horizon", low=1)
    for key in ("val_fraction", "test_fraction"):
        _checked(rep, "data", key, check_float, d[key], key, low=0.0, high=1.0,
                 high_open=True)
    if d["val_fraction"] + d["test_fraction"] >= 1.0:
        raise rep.error("data", "test_fraction", "val_fraction + test_fraction must be below "
                        f"1 (something must be left to train on); got {d['val_fraction']} + "
                        f"{d['test_fraction']}")
    _checked(rep, "data", "split_seed", check_int, d["split_seed"], "split_seed", low=0)
    fr = d["feature_range"]
    if (len(fr) != 2 or not all(_is_number(v) for v in fr) or not all(math.isfinite(v)
                                                                      for v in fr)
            or not fr[0] < fr[1]):
        raise rep.error("data", "feature_range", f"must be two finite numbers [low, high] "
                        f"with low < high, got {fr!r}")
    for key in ("target", "features"):
        columns = d[key] if isinstance(d[key], list) else [d[key]]
        if d[key] is None:
            continue
        if key == "target" and not columns:
            raise rep.error("data", key, "must name at least one column")
        for c in columns:
            if isinstance(c, bool) or not isinstance(c, (str, int)):
                raise rep.error("data", key, f"columns are given by name (a string) or "
                                f"0-based index (an integer), got {c!r}")
    net = cfg["network"]
    n_in = int(np.prod(net["input_shape"])) if net["layers"] is not None else 1
    try:
        Architecture.build((n_in, *net["hidden_layer_sizes"], 1),
                           hidden_activation=net["activation"], where="[network]")
    except (ValueError, TypeError) as exc:
        key = "activation" if "activation" in str(exc) else "hidden_layer_sizes"
        message = str(exc).replace("'layer_sizes'", "'hidden_layer_sizes'").replace(
            "'hidden_activation'", "'activation'")
        raise rep.error("network", key, message) from None
    run = cfg["run"]
    _checked(rep, "run", "n_baseline", check_int, run["n_baseline"], "n_baseline", low=0)
    _checked(rep, "run", "checkpoint_every", check_int, run["checkpoint_every"],
             "checkpoint_every", low=1)


def _resolve_layers(rep: _Reporter, cfg: dict[str, Any]) -> None:
    """``[network] layers`` (with ``input_shape``) replaces ``hidden_layer_sizes``.

    The hidden layers become ``[{"type": "reshape", "shape": input_shape}, *layers]`` (the
    output layer is added from the data, as for ``hidden_layer_sizes``), which is what
    :func:`gabp.evolution.evolve` builds the network from.
    """
    net = cfg["network"]
    layers, shape = net["layers"], net["input_shape"]
    if layers is None:
        if shape is not None:
            raise rep.error("network", "input_shape", "is used only together with 'layers'")
        return
    if (shape is None or len(shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                       for v in shape)):
        raise rep.error("network", "input_shape", "must be the image shape [channels, "
                        f"height, width] of the inputs when 'layers' is set, got {shape!r}")
    if not layers or not all(isinstance(u, dict) for u in layers):
        raise rep.error("network", "layers", "must be a list of tables such as "
                        '{type = "conv2d", filters = 8, kernel_size = 3}')
    if cfg["bp"].get("optimizer") in ("lm", "br"):
        raise rep.error("bp", "optimizer", "'lm' and 'br' need a dense network; use 'adam' "
                        "(or 'lbfgs') with [network] layers")
    net["hidden_layer_sizes"] = [{"type": "reshape", "shape": list(shape)},
                                 *(dict(u) for u in layers)]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_search(rep: _Reporter, search: dict[str, Any]) -> None:
    from .search import SearchSpace

    for key in search:
        if key not in SEARCH_KEYS:
            raise rep.unknown_key("search", key, list(SEARCH_KEYS))
    if "space" in search:
        try:
            SearchSpace.from_dict(search["space"])
        except (ValueError, TypeError) as exc:
            line = _line_of(rep.text, "search.space", None) or _line_of(rep.text, "search",
                                                                         "space")
            where = f"{rep.source}, line {line}" if line else rep.source
            raise ConfigError(f"{where}: [search.space]: {exc}") from None


def _param_name(message: str) -> str | None:
    m = re.search(r"The '([^']+)' parameter", message)
    return m.group(1) if m else None


def ga_config(cfg: dict[str, Any]) -> GAConfig:
    """The validated :class:`GAConfig` of a resolved config (preset applied first)."""
    fields = {k: v for k, v in cfg["ga"].items() if k != "preset"}
    given = {k: v for k, v in fields.items() if v != SCHEMA["ga"][k][1]}
    if isinstance(given.get("bounds"), list):
        given["bounds"] = tuple(given["bounds"])
    preset = cfg["ga"].get("preset")
    if preset is None:
        ga = GAConfig(**given)
    elif preset == "classic":
        ga = GAConfig.classic(**given)
    else:
        raise ValueError(f"The 'preset' parameter of [ga] must be 'classic'. Got {preset!r} "
                         "instead.")
    return ga.validate("[ga]")


def bp_config(cfg: dict[str, Any]) -> BPConfig:
    """The validated :class:`BPConfig` of a resolved config."""
    return BPConfig(**cfg["bp"]).validate("[bp]")


def config_error(source: str, section: str, key: str | None, message: str) -> ConfigError:
    """A :class:`ConfigError` at ``[section] key`` of the config file ``source``.

    For problems found after :func:`load_config` (data contents, memory); the line is
    looked up in the file when ``source`` is one.
    """
    text = ""
    if os.path.isfile(source):
        try:
            with open(source, encoding="utf-8-sig") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            text = ""
    return _Reporter(source, text).error(section, key, message)


def check_task(cfg: dict[str, Any], task: Any, *, source: str = "<config>") -> None:
    """Refuse degenerate data before any work: too few rows for the splits, one class,
    a constant target.

    ``task`` is the :class:`gabp.data.TaskData` of the config's data.
    """
    d = cfg["data"]
    n_train = task.X_train.shape[0]
    if n_train < 2:
        raise config_error(source, "data", "test_fraction", f"only {n_train} training row(s) "
                           "are left after the splits; a network needs at least 2 (use more "
                           "data or smaller val_fraction / test_fraction)")
    for part, key in (("val", "val_fraction"), ("test", "test_fraction")):
        if d[key] > 0 and getattr(task, f"X_{part}").shape[0] == 0 and not d["classic_split"]:
            raise config_error(source, "data", key, f"{d[key]} of the data gives no "
                               f"{part} row (only {n_train} training rows); use more data "
                               f"or set {key} = 0")
    period = d.get("seasonal_period")
    if task.task == "series" and period is not None and period >= n_train:
        # the seasonal naive forecast and MASE's scale need a season inside the training part
        raise config_error(source, "data", "seasonal_period", f"{period} is not below the "
                           f"training part's {n_train} rows; a season must fit in it (use "
                           "a shorter period or more data)")
    if cfg["network"]["linear"] and task.task == "classification":
        raise config_error(source, "network", "linear", "a linear part needs a regression or "
                           "series task (a classifier's outputs are class probabilities)")
    if cfg["network"]["linear"] and "search" in cfg:
        raise config_error(source, "network", "linear", "is not used by a [search] run (the "
                           "search builds its own networks); remove it or the [search] table")
    if task.task == "classification":
        classes = np.unique(np.asarray(task.y_train).argmax(axis=1))
        if classes.size < 2:
            raise config_error(source, "data", "target", "the training rows hold a single "
                               "class; classification needs at least 2")
    else:
        y = np.asarray(task.y_train_raw, dtype=float).reshape(n_train, -1)
        constant = np.flatnonzero(np.ptp(y, axis=0) == 0)
        if constant.size:
            name = task.target_names[constant[0]] if task.target_names else str(constant[0])
            raise config_error(source, "data", "target", f"the target {name!r} is constant "
                               f"({y[0, constant[0]]:g}) on the training rows; there is "
                               "nothing to learn")


#: Parameter-sized arrays per network an optimizer keeps (Adam: two moments).
#: Parameter-sized arrays each optimizer keeps per network (L-BFGS: its 10 pairs of
#: history vectors, the search direction and the line search's trial point and gradient).
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "lbfgs": 24,
                   "lm": 4, "br": 4}


def training_bytes(bp: BPConfig, n_networks: int, arch: Architecture, n_rows: int) -> int:
    """Peak bytes of training ``n_networks`` networks together on ``n_rows`` rows.

    Parameters, gradient and optimizer state (:data:`OPTIMIZER_STATE`) per network, plus
    activations and deltas of one mini-batch (the whole data for the full-batch solvers and
    when ``batch_size`` is None). Levenberg-Marquardt and Bayesian regularization add their
    normal equations and Jacobian chunks (:func:`gabp.solvers.memory.lm_bytes`), which the
    trainer splits to stay within its ``memory_budget`` (256 MB). ``"auto"`` is counted as
    the largest of its choices.
    """
    item = np.dtype("float64" if bp.dtype == "auto" else bp.dtype).itemsize  # the larger
    units = sum(arch.layer_sizes)
    names = ("lm", "lbfgs", "adam") if bp.optimizer == "auto" else (bp.optimizer,)
    peak = 0
    for name in names:
        full_batch = name in ("lm", "br", "lbfgs") or bp.batch_size is None
        batch = n_rows if full_batch else min(bp.batch_size, n_rows)
        state = OPTIMIZER_STATE.get(name, 2)
        need = n_networks * item * (arch.n_params * (3 + state) + 3 * batch * units)
        if name in ("lm", "br"):
            per_net, per_sample = lm_bytes(arch, n_rows)
            need += min(DEFAULT_MEMORY_BUDGET, n_networks * (per_net + n_rows * per_sample))
        peak = max(peak, need)
    return peak




def memory_estimate(cfg: dict[str, Any], *, n_inputs: int, n_outputs: int, n_train: int,
                    n_fit: int) -> dict[str, int]:
    """Estimated peak bytes of a GA-BP run, by the config key that drives each part.

    Parameters
    ----------
    cfg : dict
        A resolved config.
    n_inputs, n_outputs : int
        Network inputs and outputs.
    n_train, n_fit : int
        Training rows, and rows the fitness is computed on.

    Returns
    -------
    dict
        ``{"ga.population_size": bytes, "run.n_baseline": bytes, "ga.tournsize": bytes}``:
        the population with its offspring and scoring (training + a forward pass on the
        fitness data), the plain-BP baseline (the population is kept while it trains), and
        tournament selection.
    """
    arch = Architecture.build((n_inputs, *cfg["network"]["hidden_layer_sizes"], n_outputs),
                              hidden_activation=cfg["network"]["activation"])
    ga, bp = ga_config(cfg), bp_config(cfg)
    if bp.optimizer in ("lm", "br"):  # refuse a network whose normal equations cannot fit
        try:
            plan_lm(arch, n_train, 1, DEFAULT_MEMORY_BUDGET, optimizer=bp.optimizer,
                    where="[bp]")
        except ValueError as exc:
            raise ValueError(f"The 'optimizer' parameter of [bp]: {exc}") from None
    if bp.optimizer == "lbfgs":  # the history of the whole population must fit
        try:
            plan_lbfgs(arch, n_train, max(ga.population_size, cfg["run"]["n_baseline"]),
                       SOLVER_DEFAULTS["lbfgs"]["m"], DEFAULT_MEMORY_BUDGET, where="[bp]")
        except ValueError as exc:
            raise ValueError(f"The 'optimizer' parameter of [bp]: {exc}") from None
    units = sum(arch.layer_sizes)
    P = ga.population_size
    population = 6 * P * arch.n_params * 8  # population, offspring, trained, errors, copies
    forward = 2 * units * max(n_fit, 1) * 8
    scoring = training_bytes(bp, P, arch, n_train) + P * forward
    n_base = cfg["run"]["n_baseline"]
    baseline = (training_bytes(bp, n_base, arch, n_train) + n_base * forward
                + n_base * arch.n_params * 8 * 2)
    out = {"ga.population_size": population + scoring, "run.n_baseline": population + baseline}
    if ga.selection == "tournament":  # one row of candidate indices per selected parent
        out["ga.tournsize"] = population + 2 * P * ga.tournsize * 8
    return out


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None


def _gib(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1024:.3g} KiB"


def check_memory(cfg: dict[str, Any], *, n_inputs: int, n_outputs: int, n_train: int,
                 n_fit: int, source: str = "<config>", available: int | None = None) -> None:
    """Refuse a run whose :func:`memory_estimate` exceeds the available memory."""
    available = available_memory() if available is None else available
    try:
        need = memory_estimate(cfg, n_inputs=n_inputs, n_outputs=n_outputs, n_train=n_train,
                               n_fit=n_fit)
    except ValueError as exc:  # a solver that cannot fit one network, at any budget
        raise config_error(source, "bp", "optimizer", str(exc)) from None
    if available is None:
        return
    key, peak = max(need.items(), key=lambda kv: kv[1])
    if peak > available:
        section, name = key.split(".")
        raise config_error(source, section, name, f"the run would need about {_gib(peak)} "
                           f"of memory ({name} = {cfg[section][name]}, network "
                           f"{n_inputs}-{'-'.join(map(str, cfg['network']['hidden_layer_sizes']))}"
                           f"-{n_outputs}, {n_train} training rows) but only "
                           f"{_gib(available)} is available; lower {name} or the network size")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
            '"': '\\"', "\\": "\\\\"}


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and every control character
    (U+0000-U+001F, U+007F) escaped, so any Python string reads back unchanged.

    Lone surrogates (not valid Unicode, not representable in TOML) raise ``ValueError``.

    Examples
    --------
    >>> toml_string('a"b\nc')
    '"a\\"b\\nc"'
    """
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"cannot write the lone surrogate U+{code:04X} as TOML")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else
                                                  ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()
                                if x is not None) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _toml_table(name: str, d: dict[str, Any]) -> list[str]:
    lines = [f"[{name}]"] if name else []
    subs = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            subs.append((k, v))
        else:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    lines.append("")
    for k, v in subs:
        lines += _toml_table(f"{name}.{_toml_key(k)}" if name else _toml_key(k), v)
    return lines


def dump_toml(cfg: dict[str, Any]) -> str:
    """Write a resolved config as TOML (``None`` values are left out).

    Every string is escaped by :func:`toml_string`, so the text always parses back to the
    same config.
    """
    top = {k: v for k, v in cfg.items() if not isinstance(v, dict)}
    out = _toml_table("", top)
    for name in SECTIONS:
        if name in cfg:
            out += _toml_table(name, cfg[name])
    return "\n".join(out)
