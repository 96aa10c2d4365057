"""Property: a random mutation of a valid config either runs (tiny budget) or fails with a
one-line error before the run folder exists (issue 13)."""

import os
import random

import pytest

from gabp.cli import main
from gabp.config import SCHEMA, dump_toml
from gabp.runs import read_json

BASE = {
    "name": "p",
    "seed": 1,
    "data": {"dataset": "sunspots", "n_lags": 4},
    "network": {"hidden_layer_sizes": [3]},
    "ga": {"population_size": 4, "n_generations": 1},
    "bp": {"bp_epochs": 1, "max_epochs": 5, "patience": 3},
    "run": {"n_baseline": 1, "report": False},
}

VALUES = [-1, 0, 1, 2, 3, 0.5, -0.5, 1.5, 1e300, float("inf"), float("nan"), 10**12, "",
          "x", "tanh", "relu", "adam", "sgd", "classic", "minmax", "series", "iris", [],
          [2], [0, 1], [1, "a"], [0.0, 1.0], True, False, {"k": 1}]
#: Keys whose large valid values mean a long run, not a bad config: mutated to small
#: values only, so the property test stays fast.
BUDGET = {"n_generations", "max_epochs", "bp_epochs", "patience", "max_time", "stagnation"}
KEYS = [(s, k) for s in ("", "data", "network", "ga", "bp", "run") for k in SCHEMA[s]]


def _mutate(rng):
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for _ in range(rng.choice([1, 1, 2])):
        section, key = rng.choice(KEYS + [("ga", "no_such_key"), ("", "typo")])
        value = rng.choice(VALUES)
        if key in BUDGET and (value in (10**12, 1e300, float("inf")) or value is True):
            value = 2
        table = cfg if section == "" else cfg.setdefault(section, {})
        table[key] = value
    if cfg["data"].get("dataset") is None and "csv" not in cfg["data"]:
        cfg["data"]["dataset"] = "sunspots"
    return cfg


def _check_one(tmp_path, capsys, i, cfg):
    path = tmp_path / f"m{i}.toml"
    try:
        path.write_text(dump_toml(cfg))
    except (TypeError, ValueError):
        return "unwritable"
    out = tmp_path / f"out{i}"
    code = main(["run", str(path), "--out", str(out), "-q"])
    stdout, err = capsys.readouterr()
    if code == 0:
        (folder,) = os.listdir(out)
        assert read_json(str(out / folder / "meta.json"))["status"] == "finished"
        return "ran"
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, (cfg, code, err)
    assert lines[0].startswith("gabp run: error: "), (cfg, err)
    if out.exists():  # only a failure of the run itself may leave a folder: marked failed
        (folder,) = os.listdir(out)
        meta = read_json(str(out / folder / "meta.json"))
        assert meta["status"] == "failed" and "individual" in meta["error"], (cfg, meta)
        return "failed at run time"
    return "refused"


def _run_mutations(tmp_path, capsys, n, seed, until=None, cap=None):
    """Check ``n`` mutations, or with ``until`` (outcome -> count) as many as it takes to
    see those counts, at most ``cap``."""
    rng = random.Random(seed)
    outcomes = {}
    i = 0
    while i < n or (until and i < cap
                    and any(outcomes.get(k, 0) < v for k, v in until.items())):
        cfg = _mutate(rng)
        outcome = _check_one(tmp_path, capsys, i, cfg)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        i += 1
    return outcomes


def test_random_config_mutations_run_or_fail_in_one_line_before_the_folder(tmp_path, capsys):
    # 40 mutations, then more until both outcomes were seen often enough: a fixed count hung
    # on the draws, which every schema key added shifts (seed 0 fell to 2 valid configs with
    # [network] layers, seed 3 with [ga] holdout_*, seed 4 to none with [network] linear)
    want = {"ran": 3, "refused": 10}
    outcomes = _run_mutations(tmp_path, capsys, 40, seed=4, until=want, cap=200)
    assert all(outcomes.get(k, 0) >= v for k, v in want.items()), outcomes


@pytest.mark.slow
def test_many_random_config_mutations(tmp_path, capsys):
    outcomes = _run_mutations(tmp_path, capsys, 400, seed=1)
    assert outcomes.get("ran", 0) >= 20, outcomes
