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

    [ga]                         # gabp.evolution.GAConfig fields, plus preset = "classic"
    population_size = 40

    [bp]                         # gabp.evolution.BPConfig fields
    learning_rate = 0.01

    [run]
    mode = "lamarckian"          # classic, baldwinian, lamarckian, bp
    fitness = "loss"
    n_baseline = 5
    checkpoint_every = 5

An unknown key, a value of the wrong type or a missing data file is rejected with a
:class:`ConfigError` that names the key and its line, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from typing import Any

from .evolution.config import GAConfig
from .evolution.problem import FITNESS_METRICS, MODES, BPConfig

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
    },
    "run": {
        "mode": ((str,), "lamarckian"),
        "fitness": ((str,), "loss"),
        "n_baseline": ((int,), 5),
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
#: Keys of the optional ``[search]`` table (hyperparameter search instead of GA-BP);
#: ``space`` is a sub-table read by :meth:`gabp.search.SearchSpace.from_dict`.
SEARCH_KEYS = ("population_size", "n_generations", "fitness", "validation_fraction", "cv",
               "n_repeats", "multi_objective", "space")


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
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
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
    try:
        ga_config(cfg)
    except (ValueError, TypeError) as exc:
        key = _param_name(str(exc))
        raise rep.error("ga", key if key in SCHEMA["ga"] else None, str(exc)) from None
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


def dump_toml(cfg: dict[str, Any]) -> str:
    """Write a resolved config as TOML (``None`` values are left out)."""

    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {fmt(x)}" for k, x in v.items()) + " }"
        raise TypeError(f"cannot write {v!r} as TOML")

    def table(d: dict[str, Any]) -> list[str]:
        lines, subs = [], []
        for k, v in d.items():
            if v is None:
                continue
            if isinstance(v, dict):
                subs.append((k, v))
            else:
                lines.append(f"{k} = {fmt(v)}")
        return lines, subs

    top, _ = table({k: v for k, v in cfg.items() if not isinstance(v, dict)})
    out = top + [""]
    for name in SECTIONS:
        if name not in cfg:
            continue
        lines, subs = table(cfg[name])
        out += [f"[{name}]", *lines, ""]
        for sub, d in subs:
            sl, _ = table(d)
            out += [f"[{name}.{sub}]", *sl, ""]
    return "\n".join(out)
