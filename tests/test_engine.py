"""The shared evolution engine (issue 12): one driver for the weights GA and the search,
search runs with checkpoints, exact resume after SIGKILL, data fingerprints."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import logbook_records

from gabp.evolution import GAConfig, evolve, load_checkpoint
from gabp.evolution.engine import (
    LOGBOOK_COLUMNS,
    Checkpointing,
    ElitistGA,
    EngineState,
    data_fingerprint,
    run_evolution,
)
from gabp.search import EvolutionarySearch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = {"n_layers": [1, 2], "units": [2, 8], "learning_rate": [1e-3, 1e-1],
         "max_epochs": 12, "patience": 4}


def _xy(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1]


def _search(**kw):
    kw = {"space": SPACE, "population_size": 6, "n_generations": 5, "random_state": 4,
          "refit": False, **kw}
    return EvolutionarySearch("regression", **kw)


def _same_search(a, b):
    assert logbook_records(a.logbook_) == logbook_records(b.logbook_)
    assert a.best_params_ == b.best_params_ and a.best_score_ == b.best_score_
    assert a.history_ == b.history_
    assert (a.n_trainings_, a.n_cache_hits_, a.n_failed_) == (
        b.n_trainings_, b.n_cache_hits_, b.n_failed_)
    np.testing.assert_array_equal(a.result_.population, b.result_.population)
    assert a.result_.hall_of_fame == b.result_.hall_of_fame


# --- one driver, one logbook ------------------------------------------------------------------

def test_both_producers_share_the_logbook_columns():
    X, y = _xy()
    r = evolve(X[:32], y[:32], X[32:], y[32:], hidden_layer_sizes=(3,), mode="classic",
               ga=GAConfig(population_size=6, n_generations=2), n_baseline=0, seed=0)
    s = _search(n_generations=1).fit(X, y)
    assert tuple(r.logbook.header) == LOGBOOK_COLUMNS
    assert tuple(s.logbook_.header[: len(LOGBOOK_COLUMNS)]) == LOGBOOK_COLUMNS
    assert s.logbook_.header[len(LOGBOOK_COLUMNS):][:2] == ["n_trainings", "n_cache_hits"]
    # every generation's costs are counted, and add up
    assert s.logbook_[-1]["n_steps"] > 0 and s.logbook_[-1]["sample_passes"] > 0
    assert s.result_.sample_passes == s.logbook_[-1]["sample_passes"]
    assert [rec["gen"] for rec in r.logbook] == [0, 1, 2]


class _Sphere:
    """A known-answer problem: minimize sum(x^2) over [-1, 1]^3."""

    stream_keys = (0, 1, 2)
    extra_columns = ()
    all_failed_message = "all failed"

    def initial_population(self, n, rng):
        return rng.uniform(-1, 1, size=(n, 3))

    def evaluate(self, genomes, generation):
        from gabp.evolution.engine import Evaluation

        err = np.sum(genomes**2, axis=1)
        return Evaluation(err, genomes, np.zeros(len(err), bool), 0, float(len(err)))

    def key(self, genome):
        return genome.tobytes()

    def record(self, best):
        return {}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _sphere(ga, **kw):
    from gabp.evolution import make_toolbox

    return run_evolution(_Sphere(), ElitistGA(ga, make_toolbox(ga), (-1.0, 1.0)), ga,
                         entropy=7, config={"ga": ga.to_dict()}, **kw)


def test_driver_minimizes_a_known_problem_and_honours_every_stop_rule():
    ga = GAConfig(population_size=20, n_generations=30, crossover="blend",
                  mutation="gaussian", mutation_sigma=0.1, mutation_prob=0.3,
                  bounds=(-1.0, 1.0))
    state, logbook, stop = _sphere(ga)
    assert isinstance(state, EngineState) and stop == "n_generations"
    assert state.best_error < 0.02 and state.best_error == logbook[-1]["best_so_far"]
    best = [r["best_so_far"] for r in logbook]
    assert best == sorted(best, reverse=True)  # never gets worse (elitism + hall of fame)
    assert _sphere(GAConfig(**{**ga.to_dict(), "target_error": 0.1}))[2] == "target_error"
    assert _sphere(GAConfig(**{**ga.to_dict(), "stagnation": 1}))[2] == "stagnation"
    assert _sphere(GAConfig(**{**ga.to_dict(), "max_time": 1e-9}))[2] == "max_time"
    st, lb, stop = _sphere(ga, callbacks=[lambda s: s.generation == 3])
    assert stop == "callback" and len(lb) == 4 and st.generation == 3


def test_data_fingerprint_sees_values_shapes_and_dtypes():
    a = np.arange(6.0).reshape(2, 3)
    assert data_fingerprint(a, None) == data_fingerprint(a.copy(), None)
    assert data_fingerprint(a) != data_fingerprint(a.reshape(3, 2))
    assert data_fingerprint(a) != data_fingerprint(a.astype(np.float32))
    b = a.copy()
    b[1, 2] += 1e-12
    assert data_fingerprint(a) != data_fingerprint(b)


# --- resume refuses other data ------------------------------------------------------------------

def test_evolve_resume_refuses_changed_data(tmp_path):
    X, y = _xy()
    ck = tmp_path / "ck.npz"
    kw = dict(hidden_layer_sizes=(3,), mode="classic", n_baseline=0, seed=0,
              ga=GAConfig(population_size=4, n_generations=3), checkpoint_path=ck)
    evolve(X[:32], y[:32], X[32:], y[32:], callbacks=[lambda s: s.generation == 1], **kw)
    X2 = X.copy()
    X2[0, 0] += 1.0
    with pytest.raises(ValueError, match="was written for other data"):
        evolve(X2[:32], y[:32], X2[32:], y[32:], resume=True, **kw)
    evolve(X[:32], y[:32], X[32:], y[32:], resume=True, **kw)  # the same data resumes


def test_search_resume_refuses_changed_data_and_settings(tmp_path):
    X, y = _xy()
    ck = tmp_path / "ck.npz"
    _search().fit(X, y, checkpoint_path=ck, callbacks=[lambda s: s.generation == 1])
    with pytest.raises(ValueError, match="was written for other data"):
        _search().fit(X, y + 1.0, checkpoint_path=ck, resume=True)
    with pytest.raises(ValueError, match="other settings"):
        _search(population_size=8).fit(X, y, checkpoint_path=ck, resume=True)
    with pytest.raises(ValueError, match="'checkpoint_path' parameter"):
        _search().fit(X, y, resume=True)


# --- search runs are first-class runs ---------------------------------------------------------

def test_search_checkpoint_resume_gives_the_uninterrupted_result(tmp_path):
    X, y = _xy()
    full = _search().fit(X, y)
    for stop_at in (0, 2, 4):
        ck = tmp_path / f"ck{stop_at}.npz"
        part = _search().fit(X, y, checkpoint_path=ck,
                             callbacks=[lambda s, g=stop_at: s.generation == g])
        assert part.result_.stop_reason == "callback"
        assert load_checkpoint(ck)["generation"] == stop_at
        _same_search(_search().fit(X, y, checkpoint_path=ck, resume=True), full)


def test_multi_objective_search_resumes_exactly(tmp_path):
    X, y = _xy()
    full = _search(multi_objective=True).fit(X, y)
    ck = tmp_path / "ck.npz"
    _search(multi_objective=True).fit(X, y, checkpoint_path=ck,
                                      callbacks=[lambda s: s.generation == 2])
    resumed = _search(multi_objective=True).fit(X, y, checkpoint_path=ck, resume=True)
    _same_search(resumed, full)
    assert resumed.pareto_front_ == full.pareto_front_


def test_search_stops_on_stagnation_target_and_callback():
    X, y = _xy()
    base = dict(population_size=6, n_generations=5, crossover="uniform", mutation="gaussian",
                mutation_sigma=0.2, mutation_prob=0.2, n_elite=2, bounds=(0.0, 1.0))
    s = _search(ga=GAConfig(**base, target_error=1e9)).fit(X, y)
    assert s.result_.stop_reason == "target_error" and len(s.logbook_) == 1
    s = _search(ga=GAConfig(**base, stagnation=1)).fit(X, y)
    assert s.result_.stop_reason == "stagnation" and len(s.logbook_) < 6
    seen = []
    s = _search().fit(X, y, callbacks=[lambda st: seen.append(st.record["gen"]) or False])
    assert seen == list(range(6)) and s.result_.stop_reason == "n_generations"


_KILLER = """
import os, signal, sys
import numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from test_engine import _search, _xy
from gabp.search import ga as search_ga

gen, where = {gen}, {where!r}
original = search_ga.HyperparameterProblem.evaluate
def evaluate(self, genomes, generation):
    if where == "evaluating" and generation == gen:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, genomes, generation)
search_ga.HyperparameterProblem.evaluate = evaluate
def cb(state):
    if where == "after_checkpoint" and state.generation == gen:
        os.kill(os.getpid(), signal.SIGKILL)
X, y = _xy()
_search(multi_objective={mo}).fit(X, y, checkpoint_path={ck!r}, callbacks=[cb])
"""


@pytest.mark.parametrize("multi_objective", [False, True])
def test_search_killed_with_sigkill_at_random_points_resumes_exactly(tmp_path,
                                                                     multi_objective):
    X, y = _xy()
    full = _search(multi_objective=multi_objective).fit(X, y)
    rng = np.random.default_rng(12 + multi_objective)
    ck = str(tmp_path / "ck.npz")
    # kill, resume-and-kill again later, ..., then resume to the end
    points = sorted(set(int(g) for g in rng.integers(1, 5, size=2)))
    for i, gen in enumerate(points):
        where = ("evaluating", "after_checkpoint")[int(rng.integers(2))]
        script = _KILLER.format(root=ROOT, tests=os.path.join(ROOT, "tests"), gen=gen,
                                where=where, ck=ck, mo=multi_objective)
        if i:  # a resumed run can be killed too
            script = script.replace("callbacks=[cb])", "callbacks=[cb], resume=True)")
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        done = load_checkpoint(ck)["generation"]
        assert done == (gen if where == "after_checkpoint" else gen - 1)
    resumed = _search(multi_objective=multi_objective).fit(X, y, checkpoint_path=ck,
                                                           resume=True)
    _same_search(resumed, full)


def test_search_results_do_not_depend_on_n_jobs_with_checkpointing(tmp_path):
    X, y = _xy()
    one = _search(n_jobs=1).fit(X, y, checkpoint_path=tmp_path / "a.npz")
    two = _search(n_jobs=2).fit(X, y, checkpoint_path=tmp_path / "b.npz")
    _same_search(one, two)


def test_checkpointing_changes_nothing():
    X, y = _xy()
    _same_search(_search().fit(X, y), _search().fit(X, y, checkpoint_path=None))


def test_checkpoint_every_n_generations(tmp_path):
    X, y = _xy()
    ck = tmp_path / "ck.npz"
    _search().fit(X, y, checkpoint_path=ck, checkpoint_every=2,
                  callbacks=[lambda s: s.generation == 3])
    assert load_checkpoint(ck)["generation"] == 2


def test_driver_rejects_a_checkpoint_of_another_run(tmp_path):
    ga = GAConfig(population_size=6, n_generations=3)
    ck = str(tmp_path / "ck.npz")
    _sphere(ga, checkpoint=Checkpointing(ck, 1, False))
    other = GAConfig(population_size=6, n_generations=4)
    with pytest.raises(ValueError, match="other settings"):
        _sphere(other, checkpoint=Checkpointing(ck, 1, True))


# --- [search] run folders ------------------------------------------------------------------------

SEARCH_RUN = {"seed": 0, "data": {"dataset": "iris"},
              "run": {"n_baseline": 2, "report": False, "checkpoint_every": 1},
              "search": {"population_size": 4, "n_generations": 3, "fitness": "error_rate",
                         "space": {"n_layers": 1, "units": [3, 8], "max_epochs": 15,
                                   "activation": ["tanh", "relu"]}}}


def _stable(metrics):
    return {k: v for k, v in metrics.items() if k not in ("schema_version",)}


def test_search_run_interrupted_then_resumed_equals_the_uninterrupted_run(tmp_path):
    from gabp.experiment import resume_experiment, run_experiment
    from gabp.runs import RunInterrupted

    full = run_experiment(SEARCH_RUN, out=tmp_path / "a", verbose=0)

    def interrupt(state):
        if state.generation == 1:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as info:
        run_experiment(SEARCH_RUN, out=tmp_path / "b", verbose=0, callbacks=[interrupt])
    assert info.value.generation == 1
    resumed = resume_experiment(info.value.path, verbose=0)
    assert resumed.meta["resumed"] and resumed.metrics["stop_reason"] == "n_generations"
    assert _stable(resumed.metrics) == _stable(full.metrics)
    assert [{k: v for k, v in r.items() if k != "elapsed"} for r in resumed.logbook] == [
        {k: v for k, v in r.items() if k != "elapsed"} for r in full.logbook]


def test_search_run_has_a_plain_bp_baseline_at_the_searchs_budget(tmp_path):
    from gabp.experiment import run_experiment

    run = run_experiment(SEARCH_RUN, out=tmp_path, verbose=0)
    base = run.metrics["baseline"]
    assert base["n_restarts"] == 2 and base["configuration"] == run.metrics["best_params"]
    total = run.logbook[-1]["sample_passes"]
    assert base["budget_sample_passes"] > total > 0  # the search plus the refit
    assert all(p <= 1.01 * base["budget_sample_passes"] for p in base["sample_passes"])
    assert set(base["mean"]) == set(run.metrics["gabp"])
    assert "baseline_pred" in run.predictions[0]


def test_restored_hall_of_fame_keeps_the_order_of_ties():
    from gabp.evolution.engine import _hall_of_fame

    genomes = np.arange(9.0).reshape(3, 3)
    state = EngineState(genomes, np.ones(3), np.ones(3), genomes, np.array([1.0, 1.0, 2.0]))
    hof = _hall_of_fame(state, _Sphere(), 3)
    np.testing.assert_array_equal(np.array([np.asarray(i) for i in hof]), genomes)


# --- self-contained run folders and the metrics schema ----------------------------------------

def _csv_run(tmp_path, report=True):
    from gabp.experiment import run_experiment

    X = np.random.default_rng(0).uniform(-1, 1, (60, 2))
    table = np.column_stack([X, X[:, 0] - 2 * X[:, 1]])
    np.savetxt(tmp_path / "d.csv", table, delimiter=",", header="a,b,target", comments="")
    (tmp_path / "c.toml").write_text(
        '[data]\ncsv = "d.csv"\ntarget = "target"\n[network]\nhidden_layer_sizes = [3]\n'
        '[ga]\npopulation_size = 4\nn_generations = 1\n[bp]\nmax_epochs = 10\n'
        f'[run]\nn_baseline = 1\nreport = {"true" if report else "false"}\n')
    return run_experiment(tmp_path / "c.toml", out=tmp_path / "runs", verbose=0)


def test_a_moved_run_folder_without_its_csv_still_reports_predicts_and_compares(
        tmp_path, monkeypatch, capsys):
    import shutil

    from gabp.cli import main
    from gabp.runs import load_run

    run = _csv_run(tmp_path, report=False)
    moved = tmp_path / "elsewhere" / "r"
    shutil.move(run.path, moved)
    os.remove(tmp_path / "d.csv")
    monkeypatch.chdir(tmp_path)
    back = load_run(moved)
    assert back.metrics == run.metrics and back.config["data"]["target"] == "target"
    assert main(["report", str(moved)]) == 0
    (tmp_path / "new.csv").write_text("a,b\n0.5,0.25\n")
    assert main(["predict", str(moved), "new.csv", "-o", "p.csv"]) == 0
    assert (tmp_path / "p.csv").is_file()
    assert main(["compare", str(moved)]) == 0
    capsys.readouterr()


def test_metrics_json_has_a_schema_version_and_readers_check_it(tmp_path):
    import json

    from gabp.runs import METRICS_SCHEMA_VERSION, load_run, read_metrics

    run = _csv_run(tmp_path, report=False)
    path = os.path.join(run.path, "metrics.json")
    assert run.metrics["schema_version"] == METRICS_SCHEMA_VERSION
    m = json.load(open(path))
    m["schema_version"] = METRICS_SCHEMA_VERSION + 1
    with open(path, "w") as fh:
        json.dump(m, fh)
    with pytest.raises(ValueError, match="newer gabp"):
        read_metrics(path)
    del m["schema_version"]  # folders written before the schema existed still read
    with open(path, "w") as fh:
        json.dump(m, fh)
    assert load_run(run.path).metrics["schema_version"] == 0


def test_old_style_search_callbacks_still_work_with_a_deprecation_warning():
    X, y = _xy()
    with pytest.warns(DeprecationWarning, match="state.record"):
        s = _search().fit(X, y, callbacks=[lambda rec: rec["gen"] == 1])
    assert s.result_.stop_reason == "callback" and len(s.logbook_) == 2


def test_nsga2_tell_keeps_the_first_front_and_ranks_it_first():
    from gabp.evolution import make_toolbox
    from gabp.evolution.engine import NSGA2

    ga = GAConfig(population_size=4, n_generations=1, n_elite=0, bounds=(0.0, 1.0))
    size = {0: 1.0, 1: 2.0, 2: 3.0, 3: 1.0, 4: 5.0, 5: 0.5, 6: 9.0, 7: 2.0}
    strategy = NSGA2(ga, make_toolbox(ga), (0.0, 1.0),
                     lambda g: np.array([size[int(r[0])] for r in g]))
    parents = np.arange(4.0).reshape(4, 1)
    state = EngineState(parents, np.array([1.0, 0.5, 0.2, 3.0]), np.zeros(4),
                        np.zeros((0, 1)), np.zeros(0), generation=1)
    offspring = np.arange(4.0, 8.0).reshape(4, 1)
    # (error, size): 0 (1,1) 1 (.5,2) 2 (.2,3) 3 (3,1) 4 (2,5) 5 (4,.5) 6 (.1,9) 7 (np.inf,2)
    strategy.tell(state, offspring, np.array([2.0, 4.0, 0.1, np.inf]))
    # first front: 0, 1, 2, 5, 6 (five points for four places: crowding drops an inner one)
    kept = set(state.population[:, 0].astype(int))
    assert kept <= {0, 1, 2, 5, 6} and len(kept) == 4 and {5, 6} <= kept
    np.testing.assert_array_equal(state.rank, np.arange(4.0))
