"""The same evolution on a local Dask cluster (2 worker processes on loopback)."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from joblib import parallel_config  # noqa: E402

from gabp.evolution import BPConfig, GAConfig, evolve  # noqa: E402


def test_dask_backend_gives_the_same_result():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (100, 3))
    y = np.sin(X).sum(axis=1)
    kw = dict(hidden_layer_sizes=(5,), mode="lamarckian", n_baseline=0, seed=3,
              ga=GAConfig(population_size=8, n_generations=2),
              bp=BPConfig(bp_epochs=1, max_epochs=5, batch_size=20))
    local = evolve(X[:80], y[:80], X[80:], y[80:], n_jobs=1, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with parallel_config(backend="dask"), distributed.get_task_stream(client) as ts:
            remote = evolve(X[:80], y[:80], X[80:], y[80:], n_jobs=2, parallel_threshold=0,
                            **kw)
        workers = set(client.scheduler_info()["workers"])
        # the scoring really ran on the cluster's workers
        assert len(ts.data) >= 3
        assert {t["worker"] for t in ts.data} <= workers
    np.testing.assert_array_equal(local.best_genome, remote.best_genome)
    np.testing.assert_array_equal(local.network.params, remote.network.params)
    strip = [{k: v for k, v in r.items() if k != "elapsed"} for r in local.logbook]
    assert strip == [{k: v for k, v in r.items() if k != "elapsed"} for r in remote.logbook]
