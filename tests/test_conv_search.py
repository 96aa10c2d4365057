"""The search chooses between MLPs and CNNs on images; CNN runs predict from .npy images."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import gabp

from gabp import EvolutionarySearch
from gabp.data import load_digits, split_task
from gabp.layers import Conv2D, Flatten, MaxPool2D, Reshape
from gabp.search import SearchSpace, flat_params
from gabp.search.space import network_layers

SPACE = {"model": ["mlp", "cnn"], "filters": {"choices": [4, 8]},
         "kernel_size": {"choices": [3, 5]}, "n_layers": [0, 1], "units": [8, 32],
         "learning_rate": [0.003, 0.03], "max_epochs": 8, "patience": 3}


def _digits(n=400):
    ds = load_digits(as_images=True)
    return ds.X[:n] / 16.0, ds.y[:n]


def test_space_decodes_both_kinds_and_cnn_genes_are_inactive_for_an_mlp():
    space = SearchSpace.from_dict(SPACE)
    assert space.can_build_cnn and not SearchSpace.from_dict({"units": [4, 8]}).can_build_cnn
    g = np.full(space.n_genes, 0.9)
    slot = space.gene_names.index("model")
    g[slot] = 0.1  # an MLP: the filters and kernel genes change nothing
    mlp = space.decode(g)
    g2 = g.copy()
    g2[space.gene_names.index("filters")] = 0.0
    assert mlp["model"] == "mlp" and "filters" not in mlp
    assert space.key(space.decode(g2)) == space.key(mlp)
    g[slot] = 0.9
    cnn = space.decode(g)
    assert (cnn["model"], cnn["filters"], cnn["kernel_size"], cnn["conv_layers"]) == (
        "cnn", 8, 5, 1)
    assert network_layers(mlp, (1, 8, 8)) == (30,)
    assert network_layers(cnn, (1, 8, 8)) == (Reshape((1, 8, 8)), Conv2D(8, 5, padding=2),
                                              MaxPool2D(2), Flatten(), 30)
    cols = flat_params(mlp, space.max_layers)
    assert cols["model"] == "mlp" and cols["filters"] is None
    with pytest.raises(ValueError, match="'input_shape'.*image shape"):
        network_layers(cnn, None)
    with pytest.raises(ValueError, match="'model'"):
        SearchSpace.from_dict({"model": ["mlp", "rnn"]})


def test_search_on_images_scores_mlps_and_cnns_and_refits_the_best():
    X, y = _digits()
    search = EvolutionarySearch("classification", SPACE, population_size=8, n_generations=1,
                                random_state=0).fit(X, y)
    scored = {k: c for k, c in search._evaluator.configs.items()}
    kinds = {c["model"] for c in scored.values()}
    assert kinds == {"mlp", "cnn"}
    for k, c in scored.items():  # both kinds were built, trained and scored
        trained = search._evaluator.cache[k]
        assert np.isfinite(trained.error) and trained.error < 0.5, c
        if c["model"] == "cnn":  # conv, 2x2 pool: 4 x 4 x F values, then head and output
            k, F, head = c["kernel_size"], c["filters"], c["hidden_layer_sizes"]
            dense = ((16 * F + 1) * head[0] + (head[0] + 1) * 10 if head
                     else (16 * F + 1) * 10)
            assert trained.n_params == (k * k + 1) * F + dense
    assert search.input_shape_ == (1, 8, 8)
    assert search.best_params_["model"] in ("mlp", "cnn")
    assert search.score(X, y) > 0.85
    pred = search.predict(X[:20])
    np.testing.assert_array_equal(pred, search.predict(X[:20].reshape(20, -1)))


def test_a_cnn_only_search_refits_a_cnn_from_flat_rows_with_input_shape():
    X, y = _digits(300)
    space = {**SPACE, "model": "cnn", "n_layers": 0}
    search = EvolutionarySearch("classification", space, population_size=4, n_generations=0,
                                random_state=1, input_shape=(1, 8, 8))
    search.fit(X.reshape(len(X), -1), y)
    est = search.best_estimator_
    assert isinstance(est.hidden_layer_sizes[1], Conv2D)
    assert est.predict(X[:5]).shape == (5,)
    assert search.score(X, y) > 0.8


@pytest.mark.parametrize("kwargs", [{}, {"input_shape": (1, 4, 4)}])
def test_an_image_only_choice_on_non_image_data_is_refused(kwargs):
    X, y = _digits(100)
    rows = X.reshape(100, -1)
    search = EvolutionarySearch("classification", SPACE, population_size=4, n_generations=0,
                                random_state=0, **kwargs)
    match = ("'space'.*free of model 'cnn'.*images" if not kwargs
             else "'input_shape'.*of 64 values")
    with pytest.raises(ValueError, match=match):
        search.fit(rows, y)
    assert not hasattr(search, "best_params_")


def test_dataset_counts_image_values_and_splits_them_as_rows():
    ds = load_digits(as_images=True)
    assert ds.n_features == 64 and ds.sample_shape == (1, 8, 8)
    assert load_digits().n_features == 64 and load_digits().sample_shape == (64,)
    task = split_task(ds)
    np.testing.assert_array_equal(task.X_train, split_task(load_digits()).X_train)


def test_search_run_from_toml_and_predict_images_from_npy(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        'name = "cnnsearch"\nseed = 0\n[data]\ndataset = "digits"\n'
        'scaler = "minmax"\nfeature_range = [0.0, 1.0]\n'
        '[search]\npopulation_size = 4\nn_generations = 0\ninput_shape = [1, 8, 8]\n'
        '[search.space]\nmodel = "cnn"\nfilters = 4\nkernel_size = 3\nn_layers = 0\n'
        'max_epochs = 6\npatience = 3\nlearning_rate = 0.01\n'
        '[run]\nn_baseline = 1\nreport = false\n')
    out = tmp_path / "runs"
    res = gabp("run", str(cfg), "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run_dir = next(out.iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "test" in json.dumps(metrics)
    ds = load_digits(as_images=True)
    images = ds.X[:30].astype(float)
    np.save(tmp_path / "img.npy", images)
    np.save(tmp_path / "rows.npy", images.reshape(30, -1))
    a = gabp("predict", str(run_dir), str(tmp_path / "img.npy"), cwd=tmp_path)
    b = gabp("predict", str(run_dir), str(tmp_path / "rows.npy"), cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.splitlines()[0] == "prediction"
    labels = a.stdout.splitlines()[1:]
    assert len(labels) == 30 and np.mean(np.array(labels) == ds.y[:30].astype(str)) > 0.6
    np.save(tmp_path / "bad.npy", images[:, :, :4, :])
    bad = gabp("predict", str(run_dir), str(tmp_path / "bad.npy"), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "images of shape (n, 1, 8, 8)" in bad.stderr
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    junk = gabp("predict", str(run_dir), str(tmp_path / "junk.npy"), cwd=tmp_path)
    assert junk.returncode == 2 and "not a readable .npy array" in junk.stderr


@pytest.mark.parametrize(
    ("search", "match"),
    [('input_shape = [1, 4, 4]\n[search.space]\nmodel = ["mlp", "cnn"]\n',
      r"\[search\].*input_shape.*of 64 values"),
     ('[search.space]\nmodel = ["mlp", "cnn"]\n', r"\[search\].*free of model 'cnn'"),
     ('input_shape = [1, 8]\n', r"\[search\].*input_shape.*image shape")],
)
def test_search_config_image_errors_come_before_any_folder(tmp_path, search, match):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[data]\ndataset = "digits"\n[search]\npopulation_size = 4\n'
                   'n_generations = 0\n' + search)
    res = gabp("run", str(cfg), "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert re.search(match, res.stderr), res.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
