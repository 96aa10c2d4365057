"""The GA-BP driver: modes, elitism, determinism, failures, checkpoints, baseline."""

import numpy as np
import pytest
from helpers import logbook_records

from gabp.evolution import BPConfig, GAConfig, evolve, load_checkpoint, score_genomes
from gabp.evolution import problem as problem_mod
from gabp.network import Architecture, init_params


def _data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = X[:, 0] ** 2 + X[:, 1] ** 2 - 0.6  # negative and positive targets
    return X, y


@pytest.fixture(scope="module")
def data():
    X, y = _data(0, 160)
    return X[:120], y[:120], X[120:], y[120:]


SMALL_GA = GAConfig(population_size=12, n_generations=6)
SMALL_BP = BPConfig(optimizer="adam", bp_epochs=2, max_epochs=30, batch_size=16,
                    learning_rate=0.02)


def run(data, **kw):
    X, y, Xv, yv = data
    args = dict(hidden_layer_sizes=(6,), ga=SMALL_GA, bp=SMALL_BP, n_baseline=0, seed=7)
    args.update(kw)
    return evolve(X, y, Xv, yv, **args)


@pytest.mark.parametrize("mode", ["classic", "baldwinian", "lamarckian"])
def test_each_mode_improves_over_initial_population(data, mode):
    res = run(data, mode=mode)
    lb = res.logbook
    assert len(lb) == SMALL_GA.n_generations + 1
    assert lb[-1]["best_so_far"] < lb[0]["error_min"]
    # the final fine-tuned model beats the best individual of the first generation
    assert res.val_error < lb[0]["error_min"]
    assert res.network.n_networks == 1
    assert res.stop_reason == "n_generations"


def test_elitism_makes_best_monotone(data):
    res = run(data, mode="classic", ga=GAConfig(population_size=10, n_generations=10,
                                                 mutation_sigma=0.5, n_elite=1))
    mins = np.array(res.logbook.select("error_min"))
    best = np.array(res.logbook.select("best_so_far"))
    assert np.all(np.diff(mins) <= 0)  # the elite survives with its (deterministic) error
    np.testing.assert_array_equal(mins, best)


def test_only_changed_individuals_are_evaluated(data):
    frozen = GAConfig(population_size=10, n_generations=3, crossover_prob=0.0,
                      mutation_prob=0.0)
    res = run(data, mode="classic", ga=frozen)
    assert res.logbook.select("nevals") == [10, 0, 0, 0]
    res = run(data, mode="classic", ga=GAConfig(population_size=10, n_generations=3,
                                                crossover_prob=0.0, mutation_prob=0.05))
    assert all(0 < n <= 10 - 2 for n in res.logbook.select("nevals")[1:])
    assert res.n_evaluations == sum(res.logbook.select("nevals"))


def test_same_seed_same_result_across_n_jobs(data):
    a = run(data, mode="lamarckian", n_jobs=1, n_baseline=2)
    b = run(data, mode="lamarckian", n_jobs=2, n_baseline=2, parallel_threshold=0)
    assert logbook_records(a.logbook) == logbook_records(b.logbook)
    np.testing.assert_array_equal(a.best_genome, b.best_genome)
    np.testing.assert_array_equal(a.network.params, b.network.params)
    np.testing.assert_array_equal(a.baseline.val_errors, b.baseline.val_errors)
    c = run(data, mode="lamarckian", n_jobs=1, seed=8)
    assert not np.array_equal(a.best_genome, c.best_genome)


def test_baldwinian_keeps_and_lamarckian_writes_back(data):
    X, y, Xv, yv = data
    ga0 = GAConfig(population_size=6, n_generations=0)
    arch = Architecture.build((2, 6, 1))
    bald = run(data, mode="baldwinian", ga=ga0)
    lam = run(data, mode="lamarckian", ga=ga0)
    half = run(data, mode="lamarckian", ga=GAConfig(population_size=40, n_generations=0,
                                                    lamarck_prob=0.5))
    from gabp._seeding import stream
    from gabp.evolution.ga import _INIT

    init = init_params(arch, 6, rng=stream(bald.seed, _INIT))
    np.testing.assert_array_equal(bald.population, init)
    assert not np.any(np.all(lam.population == init, axis=1))
    np.testing.assert_array_equal(bald.errors, lam.errors)  # same fitness either way
    init40 = init_params(arch, 40, rng=stream(half.seed, _INIT))
    kept = np.all(half.population == init40, axis=1).sum()
    assert 8 <= kept <= 32


def test_failed_individuals_get_inf_and_run_goes_on(data, monkeypatch):
    X, y, Xv, yv = data
    arch = Architecture.build((2, 6, 1))
    genomes = init_params(arch, 4, rng=0)
    genomes[1] = np.nan
    settings = {"mode": "classic", "fitness": "mse", "loss": "mse", "bp_epochs": 1,
                "dtype": "float64", "train_kwargs": {}}
    X2, Y2, Xv2, Yv2 = X, y[:, None], Xv, yv[:, None]
    scores = score_genomes(arch.to_dict(), genomes, X2, Y2, Xv2, Yv2, settings, 0)
    err, failed = scores.errors, scores.failed
    assert failed.tolist() == [False, True, False, False]
    assert np.isinf(err[1]) and np.isfinite(err[[0, 2, 3]]).all()
    # classic mode trains nothing: the cost is the fitness forward pass, 0.5 per sample
    np.testing.assert_array_equal(scores.sample_passes, np.full(4, 0.5 * Xv.shape[0]))

    original = problem_mod._score_batch

    def flaky(arch, g, data, settings, seed):  # raises whenever the poisoned genome is in
        if np.any(g[:, 0] == 0.123):
            raise RuntimeError("boom")
        return original(arch, g, data, settings, seed)

    monkeypatch.setattr(problem_mod, "_score_batch", flaky)
    genomes[1] = init_params(arch, 1, rng=1)[0]
    genomes[2, 0] = 0.123
    settings["mode"] = "baldwinian"
    scores = score_genomes(arch.to_dict(), genomes, X2, Y2, Xv2, Yv2, settings, 0)
    steps, trained = scores.n_steps, scores.trained
    assert scores.failed.tolist() == [False, False, True, False]
    assert steps[2] == 0 and steps[0] > 0
    assert scores.sample_passes[2] == 0 and scores.sample_passes[0] > X.shape[0]
    np.testing.assert_array_equal(trained[2], genomes[2])


def test_every_individual_failing_is_a_clear_error(data, monkeypatch):
    def broken(arch, g, data, settings, seed):
        raise FloatingPointError("all broken")

    monkeypatch.setattr(problem_mod, "_score_batch", broken)
    with pytest.raises(RuntimeError, match="Every individual of the initial population failed"):
        run(data, mode="classic", n_jobs=1)


def test_divergent_individuals_are_counted_not_fatal(data):
    # A huge learning rate makes some networks blow up during the per-individual BP.
    bp = BPConfig(bp_epochs=3, max_epochs=5, optimizer="sgd", learning_rate=1.0, batch_size=8)
    res = run(data, mode="baldwinian", bp=bp, hidden_activation="relu",
              ga=GAConfig(population_size=10, n_generations=2, init="uniform", init_range=3.0))
    assert 0 < res.n_failed < res.n_evaluations
    assert sum(res.logbook.select("nfailed")) == res.n_failed
    assert np.isfinite(res.best_fitness)


def test_resume_gives_the_same_result(data, tmp_path):
    ck = tmp_path / "checkpoint.npz"
    full = run(data, mode="lamarckian", n_baseline=1)

    def stop_at_3(state):
        return state.generation == 3

    part = run(data, mode="lamarckian", n_baseline=1, checkpoint_path=ck,
               callbacks=[stop_at_3])
    assert part.stop_reason == "callback" and part.generations == 3
    assert load_checkpoint(ck)["generation"] == 3
    resumed = run(data, mode="lamarckian", n_baseline=1, checkpoint_path=ck, resume=True)
    assert logbook_records(resumed.logbook) == logbook_records(full.logbook)
    np.testing.assert_array_equal(resumed.best_genome, full.best_genome)
    np.testing.assert_array_equal(resumed.network.params, full.network.params)
    assert resumed.total_steps == full.total_steps
    assert resumed.total_sample_passes == full.total_sample_passes
    with pytest.raises(ValueError, match="other settings"):
        run(data, mode="baldwinian", checkpoint_path=ck, resume=True)
    assert not list(tmp_path.glob("*.tmp"))


def test_stopping_rules(data):
    res = run(data, mode="classic", ga=GAConfig(population_size=8, n_generations=50,
                                                target_error=1e9))
    assert res.stop_reason == "target_error" and res.generations == 0
    res = run(data, mode="classic", ga=GAConfig(population_size=8, n_generations=200,
                                                mutation_prob=0.0, crossover_prob=0.0,
                                                stagnation=3))
    assert res.stop_reason == "stagnation" and res.generations == 3
    res = run(data, mode="classic", ga=GAConfig(population_size=8, n_generations=10_000,
                                                max_time=0.3))
    assert res.stop_reason == "max_time" and res.generations < 10_000


def test_baseline_gets_the_same_step_budget(data):
    res = run(data, mode="baldwinian", n_baseline=3)
    base = res.baseline
    assert base.network.n_networks == 3
    assert base.val_errors.shape == (3,)
    assert base.budget_steps >= res.total_steps
    assert base.budget_sample_passes == res.total_sample_passes > 0
    # early stopping may end it sooner, but no restart exceeds the budget
    assert np.all(base.history.n_steps <= base.budget_steps)
    assert np.all(base.history.sample_passes <= base.budget_sample_passes)
    assert len(set(np.round(base.val_errors, 12))) == 3  # different restarts


def test_hall_of_fame_holds_distinct_genomes(data):
    res = run(data, mode="classic", ga=GAConfig(population_size=10, n_generations=4,
                                                hall_of_fame=4))
    hof = res.hall_of_fame
    assert len(hof) == 4
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(hof[i], hof[j])
    np.testing.assert_array_equal(hof[0], res.best_genome)


def test_classic_preset_matches_the_matlab_recipe():
    ga = GAConfig.classic().validate()
    assert (ga.population_size, ga.n_generations) == (40, 50)
    assert (ga.crossover_prob, ga.mutation_prob) == (0.7, 0.01)
    assert ga.n_elite == 2 and ga.bounds == (-0.5, 0.5) and ga.selection == "rank"
    assert GAConfig.from_generation_gap(0.95).n_elite == 2


def test_classic_preset_keeps_weights_in_bounds(data):
    res = run(data, mode="classic", fitness="sae",
              ga=GAConfig.classic(population_size=10, n_generations=3))
    assert res.population.min() >= -0.5 and res.population.max() <= 0.5


def test_classification_with_error_rate_fitness():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    labels = (X[:, 0] + X[:, 1] > 0).astype(int)
    Y = np.eye(2)[labels]
    res = evolve(X[:150], Y[:150], X[150:], Y[150:], hidden_layer_sizes=(4,),
                 output_activation="softmax", loss="cross_entropy", fitness="error_rate",
                 mode="lamarckian", ga=GAConfig(population_size=8, n_generations=3),
                 bp=SMALL_BP, n_baseline=0, seed=0)
    assert res.val_error < 0.15


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "genetic"}, "'mode' parameter of evolve must be one of"),
        ({"fitness": "r2"}, "'fitness' parameter"),
        ({"ga": GAConfig(mutation="polynomial")}, "'bounds' parameter"),
        ({"ga": GAConfig(population_size=4, n_elite=4)}, "'n_elite' parameter"),
        ({"ga": GAConfig(crossover="twopoint")}, "'crossover' parameter"),
        ({"bp": BPConfig(learning_rate=0)}, "'learning_rate' parameter"),
        ({"hidden_layer_sizes": (0,)}, "'hidden_layer_sizes' parameter"),
        ({"loss": "cross_entropy"}, "'softmax' output"),
        ({"fitness": "error_rate"}, "regression error"),
        ({"resume": True}, "'checkpoint_path' parameter"),
    ],
)
def test_bad_settings_are_rejected_before_work(data, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        run(data, **kwargs)


def test_bad_data_is_rejected(data):
    X, y, Xv, yv = data
    with pytest.raises(ValueError, match="'X_val' parameter of evolve must be given"):
        evolve(X, y, hidden_layer_sizes=(3,))
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evolve(Xn, y, Xv, yv)
    with pytest.raises(ValueError, match="same number of rows"):
        evolve(X, y[:-1], Xv, yv)
    with pytest.raises(ValueError, match="2 columns \\(as X\\)"):
        evolve(X, y, np.c_[Xv, Xv[:, :1]], yv)


def test_cheap_generations_stay_in_process_with_the_same_result(data, monkeypatch):
    from gabp.evolution import problem

    calls = []
    original = problem.start_tasks

    def spy(parallel, fn, tasks):
        calls.append(1)
        return original(parallel, fn, tasks)

    monkeypatch.setattr(problem, "start_tasks", spy)
    cheap = run(data, mode="classic", n_jobs=2)  # the cost model: too cheap for the pool
    assert calls == []
    pooled = run(data, mode="classic", n_jobs=2, parallel_threshold=0)
    assert len(calls) == SMALL_GA.n_generations + 1
    np.testing.assert_array_equal(cheap.best_genome, pooled.best_genome)
    assert logbook_records(cheap.logbook) == logbook_records(pooled.logbook)
    with pytest.raises(ValueError, match="'parallel_threshold' parameter"):
        run(data, parallel_threshold=-1)


# ------------------------------------------------------------------- holdout selection

HOLD_GA = GAConfig(population_size=12, n_generations=8, holdout_fraction=0.5)


def test_holdout_delivers_the_generation_best_on_the_held_out_rows(data):
    X, y, Xv, yv = data
    bests = []
    res = run(data, mode="lamarckian", ga=HOLD_GA,
              callbacks=[lambda s: bests.append(s.best_genome.copy()) or False])
    arch = res.network.arch
    n_fit = len(Xv) - round(0.5 * len(Xv))
    # the fitness saw only the first rows; every generation's best was scored on the rest
    on_holdout = problem_mod.fitness_errors(arch, np.array(bests), Xv[n_fit:],
                                            yv[n_fit:, None], metric="loss", loss="mse")
    np.testing.assert_allclose(res.logbook.select("holdout_error"), on_holdout)
    first_best = int(np.argmin(on_holdout))  # the earliest generation among equals
    np.testing.assert_array_equal(res.best_genome, bests[first_best])
    fit = problem_mod.fitness_errors(arch, bests[first_best][None], Xv[:n_fit],
                                     yv[:n_fit, None], metric="loss", loss="mse")
    assert res.best_fitness == pytest.approx(float(fit[0]))
    # without a holdout the same run delivers the best on the fitness rows
    plain = run(data, mode="lamarckian", ga=SMALL_GA)
    assert "holdout_error" not in plain.logbook.header


def test_holdout_patience_stops_the_run_and_resume_is_exact(data, tmp_path):
    ga = GAConfig(population_size=12, n_generations=30, holdout_fraction=0.5,
                  holdout_patience=2)
    full = run(data, mode="lamarckian", ga=ga)
    assert full.stop_reason == "holdout_patience" and full.generations < 30
    errs = np.array(full.logbook.select("holdout_error"))
    assert full.generations - int(np.argmin(errs)) == 2  # two generations without a new best
    ck = tmp_path / "checkpoint.npz"
    part = run(data, mode="lamarckian", ga=ga, checkpoint_path=ck,
               callbacks=[lambda s: s.generation == full.generations - 1])
    assert part.stop_reason == "callback"
    resumed = run(data, mode="lamarckian", ga=ga, checkpoint_path=ck, resume=True)
    assert resumed.stop_reason == "holdout_patience"
    assert logbook_records(resumed.logbook) == logbook_records(full.logbook)
    np.testing.assert_array_equal(resumed.network.params, full.network.params)


def test_holdout_settings_are_checked_before_any_training(data):
    with pytest.raises(ValueError, match="'holdout_fraction'"):
        GAConfig(holdout_fraction=0.95).validate()
    with pytest.raises(ValueError, match="'holdout_patience'"):
        GAConfig(holdout_patience=5).validate()
    with pytest.raises(ValueError, match="Baldwinian"):
        run(data, mode="baldwinian", ga=HOLD_GA)
    with pytest.raises(ValueError, match="without validation data"):
        run(data, mode="lamarckian", ga=HOLD_GA, fitness_on="train")
    X, y, Xv, yv = data
    with pytest.raises(ValueError, match="at least one validation row"):
        run((X, y, Xv[:1], yv[:1]), mode="lamarckian", ga=HOLD_GA)


@pytest.mark.parametrize("lamarck_prob", [1.0, 0.3])
def test_a_float32_population_is_ranked_in_float32_and_its_best_reported_in_float64(
        data, lamarck_prob):
    # the GA scores a float32 population in float32 (the precision it trains in, with its
    # compiled passes); the reported best fitness is the GA's score of the best in float64,
    # the precision of val_error, so the final model is never worse than it. With
    # lamarck_prob < 1 the best may be a genome that was not written back: its score is that
    # of its trained weights, not its own
    X, y, Xv, yv = data
    res = run(data, mode="lamarckian", ga=GAConfig(population_size=12, n_generations=6,
                                                   lamarck_prob=lamarck_prob))
    assert res.dtype == "float32"
    logged = res.logbook[-1]["best_so_far"]
    assert res.best_fitness != logged  # the two precisions really differ here
    assert res.best_fitness == pytest.approx(logged, rel=1e-6)
    assert res.val_error <= res.best_fitness
    if lamarck_prob == 1.0:  # every genome is its trained weights
        arch = res.network.arch
        genome = res.best_genome[None]
        in64 = problem_mod.fitness_errors(arch, genome, Xv, yv[:, None], metric="loss",
                                          loss="mse")[0]
        in32 = problem_mod.fitness_errors(arch, genome.astype(np.float32),
                                          Xv.astype(np.float32),
                                          yv[:, None].astype(np.float32), metric="loss",
                                          loss="mse")[0]
        assert res.best_fitness == in64
        assert logged == pytest.approx(float(in32), rel=1e-6) and logged != in64
