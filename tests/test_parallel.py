"""Process parallelism: balanced chunks, the measured cost model, pool vs in-process results."""

import logging
import os

import numpy as np
import pytest
from helpers import logbook_records
from joblib import Parallel, parallel_config

from gabp import _parallel
from gabp._parallel import PoolCostModel, balanced_chunks, shipped_bytes
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.evolution import problem as problem_mod
from gabp.evolution.problem import ChunkedScorer
from gabp.network import Architecture, init_params

GA = GAConfig(population_size=10, n_generations=3)
BP = BPConfig(optimizer="adam", bp_epochs=2, max_epochs=10, batch_size=16, learning_rate=0.02)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (140, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    return X[:100], y[:100], X[100:], y[100:]


def _run(data, **kw):
    X, y, Xv, yv = data
    args = dict(hidden_layer_sizes=(5,), ga=GA, bp=BP, n_baseline=0, seed=11)
    args.update(kw)
    return evolve(X, y, Xv, yv, **args)


@pytest.fixture
def tasks(monkeypatch):
    """Counts the tasks each pool generation of the scorer starts."""
    sent = []
    original = problem_mod.start_tasks

    def spy(parallel, fn, calls):
        sent.append(len(calls))
        return original(parallel, fn, calls)

    monkeypatch.setattr(problem_mod, "start_tasks", spy)
    return sent


def test_balanced_chunks_cover_everything_with_sizes_within_one():
    assert [len(c) for c in balanced_chunks(11, 4)] == [3, 3, 3, 2]
    assert [len(c) for c in balanced_chunks(3, 8)] == [1, 1, 1]
    assert [len(c) for c in balanced_chunks(5, 1)] == [5]
    np.testing.assert_array_equal(np.concatenate(balanced_chunks(37, 6)), np.arange(37))
    # the parent's (last) chunk takes the individuals it scores during a round trip
    assert [len(c) for c in balanced_chunks(100, 2, lead=10)] == [45, 55]
    assert [len(c) for c in balanced_chunks(10, 3, lead=50)] == [3, 3, 4]  # capped
    # a parent slower than its workers takes fewer; every chunk keeps at least one
    assert [len(c) for c in balanced_chunks(100, 2, lead=-10)] == [55, 45]
    assert [len(c) for c in balanced_chunks(10, 3, lead=-50)] == [5, 4, 1]
    assert [len(c) for c in balanced_chunks(2, 2, lead=-5)] == [1, 1]
    np.testing.assert_array_equal(np.concatenate(balanced_chunks(41, 3, lead=-7)), np.arange(41))
    np.testing.assert_array_equal(np.concatenate(balanced_chunks(41, 3, lead=7)), np.arange(41))


def test_lead_is_the_round_trip_in_individuals():
    model = PoolCostModel(2)
    assert model.lead() == 0  # nothing measured
    model.observe_local(1.0, 400)  # 2.5 ms per individual
    model.per_call = 0.01  # a 10 ms round trip
    assert model.lead() == 4


def test_lead_follows_the_measured_balance_after_the_warm_up():
    model = PoolCostModel(2)
    model.observe_local(1.0, 400)
    model.per_call = 0.01
    for _ in range(2):  # the first two pool generations (warming workers): not used
        model.observe_pool(0.5, 400)
        model.observe_balance(4, 0.2, 2.5e-3)
    assert model.lead() == 4
    for lateness in (50e-3, 5e-3):  # fewer than three measured: one outlier must not steer
        model.observe_pool(0.5, 400)
        model.observe_balance(4, lateness, 2.5e-3)
        assert model.lead() == 4
    model.observe_pool(0.5, 400)
    model.observe_balance(4, 4e-3, 2.5e-3)  # the last worker came 50, 5 and 4 ms late
    assert model.lead() == 4 + 2  # the median: 5 ms = two individuals more for the parent
    for _ in range(3):  # the workers finished 30 ms early: the parent's share shrinks,
        model.observe_balance(6, -30e-3, 2.5e-3)  # below an equal split (a slower parent)
    assert model.lead() == 6 - 12


def test_shipped_bytes_count_genomes_both_ways_and_small_data_per_task():
    genomes = np.zeros((10, 50))  # 4,000 bytes
    small, big = np.zeros(100), np.zeros(200_000)  # 800 bytes pickled, 1.6 MB memory-mapped
    # n_workers = 2: one task of two carries half the genomes, out and back
    assert shipped_bytes(genomes, True, (small, big), 1) == 4_000 + 800
    assert shipped_bytes(genomes, False, (small, big), 1) == 2_000 + 800
    assert shipped_bytes(genomes, True, (small,), 3) == 3 * 8_000 // 4 + 3 * 800
    # resident data (written once per run) is not shipped with the tasks
    assert shipped_bytes(genomes, True, (small, big), 1, resident=True) == 4_000


def test_cost_model_keeps_light_generations_in_process(monkeypatch):
    monkeypatch.setattr(_parallel, "_last_used", {2: _parallel.time.monotonic()})  # warm
    model = PoolCostModel(2, n_generations=50)
    assert not model.use_pool(40, 10_000, 1)  # nothing measured yet
    model.observe_local(0.002, 40)  # 2 ms per generation: a task round trip costs more
    assert not model.use_pool(40, 10_000, 1)
    model = PoolCostModel(2, n_generations=50)
    model.observe_local(2.0, 40)  # 2 s per generation: halving it pays
    assert model.use_pool(40, 10_000, 1)
    local, pool = model.predict(40, 10_000)
    assert local == pytest.approx(2.0)
    assert pool == pytest.approx(1.0 + _parallel.PER_CALL_PRIOR + 1e-9 * 10_000)


def test_cost_model_pays_for_the_start_only_with_enough_generations_left(monkeypatch):
    monkeypatch.setattr(_parallel, "_last_used", {})  # cold pool
    monkeypatch.setattr(_parallel, "_measured_start", [1.0])
    model = PoolCostModel(2, n_generations=20)
    model.observe_local(0.3, 30)  # saves ~0.14 s per generation
    # trying costs the 1 s start + the probe (30 ms) + a warm-up generation (0.3 s)
    assert model.start_cost(0.3) == pytest.approx(1.0 + 3 * _parallel.PER_CALL_PRIOR + 0.3)
    assert model.use_pool(30, 0, 1)  # 20 generations x 0.14 s > 1.33 s
    assert not model.use_pool(30, 0, 12)  # 9 left: 1.26 s < 1.33 s
    assert not PoolCostModel(2, n_generations=None, min_seconds=0.0).use_pool(30, 0, 1)


def test_cost_model_hands_back_a_pool_that_stopped_paying(monkeypatch):
    monkeypatch.setattr(_parallel, "_last_used", {2: _parallel.time.monotonic()})
    model = PoolCostModel(2, n_generations=20)
    model.observe_local(1.0, 20)
    model.per_call, model.per_byte = 0.01, 0.0
    model.observe_pool(3.0, 20)  # the first pool generation (a warm-up) is not used
    assert model.use_pool(20, 0, 2)
    model.observe_pool(0.55, 20)
    assert model.use_pool(20, 0, 3)
    model.observe_pool(0.99, 20)
    model.observe_pool(0.99, 20)  # a busier machine: the pool no longer wins by 5 %
    assert not model.use_pool(20, 0, 4)
    assert model.predict(20, 0)[1] == pytest.approx(0.99)  # the median of the last three
    assert PoolCostModel(2, min_seconds=5.0).use_pool(20, 0, 1) is False


def test_a_narrow_pool_win_is_rechecked_in_process(monkeypatch):
    monkeypatch.setattr(_parallel, "_last_used", {2: _parallel.time.monotonic()})
    model = PoolCostModel(2, n_generations=50)
    model.observe_local(1.0, 20)
    model.per_call, model.per_byte = 0.01, 0.0
    choices = []
    for gen in range(1, 11):
        use = model.use_pool(20, 0, gen)
        choices.append(use)
        model.observe_pool(0.85, 20) if use else model.observe_local(1.0, 20)
    # wins by 15 %: every fifth generation refreshes the in-process time
    assert choices == [True] * 4 + [False] + [True] * 4 + [False]
    for gen in range(20, 30):  # a clear win (2x) is never interrupted
        model.observe_pool(0.5, 20)
        assert model.use_pool(20, 0, gen)


def test_probe_measures_the_pool_round_trip():
    model = PoolCostModel(2)
    with Parallel(n_jobs=2) as parallel:
        model.probe(parallel, np.zeros((5, 100)))
    assert model.per_call > 0 and model.per_byte >= 0
    assert model.start_cost() == 0.0  # probed and warm


@pytest.mark.parametrize("mode", ["classic", "baldwinian", "lamarckian"])
def test_pool_and_in_process_give_identical_results(data, mode, tasks):
    local = _run(data, mode=mode, n_jobs=1)
    assert tasks == []
    pooled = _run(data, mode=mode, n_jobs=2, parallel_threshold=0)
    # every generation went to the pool: one chunk sent, the parent scored the other
    assert tasks == [1] * (GA.n_generations + 1)
    assert (local.pool_generations, pooled.pool_generations) == (0, GA.n_generations + 1)
    np.testing.assert_array_equal(local.best_genome, pooled.best_genome)
    np.testing.assert_array_equal(local.population, pooled.population)
    np.testing.assert_array_equal(local.network.params, pooled.network.params)
    assert logbook_records(local.logbook) == logbook_records(pooled.logbook)


def test_cost_model_path_gives_the_same_result_whichever_way_it_chooses(data, monkeypatch,
                                                                        tasks):
    monkeypatch.setattr(PoolCostModel, "use_pool", lambda self, n, b, gen: gen in (1, 2))
    monkeypatch.setattr(PoolCostModel, "probe", lambda self, *a: None)
    mixed = _run(data, mode="lamarckian", n_jobs=2)
    assert tasks == [1, 1]  # generations 1 and 2 were shared with the pool
    ref = _run(data, mode="lamarckian", n_jobs=1)
    np.testing.assert_array_equal(mixed.network.params, ref.network.params)
    assert logbook_records(mixed.logbook) == logbook_records(ref.logbook)


def _fails(*args):
    raise RuntimeError("worker lost")


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_an_error_in_the_pool_reaches_the_caller(data, monkeypatch, backend):
    # an exception outside score_genomes' own per-individual isolation (a lost worker)
    monkeypatch.setattr(problem_mod, "score_genomes", _fails)
    with parallel_config(backend=backend), pytest.raises(RuntimeError, match="worker lost"):
        _run(data, mode="classic", n_jobs=2, parallel_threshold=0)


_score_genomes = problem_mod.score_genomes


def _dies_in_a_worker(*args):
    import multiprocessing

    if multiprocessing.parent_process() is not None:  # a loky worker: die as if killed
        os._exit(1)
    return _score_genomes(*args)


def test_a_dead_worker_does_not_kill_the_run(data, monkeypatch, caplog):
    ref = _run(data, mode="lamarckian", n_jobs=1)
    monkeypatch.setattr(problem_mod, "score_genomes", _dies_in_a_worker)
    with caplog.at_level(logging.WARNING, logger="gabp.evolution.problem"):
        res = _run(data, mode="lamarckian", n_jobs=2, parallel_threshold=0)
    # one warning: after the first failure the run stays in-process
    assert sum("worker pool failed" in r.getMessage() for r in caplog.records) == 1
    np.testing.assert_array_equal(res.network.params, ref.network.params)
    assert logbook_records(res.logbook) == logbook_records(ref.logbook)


def test_loky_tasks_are_futures_of_the_open_context_and_other_backends_use_parallel():
    # the futures path relies on joblib internals: if a joblib release moves them, this
    # fails (the fallback would keep results right but bring back Parallel's 10 ms polling)
    with Parallel(n_jobs=2) as parallel:
        assert _parallel._loky_futures(parallel) is not None
        assert _parallel.start_tasks(parallel, abs, [(-1,), (-2.5,)])() == [1, 2.5]
        big = np.arange(300_000.0)  # above joblib's 1 MB: memory-mapped into the context
        assert _parallel.start_tasks(parallel, np.sum, [(big,)])() == [big.sum()]
    with parallel_config(backend="threading"), Parallel(n_jobs=2) as parallel:
        assert _parallel._loky_futures(parallel) is None
        assert _parallel.start_tasks(parallel, abs, [(-3,)])() == [3]
    lazy = _parallel.LazyParallel(2)
    with lazy:
        assert _parallel.start_tasks(lazy, abs, [(-4,)])() == [4]
        assert lazy.opened


def test_resident_data_of_a_killed_run_is_cleaned_up(tmp_path):
    # files in /dev/shm hold memory until deleted: a run that dies without closing its
    # context must not leave them behind (loky's resource tracker deletes the folder)
    import subprocess
    import sys
    import time

    code = (
        "import os, sys, numpy as np\n"
        "from gabp._parallel import LazyParallel\n"
        "lazy = LazyParallel(2).__enter__()\n"
        "lazy.resident((np.arange(10.0),))\n"
        "print(lazy._folder, flush=True)\n"
        "os._exit(1)\n"  # killed: no __exit__, no atexit
    )
    env = {**os.environ, "JOBLIB_TEMP_FOLDER": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    folder = out.stdout.strip().splitlines()[-1]
    assert folder.startswith(str(tmp_path))
    deadline = time.monotonic() + 30
    while os.path.exists(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(folder)


def test_resident_data_is_written_once_and_deleted_with_the_context():
    X, y = np.arange(12.0).reshape(4, 3), np.arange(4)
    with _parallel.LazyParallel(2) as lazy:
        rX, ry, none = lazy.resident((X, y, None))
        assert isinstance(rX, np.memmap) and isinstance(ry, np.memmap) and none is None
        np.testing.assert_array_equal(rX, X)
        assert lazy.resident((X, y))[0] is rX  # the same array: the same file
        folder = lazy._folder
        assert sorted(os.listdir(folder)) == ["0.npy", "1.npy"]
        # a task sees the data (sent as a file reference, whatever its size)
        assert _parallel.start_tasks(lazy, np.sum, [(rX,)])() == [X.sum()]
    assert not os.path.exists(folder)
    with parallel_config(backend="threading"), _parallel.LazyParallel(2) as lazy:
        assert lazy.resident((X,))[0] is X  # no process pool: nothing to write


def test_scorer_probes_once_then_follows_the_model(monkeypatch):
    arch = Architecture.build((3, 4, 1))
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 1))
    settings = {"mode": "classic", "fitness": "loss", "loss": "mse", "bp_epochs": 1,
                "dtype": "float64", "train_kwargs": BP.train_kwargs()}
    probes = []
    monkeypatch.setattr(PoolCostModel, "probe", lambda self, par, payload: probes.append(
        payload.shape))
    monkeypatch.setattr(PoolCostModel, "use_pool", lambda self, *a: True)
    genomes = init_params(arch, 9, rng=0)
    with Parallel(n_jobs=2) as parallel:
        scorer = ChunkedScorer(parallel, 2, arch, (X, Y, X, Y), settings)
        first = scorer(genomes, 0, 0)
        second = scorer(genomes, 0, 1)
    assert probes == [(5, genomes.shape[1])]  # one probe, with a chunk-sized payload
    assert scorer.pooled == [True, True]
    direct = problem_mod.score_genomes(arch.to_dict(), genomes, X, Y, X, Y, settings, 0)
    np.testing.assert_array_equal(first.errors, direct.errors)
    np.testing.assert_array_equal(second.errors, direct.errors)


def test_parallel_threshold_is_validated(data):
    with pytest.raises(ValueError, match="'parallel_threshold' parameter"):
        _run(data, parallel_threshold=-0.5)


def test_search_groups_are_dispatched_costliest_first_and_mapped_back(monkeypatch):
    from gabp.search import evaluate

    seen = []

    def fake_train_group(hidden, settings, lr, mu, al, seeds, shuffle, X, Y, Xv, Yv, unscale):
        seen.append(hidden)
        P = len(seeds)
        return (np.full(P, float(sum(hidden))), np.zeros(P, dtype=np.int64),
                np.zeros(P, dtype=np.int64), np.zeros(P))

    monkeypatch.setattr(evaluate, "train_group", fake_train_group)
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(50, 3)), rng.normal(size=(50, 1)), rng.normal(size=(10, 3)),
            rng.normal(size=(10, 1)), np.ones(1))
    base = {"activation": "tanh", "optimizer": "adam", "batch_size": 16, "max_epochs": 10,
            "patience": 5, "learning_rate": 0.01, "alpha": 0.0}
    configs = [{**base, "hidden_layer_sizes": h} for h in [(2,), (40, 40), (8,), (40, 40)]]
    configs[3] = {**configs[3], "learning_rate": 0.02}  # same group as configs[1]

    def key(c):
        return tuple(sorted((k, v) for k, v in c.items()))

    with Parallel(n_jobs=1) as par:
        ev = evaluate.Evaluator(lambda n_lags, fold: data, {"output_activation": "identity",
                                                           "loss": "mse", "fitness": "loss"},
                                n_folds=1, n_repeats=1, entropy=0, parallel=par, key=key)
        errors = ev(configs)
    assert seen == [(40, 40), (8,), (2,)]  # by networks x work per sample x rows x epochs
    np.testing.assert_array_equal(errors, [2.0, 80.0, 8.0, 80.0])


def test_a_run_that_never_uses_the_pool_never_opens_it(data, monkeypatch):
    opened = []
    original = Parallel.__enter__

    def spy(self):
        opened.append(1)
        return original(self)

    monkeypatch.setattr(Parallel, "__enter__", spy)
    _run(data, mode="classic", n_jobs=2)  # generations of a few ms: in-process
    assert opened == []
    _run(data, mode="classic", n_jobs=2, parallel_threshold=0)
    assert opened == [1]  # one pool for the whole run


def test_fitness_in_network_chunks_equals_one_pass(monkeypatch):
    from gabp.evolution.problem import fitness_errors

    arch = Architecture.build((3, 7, 2), output_activation="softmax")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3))
    Y = np.eye(2)[rng.integers(0, 2, 50)]
    params = init_params(arch, 9, rng=1)
    whole = {m: fitness_errors(arch, params, X, Y, metric=m, loss="cross_entropy")
             for m in ("loss", "rmse", "error_rate")}
    # one network's pass over 50 samples: 2 x (7 + 2) x 50 x 8 = 7,200 bytes -> 2 per chunk
    monkeypatch.setattr(problem_mod, "FITNESS_CHUNK_BYTES", 15_000)
    assert problem_mod._networks_per_chunk(arch, 50, 8) == 2
    for m, ref in whole.items():
        np.testing.assert_array_equal(
            fitness_errors(arch, params, X, Y, metric=m, loss="cross_entropy"), ref)


@pytest.mark.parametrize("mode", ["classic", "lamarckian"])
def test_classification_fitness_does_not_depend_on_the_chunks(mode):
    # cross-entropy's per-network sums used to be BLAS matrix-vector products, whose rounding
    # depends on a row's position in the batch: scoring in chunks changed the last bits
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = np.eye(2)[(X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)]
    kw = dict(hidden_layer_sizes=(6,), output_activation="softmax", loss="cross_entropy",
              mode=mode, ga=GAConfig(population_size=13, n_generations=3),
              bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=3), n_baseline=0, seed=1)
    one = evolve(X[:150], Y[:150], X[150:], Y[150:], n_jobs=1, **kw)
    two = evolve(X[:150], Y[:150], X[150:], Y[150:], n_jobs=2, parallel_threshold=0, **kw)
    np.testing.assert_array_equal(one.errors, two.errors)
    np.testing.assert_array_equal(one.network.params, two.network.params)
    assert logbook_records(one.logbook) == logbook_records(two.logbook)


def _describe(a):
    return type(a).__name__, getattr(a, "filename", None), float(np.sum(a))


def _slow_abs(x):
    import time

    time.sleep(0.3)
    return abs(x)


def _raises(message):
    raise KeyError(message)


def test_lazy_parallel_tasks_go_over_links_and_resident_data_crosses_as_its_file():
    import concurrent.futures

    X, small = np.arange(12.0).reshape(4, 3), np.arange(5.0)
    with _parallel.LazyParallel(2) as lazy:
        links = lazy.links(1)
        assert links is not None and len(links) == 1
        rX, = lazy.resident((X,))
        kind, name, total = _parallel.start_tasks(lazy, _describe, [(rX,)])()[0]
        # the worker opened the resident file itself: no copy of the data crossed
        assert (kind, name, total) == ("memmap", rX.filename, X.sum())
        assert _parallel.start_tasks(lazy, _describe, [(small,)])()[0] == (
            "ndarray", None, small.sum())
        # a result never waited for (the caller failed in between) is skipped
        _parallel.start_tasks(lazy, _slow_abs, [(-1,)])
        assert _parallel.start_tasks(lazy, abs, [(-5,)])() == [5]
        # a task's exception is raised in the caller, with the worker's traceback noted
        wait = _parallel.start_tasks(lazy, _raises, [("no such key",)])
        with pytest.raises(KeyError, match="no such key") as err:
            wait()
        assert "_raises" in "".join(getattr(err.value, "__notes__", []))
        assert lazy.links(1) is links  # one set of links for the whole context
        served = list(links._futures)
    # closing the context ends the links' tasks: the workers are free again
    done, _ = concurrent.futures.wait(served, timeout=30)
    assert len(done) == len(served)
    with parallel_config(backend="threading"), _parallel.LazyParallel(2) as lazy:
        assert lazy.links(1) is None
        assert _parallel.start_tasks(lazy, abs, [(-3,)])() == [3]


def test_links_that_cannot_connect_leave_the_tasks_to_the_executor(monkeypatch, caplog):
    from gabp import _links

    def never(address, token):  # a worker that cannot reach the parent's socket
        return None

    monkeypatch.setattr(_links, "serve", never)
    with caplog.at_level(logging.WARNING, logger="gabp._parallel"), \
            _parallel.LazyParallel(2) as lazy:
        assert lazy.links(1) is None
        assert _parallel.start_tasks(lazy, abs, [(-2,)])() == [2]
        assert lazy.links(1) is None  # not tried again
    assert sum("could not link" in r.getMessage() for r in caplog.records) == 1


def test_the_cost_model_starts_from_the_path_the_tasks_will_take():
    arch = Architecture.build((3, 4, 1))
    data = (np.zeros((5, 3)), np.zeros((5, 1)), np.zeros((5, 3)), np.zeros((5, 1)))
    settings = {"mode": "classic"}
    lazy = _parallel.LazyParallel(2)
    assert _parallel.pool_paths(lazy) == (True, _parallel.links_available())
    scorer = ChunkedScorer(lazy, 2, arch, data, settings)
    assert scorer.resident and not lazy.opened  # judged without opening the pool
    assert scorer.model.per_call_prior == _parallel.LINK_CALL_PRIOR
    with parallel_config(backend="threading"):
        assert _parallel.pool_paths(lazy) == (False, False)
        scorer = ChunkedScorer(lazy, 2, arch, data, settings)
        assert not scorer.resident
        assert scorer.model.per_call_prior == _parallel.PER_CALL_PRIOR
    assert _parallel.pool_paths(Parallel(n_jobs=2)) == (False, False)


def test_the_report_says_how_much_the_pool_took():
    from gabp.report import _pool_text

    assert _pool_text({"pool_generations": 0, "mode": "lamarckian"}, 1) == ""
    assert "in-process" in _pool_text({"pool_generations": 0, "mode": "lamarckian"}, 2)
    assert _pool_text({"pool_generations": 7, "mode": "classic"}, -1) == (
        " (the worker pool shared 7 generations)")
    assert _pool_text({"mode": "lamarckian"}, 2) == ""  # a run folder from before


def test_links_that_cannot_open_a_socket_leave_the_tasks_to_the_executor(monkeypatch):
    from gabp import _links

    def no_socket(*args, **kwargs):
        raise PermissionError("sockets are not allowed here")

    monkeypatch.setattr(_links.socket, "socket", no_socket)
    with _parallel.LazyParallel(2) as lazy:
        assert lazy.links(1) is None
        assert _parallel.start_tasks(lazy, abs, [(-6,)])() == [6]
