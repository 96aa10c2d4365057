"""Hyperparameter / architecture search: decoding, inactive genes, cache, determinism,
search quality, NSGA-II front, spec errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from joblib import Parallel

from gabp.search import (
    Categorical,
    Evaluator,
    EvolutionarySearch,
    Integer,
    Real,
    SearchSpace,
    default_space,
    dominates,
    search_records,
)

# Small budgets everywhere: the CPU is shared.
TINY = {"max_epochs": 15, "patience": 3}


def _regression(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(3 * X[:, 0]) + 0.5 * X[:, 1] ** 2


def _blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = np.repeat(np.arange(3), n // 3)
    return centers[y] + rng.normal(0, 0.7, (len(y), 2)), np.array(["a", "b", "c"])[y]


def _space(**extra):
    dims = {
        "n_layers": Integer(1, 2),
        "units": Integer(2, 16, log=True),
        "learning_rate": Real(1e-3, 0.3, log=True),
        "optimizer": Categorical(["sgd", "adam"]),
    }
    dims.update(extra)
    return SearchSpace(dims, {**TINY, "batch_size": 32})


# ------------------------------------------------------------------------------ decoding


def test_dimension_decoding_exact_values():
    r = Real(0.001, 0.1, log=True)
    assert [r.decode(u) for u in (0.0, 0.5, 1.0)] == [0.001, 0.01, 0.1]
    lin = Real(-1.0, 3.0)
    assert [lin.decode(u) for u in (0.0, 0.5, 1.0)] == [-1.0, 1.0, 3.0]
    assert Real(0.0, 1.0, digits=None).decode(1 / 3) == 1 / 3
    assert Real(0.0, 1.0).decode(1 / 3) == 0.3333  # 4 significant digits by default
    i = Integer(1, 3)
    assert [i.decode(u) for u in (0.0, 0.5, 1.0)] == [1, 2, 3]
    assert [Integer(0, 9).decode(u) for u in (0.0, 0.05, 0.1, 0.95, 1.0)] == [0, 0, 1, 9, 9]
    il = Integer(4, 64, log=True)
    # floor(exp(log 4 + 0.5 (log 65 - log 4))) = floor(sqrt(260)) = 16
    assert [il.decode(u) for u in (0.0, 0.5, 1.0)] == [4, 16, 64]
    c = Categorical(["a", "b", "c"])
    assert [c.decode(u) for u in (0.0, 0.34, 0.5, 0.99, 1.0)] == ["a", "b", "b", "c", "c"]


def test_decode_respects_bounds_and_types(rng):
    space = default_space("series")
    for cfg in space.decode_batch(rng.random((200, space.n_genes))):
        assert 1 <= len(cfg["hidden_layer_sizes"]) <= 3
        assert all(isinstance(h, int) and 4 <= h <= 64 for h in cfg["hidden_layer_sizes"])
        assert 1e-4 <= cfg["learning_rate"] <= 0.3
        assert 1e-6 <= cfg["alpha"] <= 0.1
        assert cfg["batch_size"] in (16, 32, 64, 128)
        assert isinstance(cfg["n_lags"], int) and 2 <= cfg["n_lags"] <= 24
        assert ("momentum" in cfg) == (cfg["optimizer"] == "momentum")
        if "momentum" in cfg:
            assert 0.5 <= cfg["momentum"] <= 0.99
    # log scale: half the genes fall below the geometric midpoint
    lr = np.array([c["learning_rate"] for c in space.decode_batch(rng.random((400,
                                                                               space.n_genes)))])
    assert 0.4 < np.mean(lr < np.sqrt(1e-4 * 0.3)) < 0.6


def test_inactive_genes_ignored():
    space = SearchSpace({"n_layers": Integer(1, 3), "units": Integer(4, 64),
                         "optimizer": Categorical(["adam", "momentum"]),
                         "momentum": Real(0.5, 0.99)})
    assert space.gene_names == ["n_layers", "units_1", "units_2", "units_3", "optimizer",
                                "momentum"]
    a = np.array([0.0, 0.5, 0.1, 0.9, 0.0, 0.2])  # 1 layer, adam
    b = np.array([0.0, 0.5, 0.7, 0.3, 0.1, 0.8])  # differs only in inactive genes
    ca, cb = space.decode(a), space.decode(b)
    assert ca == cb and space.key(ca) == space.key(cb)
    assert ca["hidden_layer_sizes"] == (34,) and "momentum" not in ca
    c = b.copy()
    c[0] = 0.5  # two layers: units_2 becomes active
    assert space.decode(c)["hidden_layer_sizes"] == (34, 46)
    c[4] = 1.0  # momentum optimizer: the momentum gene becomes active
    assert space.decode(c)["momentum"] == pytest.approx(0.5 + 0.8 * 0.49)


def test_fixed_values_and_from_dict():
    space = SearchSpace.from_dict({
        "n_layers": [1, 3], "units": [4, 64],
        "learning_rate": {"low": 1e-4, "high": 0.1, "log": True},
        "activation": ["tanh", "relu"], "batch_size": [16, 32, 64], "alpha": 0.0,
        "momentum": [0.8, 0.95],
    })
    assert isinstance(space.dims["units"], Integer) and isinstance(space.dims["momentum"], Real)
    assert space.dims["learning_rate"].log
    assert space.dims["batch_size"].choices == [16, 32, 64]
    assert space.fixed == {"alpha": 0.0}
    cfg = space.decode(np.full(space.n_genes, 0.5))
    assert cfg["alpha"] == 0.0 and cfg["activation"] == "relu" and cfg["batch_size"] == 32
    assert SearchSpace.from_dict(space.to_dict()).decode(np.full(space.n_genes, 0.5)) == cfg
    fixed = SearchSpace.from_dict({"hidden_layer_sizes": [8, 4], "learning_rate": [0.01, 0.1]})
    assert fixed.n_genes == 1
    assert fixed.decode([0.0])["hidden_layer_sizes"] == (8, 4)


@pytest.mark.parametrize("spec, match", [
    ({"lerning_rate": [0.1, 1.0]}, "lerning_rate"),
    ({"units": [64, 4]}, "'units'.*low <= high"),
    ({"learning_rate": {"low": 0.0, "high": 1.0, "log": True}}, "'learning_rate'.*low > 0"),
    ({"units": {"low": 1, "high": 4, "steps": 2}}, "'units'.*steps"),
    ({"activation": ["tanh", "swish"]}, "'activation'"),
    ({"units": [1.5, 8]}, "'units'"),
    ({"batch_size": []}, "'batch_size'.*non-empty"),
    ({"momentum": [0.5, 1.2]}, "'momentum'"),
])
def test_from_dict_errors_name_the_key(spec, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SearchSpace.from_dict(spec)


# ------------------------------------------------------------------------------ evaluation


def _evaluator(parallel, entropy=7):
    X, y = _regression(80)
    Y = (y - y.mean()) / y.std()
    data = (X[:60], Y[:60, None], X[60:], Y[60:, None], np.ones(1))
    return Evaluator(lambda n_lags, fold: data, {"output_activation": "identity",
                                                 "loss": "mse", "fitness": "loss"},
                     n_folds=1, n_repeats=2, entropy=entropy, parallel=parallel,
                     key=SearchSpace.key)


def test_cache_hits_counted_and_grouping_does_not_change_errors():
    space = _space()
    genomes = np.random.default_rng(3).random((4, space.n_genes))
    configs = space.decode_batch(genomes)
    with Parallel(n_jobs=1) as par:
        ev = _evaluator(par)
        together = ev(configs + [configs[0]])  # a duplicate within the batch
        assert ev.n_trainings == 4 * 2 and ev.n_cache_hits == 1
        again = ev(configs[:2])
        assert ev.n_trainings == 8 and ev.n_cache_hits == 3
        np.testing.assert_array_equal(again, together[:2])
        alone = _evaluator(par)
        for i, c in enumerate(configs):  # one at a time: other groups, same errors
            np.testing.assert_allclose(alone([c]), together[i : i + 1], rtol=1e-9)


def test_groups_train_in_the_precision_their_optimizer_resolves_to(monkeypatch):
    """float32 for mini-batch optimizers, float64 for LM and 'auto' (as the refit's estimator)."""
    from gabp.search import evaluate

    seen = {}
    real_train = evaluate.train

    def spy(net, *args, optimizer, **kwargs):
        seen[optimizer] = net.params.dtype.name
        return real_train(net, *args, optimizer=optimizer, **kwargs)

    monkeypatch.setattr(evaluate, "train", spy)
    space = SearchSpace({"optimizer": Categorical(["sgd", "adam", "lm", "auto"])},
                        {**TINY, "batch_size": 32})
    configs = [space.decode(np.array([g])) for g in (0.1, 0.4, 0.6, 0.9)]
    assert [c["optimizer"] for c in configs] == ["sgd", "adam", "lm", "auto"]
    with Parallel(n_jobs=1) as par:
        errors = _evaluator(par)(configs)
    assert np.isfinite(errors).all()
    assert seen == {"sgd": "float32", "adam": "float32", "lm": "float64", "auto": "float64"}


# ------------------------------------------------------------------------------ search


def test_search_deterministic_across_n_jobs_and_beats_worst_initial():
    X, y = _regression()
    kw = dict(space=_space(), population_size=6, n_generations=2, random_state=3, refit=False)
    s1 = EvolutionarySearch("regression", n_jobs=1, **kw).fit(X, y)
    s2 = EvolutionarySearch("regression", n_jobs=2, **kw).fit(X, y)
    assert s1.best_params_ == s2.best_params_
    assert s1.best_score_ == s2.best_score_
    assert [r["error_min"] for r in s1.logbook_] == [r["error_min"] for r in s2.logbook_]
    assert s1.n_trainings_ == s2.n_trainings_ and s1.n_cache_hits_ == s2.n_cache_hits_
    worst0 = s1.logbook_[0]["error_max"]
    assert s1.best_score_ < 0.5 * worst0
    best = [h["error"] for h in s1.history_]
    assert all(b >= a for a, b in zip(best[1:], best[:-1], strict=True))  # monotone
    recs = search_records(s1)
    assert len(recs) == 3 and "n_trainings" not in recs[0]
    assert {"gen", "error_min", "best_so_far", "n_layers", "hidden_1", "hidden_2",
            "learning_rate", "optimizer"} <= set(recs[0])
    json.dumps(recs)


def test_classification_refit_and_predict():
    X, y = _blobs()
    space = _space(learning_rate=Real(0.03, 0.3, log=True))
    s = EvolutionarySearch("classification", space, population_size=4, n_generations=1,
                           fitness="error_rate", random_state=0).fit(X, y)
    assert 0.0 <= s.best_score_ <= 0.3
    assert set(s.predict(X[:10])) <= {"a", "b", "c"}
    assert s.score(X, y) > 0.7
    assert s.best_estimator_.max_epochs == s.refit_epochs_
    d = s.to_dict()
    json.dumps(d)
    assert d["best_params"]["hidden_layer_sizes"] == list(s.best_params_["hidden_layer_sizes"])


def test_binary_search_ranks_with_the_head_it_refits():
    X, y = _blobs()
    keep = y != "c"
    X, y = X[keep], y[keep]
    seen = []
    real = Evaluator.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(dict(self.settings))

    import gabp.search.estimator as est_mod

    s = EvolutionarySearch("classification", _space(), population_size=4, n_generations=1,
                           random_state=0)
    orig = est_mod.Evaluator
    try:
        est_mod.Evaluator = type("SpyEvaluator", (orig,), {"__init__": spy})
        s.fit(X, y)
    finally:
        est_mod.Evaluator = orig
    assert seen and all(st["output_activation"] == "sigmoid" for st in seen)
    assert all(st["loss"] == "binary_cross_entropy" for st in seen)
    assert s.best_estimator_.network_.arch.activations[-1] == "sigmoid"
    assert s.score(X, y) > 0.8


def test_multi_objective_front_is_non_dominated():
    X, y = _regression(100)
    s = EvolutionarySearch("regression", _space(), population_size=6, n_generations=2,
                           multi_objective=True, random_state=1, refit=False).fit(X, y)
    front = s.pareto_front_
    assert front and front == sorted(front, key=lambda d: d["n_params"])
    pts = [(d["error"], d["n_params"]) for d in front]
    assert not any(dominates(a, b) for a in pts for b in pts)
    # every trained configuration is dominated by or equal to a point of the front
    for t in s._evaluator.cache.values():
        p = (t.error, t.n_params)
        assert any(dominates(q, p) or q == p for q in pts)
    assert s.best_score_ == min(e for e, _ in pts)


def test_series_search_rebuilds_windows_per_lag():
    t = np.arange(160)
    series = np.sin(2 * np.pi * t / 17) + 0.05 * np.random.default_rng(0).normal(size=160)
    space = SearchSpace({"n_lags": Integer(2, 8), "learning_rate": Real(0.003, 0.1, log=True)},
                        {**TINY, "units": 8})
    s = EvolutionarySearch("series", space, population_size=4, n_generations=1,
                           fitness="rmse", random_state=0).fit_series(series)
    lags = s.best_params_["n_lags"]
    assert 2 <= lags <= 8 and s.n_lags_ == lags and s.n_features_in_ == lags
    assert s.best_score_ < 0.5  # in the series' units (amplitude 1)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], lags)
    assert s.predict(windows).shape == (len(windows),)


@pytest.mark.parametrize("kwargs, match", [
    ({"task": "clustering"}, "'task'"),
    ({"fitness": "error_rate"}, "'fitness'"),
    ({"population_size": 1}, "'population_size'"),
    ({"validation_fraction": 1.0}, "'validation_fraction'"),
    ({"cv": 1}, "'cv'"),
    ({"space": "big"}, "'space'"),
    ({"space": {"n_lags": [2, 5]}}, "'space'"),
])
def test_search_parameter_errors(kwargs, match):
    X, y = _regression(30)
    with pytest.raises((ValueError, TypeError), match=match):
        EvolutionarySearch(**kwargs).fit(X, y)


def test_get_set_params_and_unfitted():
    s = EvolutionarySearch("classification", population_size=4)
    assert s.get_params()["population_size"] == 4
    s.set_params(n_generations=0)
    assert s.n_generations == 0
    with pytest.raises(ValueError, match="not fitted|no best_estimator_"):
        s.predict(np.zeros((1, 2)))


def test_a_diverging_refit_is_retried_with_a_smaller_learning_rate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    search = EvolutionarySearch("regression", random_state=0)
    s = search._validate("test")
    search.best_params_ = {"hidden_layer_sizes": (8,), "activation": "relu",
                           "optimizer": "sgd", "learning_rate": 2.0, "alpha": 0.0,
                           "batch_size": 16}
    search.refit_epochs_ = 20
    est = search._refit(X, y, s)
    assert search.refit_learning_rate_ < 2.0  # every restart diverges at 2.0 on this data
    assert np.isinf(search.refit_losses_[:3]).all()
    assert not est.result_.bp_history.diverged.any()
    assert np.isfinite(est.loss_curve_).all()
    # the kept refit is the restart with the lowest final training loss
    assert est.loss_curve_[-1] == min(search.refit_losses_)


def test_refit_keeps_the_best_of_several_restarts():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    search = EvolutionarySearch("classification", random_state=3)
    s = search._validate("test")
    search.best_params_ = {"hidden_layer_sizes": (3,), "activation": "relu",
                           "optimizer": "adam", "learning_rate": 0.05, "alpha": 0.0,
                           "batch_size": 16}
    search.refit_epochs_ = 15
    est = search._refit(X, y, s)
    assert len(search.refit_losses_) == 3 and search.refit_learning_rate_ == 0.05
    assert est.loss_curve_[-1] == min(search.refit_losses_)


def test_search_table_takes_the_search_gas_stopping_rules(tmp_path):
    from gabp.experiment import run_experiment

    cfg = tmp_path / "s.toml"
    head = ('seed = 0\n[data]\ndataset = "iris"\n[search]\npopulation_size = 4\n'
            "n_generations = 12\n")
    space = ("[search.space]\nn_layers = 1\nunits = [2, 4]\nmax_epochs = 3\n"
             "[run]\nn_baseline = 0\nreport = false\n")
    cfg.write_text(head + "stagnation = 1\nmax_time = 600\n" + space)
    metrics = run_experiment(str(cfg), out=str(tmp_path / "runs"), verbose=0).metrics
    # one generation without a better configuration ends the search
    assert metrics["stop_reason"] == "stagnation" and metrics["generations"] < 12
    cfg.write_text(head + "stagnation = 0\n" + space)
    with pytest.raises(ValueError, match=r"line 7: \[search\] stagnation.*>= 1"):
        run_experiment(str(cfg), out=str(tmp_path / "bad"), verbose=0)
    from gabp.evolution import GAConfig

    with pytest.raises(ValueError, match="holdout_fraction"):  # the weights GA's, not here
        EvolutionarySearch("regression", ga=GAConfig(holdout_fraction=0.2))._validate("x")
