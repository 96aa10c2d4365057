"""The delivered model: never worse than the GA's best, ensembles, the solver budget."""

import logging
from dataclasses import replace

import numpy as np
import pytest

from gabp import GABPRegressor
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.evolution import ga as ga_mod
from gabp.evolution.problem import ensemble_error, fitness_errors
from gabp.model import Model


def _data(seed=0, n=160):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return X[:120], y[:120], X[120:], y[120:]


DATA = _data()
GA = GAConfig(population_size=10, n_generations=4)
BP = BPConfig(optimizer="adam", bp_epochs=2, max_epochs=30, batch_size=16, learning_rate=0.02)


def run(**kw):
    X, y, Xv, yv = DATA
    args = dict(hidden_layer_sizes=(6,), ga=GA, bp=BP, n_baseline=0, seed=3)
    args.update(kw)
    return evolve(X, y, Xv, yv, **args)


@pytest.mark.parametrize("mode", ["classic", "baldwinian", "lamarckian"])
@pytest.mark.parametrize("optimizer", ["adam", "lm"])
@pytest.mark.parametrize("fitness", ["loss", "mae"])
def test_final_model_is_never_worse_than_the_ga_best(mode, optimizer, fitness):
    res = run(mode=mode, fitness=fitness, bp=replace(BP, optimizer=optimizer))
    assert np.isfinite(res.best_fitness)
    assert res.val_error <= res.best_fitness
    assert res.optimizer == optimizer


def test_a_diverging_fine_tune_keeps_the_start(caplog):
    # the GA scores untrained weights, so only the fine-tune sees the absurd rate
    bp = replace(BP, optimizer="sgd", learning_rate=1e6, max_epochs=20)
    with caplog.at_level(logging.WARNING, logger="gabp.evolution.ga"):
        res = run(mode="classic", bp=bp)
    np.testing.assert_allclose(res.network.params[0], res.best_genome)
    assert res.kept_start.tolist() == [True]
    assert "starting weights were kept" in caplog.text
    assert res.val_error == pytest.approx(res.best_fitness)
    assert np.isfinite(res.val_error)


@pytest.mark.parametrize("mode", ["classic", "baldwinian", "lamarckian"])
def test_a_fine_tune_that_blows_up_is_refused_in_every_mode(mode, monkeypatch, caplog):
    real_train = ga_mod.train

    def blow_up(net, *args, **kwargs):  # finite but absurd weights, as a bad solver gives
        hist = real_train(net, *args, **{**kwargs, "epochs": 1})
        net.params[...] = 1e6
        return hist

    monkeypatch.setattr(ga_mod, "train", blow_up)
    with caplog.at_level(logging.WARNING, logger="gabp.evolution.ga"):
        res = run(mode=mode)
    assert res.kept_start.tolist() == [True]
    assert res.val_error <= res.best_fitness
    assert np.all(np.abs(res.network.params) < 1e6)
    assert "starting weights were kept" in caplog.text


def test_ensemble_is_the_mean_of_k_distinct_fine_tuned_networks(tmp_path):
    X, y, Xv, yv = DATA
    res = run(mode="lamarckian", ensemble=3)
    net = res.network
    assert net.n_networks == res.ensemble == 3 and res.kept_start.shape == (3,)
    assert len({tuple(np.round(p, 10)) for p in net.params}) == 3
    mean = net.forward(Xv).mean(axis=0)[:, 0]
    assert res.val_error == pytest.approx(np.mean((mean - yv) ** 2))
    assert res.val_error == pytest.approx(
        ensemble_error(net.arch, net.params, Xv, yv[:, None], metric="loss", loss="mse"))
    # every member is a real fine-tuned network; the best genome is member 0's start
    member = fitness_errors(net.arch, net.params, Xv, yv[:, None], metric="loss", loss="mse")
    assert np.all(np.isfinite(member))
    assert member[0] <= res.best_fitness
    # saved and loaded as one model, predicting the mean
    model = Model(network=net, task="regression")
    model.save(tmp_path / "m.npz")
    back = Model.load(tmp_path / "m.npz")
    assert back.network.n_networks == 3
    np.testing.assert_allclose(back.predict(Xv)[:, 0], mean)


def test_ensemble_in_mode_bp_averages_restarts():
    res = run(mode="bp", ensemble=4)
    assert res.network.n_networks == 4
    assert len({tuple(np.round(p, 10)) for p in res.network.params}) == 4


def test_ensemble_must_fit_in_the_population():
    with pytest.raises(ValueError, match="'ensemble' parameter of evolve"):
        run(ensemble=11)
    with pytest.raises(ValueError, match="'ensemble' parameter"):
        GABPRegressor(population_size=4, ensemble=5).fit(DATA[0], DATA[1])


def test_estimator_ensemble_predicts_the_mean_of_its_members():
    X, y, Xv, _ = DATA
    reg = GABPRegressor(hidden_layer_sizes=(5,), population_size=6, n_generations=2,
                        max_epochs=20, ensemble=3, random_state=0).fit(X, y)
    assert reg.network_.n_networks == 3
    Xs = reg.input_scaler_.transform(Xv)
    out = reg.network_.forward(Xs).mean(axis=0)
    expected = reg.target_scaler_.inverse_transform(out)[:, 0]
    np.testing.assert_allclose(reg.predict(Xv), expected)


def test_auto_optimizer_is_resolved_once_and_recorded():
    res = run(mode="classic", bp=replace(BP, optimizer="auto"))
    assert res.optimizer not in ("auto", "")
    assert res.config["bp"]["optimizer"] == "auto"


@pytest.mark.parametrize(("optimizer", "dtype"), [("adam", "float32"), ("sgd", "float32"),
                                                  ("lm", "float64"), ("lbfgs", "float64")])
def test_auto_dtype_is_float32_for_mini_batch_optimizers_only(optimizer, dtype, monkeypatch):
    seen = []
    real_train = ga_mod.train

    def spy(net, *args, **kwargs):
        seen.append(net.params.dtype.name)
        return real_train(net, *args, **kwargs)

    monkeypatch.setattr(ga_mod, "train", spy)  # the fine-tune and the baseline
    res = run(mode="baldwinian", bp=replace(BP, optimizer=optimizer), n_baseline=2)
    assert BP.dtype == "auto" and res.config["bp"]["dtype"] == "auto"
    assert res.dtype == dtype
    assert seen and set(seen) == {dtype}
    assert res.network.params.dtype == np.float64  # the delivered model
    pinned = run(mode="baldwinian", bp=replace(BP, optimizer=optimizer, dtype="float64"))
    assert pinned.dtype == "float64"


def test_float32_and_float64_runs_agree_closely():
    """The 'auto' float32 default changes results by rounding, not the model's quality."""
    a = run(mode="lamarckian")
    b = run(mode="lamarckian", bp=replace(BP, dtype="float64"))
    assert (a.dtype, b.dtype) == ("float32", "float64")
    assert abs(a.val_error - b.val_error) <= 1e-3 * max(b.val_error, 1e-12) + 1e-5


@pytest.mark.parametrize("optimizer", ["adam", "lm"])
def test_baseline_budget_is_the_runs_sample_passes(optimizer):
    res = run(mode="baldwinian", n_baseline=2, bp=replace(BP, optimizer=optimizer))
    base = res.baseline
    assert base.budget_sample_passes == res.total_sample_passes
    lb_passes = res.logbook[-1]["sample_passes"]
    assert 0 < lb_passes < res.total_sample_passes  # the fine-tune is counted on top
    assert np.all(base.history.sample_passes <= base.budget_sample_passes)


def test_a_config_whose_lm_system_cannot_fit_is_refused_before_the_folder(tmp_path):
    from gabp.config import ConfigError, training_bytes
    from gabp.experiment import run_experiment
    from gabp.network import Architecture

    cfg = {"data": {"dataset": "digits"}, "network": {"hidden_layer_sizes": [2000]},
           "ga": {"population_size": 4, "n_generations": 1}, "bp": {"optimizer": "lm"},
           "run": {"n_baseline": 0}}
    with pytest.raises(ConfigError, match=r"\[bp\] optimizer.*lbfgs"):
        run_experiment(cfg, out=str(tmp_path), verbose=0)
    assert not any(tmp_path.iterdir())
    arch = Architecture.build((4, 10, 1))
    small, big = (training_bytes(BPConfig(optimizer=o), 40, arch, 500) for o in ("adam", "lm"))
    assert big > small  # the normal equations are counted


def test_estimators_default_to_auto_precision():
    X, y, _, _ = DATA
    reg = GABPRegressor(population_size=4, n_generations=1, optimizer="adam", max_epochs=3,
                        random_state=0).fit(X, y)
    assert reg.dtype == "auto" and reg.result_.dtype == "float32"
    with pytest.raises(ValueError, match=r"'dtype'"):
        GABPRegressor(dtype="float16").fit(X, y)
