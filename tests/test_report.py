"""What a run shows: metrics.json confusion counts, the figures drawn from them, report.md,
the console summary and task inference, on tiny runs of user CSV files."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gabp import plotting, report  # noqa: E402
from gabp.experiment import infer_task, run_experiment  # noqa: E402
from gabp.runs import load_run, read_csv  # noqa: E402

TINY = {
    "seed": 0,
    "network": {"hidden_layer_sizes": [6]},
    "ga": {"population_size": 4, "n_generations": 2},
    "bp": {"bp_epochs": 2, "max_epochs": 40, "patience": 8, "learning_rate": 0.02},
    "run": {"mode": "lamarckian", "n_baseline": 2, "checkpoint_every": 1, "report": False},
}


def _cfg(data: dict, **sections) -> dict:
    cfg = json.loads(json.dumps(TINY))
    cfg["data"] = data
    for k, v in sections.items():
        cfg.setdefault(k, {}).update(v)
    return cfg


def _blobs_csv(path, labels, n=150, seed=0):
    """Three (or two) separable blobs; the class column holds ``labels``."""
    rng = np.random.default_rng(seed)
    k = len(labels)
    lines = ["width,height,kind"]
    for i in range(n):
        c = i % k
        x, y = rng.normal([3.0 * c, -2.0 * c], 0.5)
        lines.append(f"{x:.4f},{y:.4f},{labels[c]}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def class_runs(tmp_path_factory):
    """An integer-label (declared), a string-label (inferred) and a binary run."""
    tmp = tmp_path_factory.mktemp("class")
    out = tmp / "runs"
    cases = {
        "integer": (_blobs_csv(tmp / "int.csv", [0, 1, 2]), {"task": "classification"}),
        "string": (_blobs_csv(tmp / "str.csv", ["cat", "dog", "bird"]), {}),
        "binary": (_blobs_csv(tmp / "bin.csv", ["no", "yes"], n=120), {}),
    }
    done = {}
    for name, (csv, extra) in cases.items():
        cfg = _cfg({"csv": csv, "target": "kind", **extra})
        done[name] = run_experiment(cfg, out=out, name=name, verbose=0)
    return done


@pytest.mark.parametrize("case,labels", [("integer", ["0", "1", "2"]),
                                         ("string", ["bird", "cat", "dog"]),
                                         ("binary", ["no", "yes"])])
def test_confusion_counts_sum_to_the_part_and_diagonal_is_the_accuracy(class_runs, case,
                                                                        labels):
    run = class_runs[case]
    m = run.metrics
    assert m["task"] == "classification"
    for part in ("train", "val", "test"):
        rep = m["gabp"][part]
        cm = rep["confusion_matrix"]
        assert cm["labels"] == labels  # the labels as the model saw them
        counts = np.array(cm["counts"])
        assert counts.shape == (len(labels), len(labels))
        assert counts.sum() == rep["n_samples"]
        assert np.trace(counts) / counts.sum() == pytest.approx(rep["accuracy"])
    # The same check against predictions.csv (labels read back as text).
    rows = [r for r in read_csv(os.path.join(run.path, "predictions.csv"))
            if r["part"] == "test"]
    to_text = {float(v): v for v in labels if v.isdigit()}
    truth = [to_text.get(r["y_true"], r["y_true"]) for r in rows]
    pred = [to_text.get(r["y_pred"], r["y_pred"]) for r in rows]
    counts = np.array(m["gabp"]["test"]["confusion_matrix"]["counts"])
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            assert counts[i, j] == sum(t == a and p == b for t, p in zip(truth, pred,
                                                                          strict=True))
    # And for the baseline's best restart.
    base = m["baseline"]
    best = base["per_restart"][base["best_by_val"]]["test"]
    assert np.sum(best["confusion_matrix"]["counts"]) == best["n_samples"]
    assert np.trace(best["confusion_matrix"]["counts"]) / best["n_samples"] == pytest.approx(
        best["accuracy"])
    assert "confusion_matrix" not in base["mean"]["test"]


def _drawn(monkeypatch, run_dir):
    """Run write_report and keep what each saved figure drew: {file name: axes}."""
    saved = {}
    real = plotting.save_figure

    def keep(ax_or_fig, path, **kw):
        saved[os.path.basename(str(path))] = ax_or_fig
        return real(ax_or_fig, path, **kw)

    monkeypatch.setattr(plotting, "save_figure", keep)
    written = report.write_report(run_dir)
    return saved, written


@pytest.mark.parametrize("case", ["integer", "string", "binary"])
def test_confusion_figure_and_class_scores_are_drawn_from_metrics_json(class_runs, case,
                                                                       monkeypatch):
    run = class_runs[case]
    saved, _ = _drawn(monkeypatch, run.path)
    cm = run.metrics["gabp"]["test"]["confusion_matrix"]
    ax = saved["confusion_matrix.png"]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm["counts"])
    assert [t.get_text() for t in ax.get_xticklabels()] == cm["labels"]
    assert f"{np.trace(cm['counts'])} of {np.sum(cm['counts'])} correct" in ax.get_title()
    # The second panel: the best plain-BP restart's counts.
    base = run.metrics["baseline"]
    bcm = base["per_restart"][base["best_by_val"]]["test"]["confusion_matrix"]
    other = [a for a in ax.figure.axes if a is not ax and a.images]
    np.testing.assert_array_equal(other[0].images[0].get_array(), bcm["counts"])
    supports = [t.get_text().split("(n=")[1].rstrip(")")
                for t in saved["class_scores.png"].get_xticklabels()]
    assert [int(s) for s in supports] == np.sum(cm["counts"], axis=1).tolist()
    text = open(os.path.join(run.path, "report.md"), encoding="utf-8").read()
    assert "## Confusion matrices" in text
    assert f"| **{cm['labels'][0]}** | " + " | ".join(str(c) for c in cm["counts"][0]) in text


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reg")
    rng = np.random.default_rng(1)
    x1, x2 = rng.uniform(-2, 2, 200), rng.uniform(-2, 2, 200)
    y = 3 * x1 - x2 ** 2 + 50.0 + rng.normal(0, 0.1, 200)
    lines = ["speed_kmh,load_t,fuel_l"] + [f"{a:.4f},{b:.4f},{c:.4f}"
                                         for a, b, c in zip(x1, x2, y, strict=True)]
    (tmp / "fuel.csv").write_text("\n".join(lines) + "\n")
    cfg = _cfg({"csv": str(tmp / "fuel.csv"), "target": "fuel_l"}, run={"report": True})
    return run_experiment(cfg, out=tmp / "runs", name="fuel", verbose=0)


def test_regression_run_gets_a_scatter_in_original_units_and_residuals(regression_run,
                                                                       monkeypatch):
    saved, written = _drawn(monkeypatch, regression_run.path)
    assert [os.path.basename(w) for w in written] == [
        "convergence.png", "bp_curve.png", "predicted_vs_actual.png", "errors.png"]
    ax = saved["predicted_vs_actual.png"]
    assert ax.get_xlabel() == "actual fuel_l" and ax.get_ylabel() == "predicted fuel_l"
    rows = read_csv(os.path.join(regression_run.path, "predictions.csv"))
    test = [(r["y_true"], r["y_pred"]) for r in rows if r["part"] == "test"]
    test_dots = [c for c in ax.collections if "test" in c.get_label()][0]
    np.testing.assert_allclose(test_dots.get_offsets(), test)  # original units (about 50)
    r2 = regression_run.metrics["gabp"]["test"]["r2"]
    assert f"R² {r2:.3f}" in test_dots.get_label()
    res = saved["errors.png"]
    assert res.get_xlabel() == "predicted fuel_l"
    np.testing.assert_allclose(res.collections[0].get_offsets()[:, 1],
                               [p - t for t, p in test])


def test_bp_curve_figure_marks_kept_epochs_from_metrics_json(regression_run, monkeypatch):
    saved, _ = _drawn(monkeypatch, regression_run.path)
    ax = saved["bp_curve.png"]
    m = regression_run.metrics
    kept = [ln for ln in ax.lines if ln.get_gid() == "gabp-kept-epoch"]
    assert kept[0].get_xdata()[0] == m["final_bp"]["kept_epochs"][0]
    best = m["baseline"]["best_by_val"]
    assert kept[1].get_xdata()[0] == m["baseline"]["kept_epochs"][best]
    assert ax.get_ylabel().startswith("MSE loss")
    main = ax.lines[0]
    assert len(main.get_xdata()) == m["final_bp"]["epochs"][0] <= m["final_bp"]["max_epochs"]


def test_report_md_has_every_part_the_budget_use_and_the_reproduce_command(regression_run):
    text = open(os.path.join(regression_run.path, "report.md"), encoding="utf-8").read()
    m = regression_run.metrics
    for part in ("| train | rmse |", "| val | rmse |", "| test (held out) | rmse |"):
        assert part in text
    assert report.baseline_text(m)[1:] in text  # capitalized in the sentence
    budget = f"{m['baseline']['budget_sample_passes']:,.0f} sample-passes"
    assert f"budget {budget}" in text
    assert "used" in text and "early stopping" in text
    assert "task: regression (target column 'fuel_l' is numeric)" in text
    config = os.path.join(regression_run.path, "config.toml")
    assert f"gabp run {config} --out " in text


def test_reproduce_command_repeats_the_run(regression_run, tmp_path):
    again = run_experiment(os.path.join(regression_run.path, "config.toml"), out=tmp_path,
                           verbose=0)
    assert again.metrics["gabp"] == regression_run.metrics["gabp"]


def test_console_summary_is_honest_about_the_baseline(regression_run):
    text = report.console_summary(regression_run)
    m = regression_run.metrics
    base = m["baseline"]
    used = [int(round(p)) for p in base["sample_passes"]]
    opt = m["optimizer"]
    budget = f"{base['budget_sample_passes']:,.0f} sample-passes"
    if opt in ("lm", "br", "lbfgs"):  # an iteration is indivisible: at most one past it
        assert max(used) <= base["budget_sample_passes"] * 1.05
    else:  # a mini-batch step that would overshoot is not taken
        assert max(used) <= base["budget_sample_passes"]
        budget += f" ({base['budget_steps']:,} steps)"
    span = f"{min(used):,}" if min(used) == max(used) else f"{min(used):,}-{max(used):,}"
    assert f"plain BP ({opt}): 2 restarts, budget {budget}, used" in text
    assert f"{span} sample-passes" in text and "early stopping" in text
    assert "same step budget" not in text
    assert "task: regression (target column 'fuel_l' is numeric)" in text
    assert "test rmse: GA-BP" in text and "train rmse" not in text


def test_bp_mode_is_labelled_plain_bp_and_no_validation_is_said(tmp_path):
    cfg = _cfg({"dataset": "xor", "val_fraction": 0.0, "test_fraction": 0.0},
               run={"mode": "bp", "fitness": "mse"}, bp={"batch_size": 4})
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    text = report.console_summary(run)
    assert "model: plain BP (mode bp)" in text and "train rmse: plain BP" in text
    assert "GA-BP" not in text
    assert "no validation data" in text
    md = report.report_markdown(run, [])
    assert "no validation data" in md and "| plain BP |" in md
    assert report.fitness_text(run.metrics, run.config) == "training MSE (scaled targets)"


def test_fitness_text_names_what_the_ga_measured():
    cfg = {"bp": {"bp_epochs": 3}}
    m = {"mode": "lamarckian", "fitness": "loss", "loss": "cross_entropy",
         "task": "classification", "fitness_on": "validation"}
    assert report.fitness_text(m, cfg) == ("validation cross-entropy loss after 3 BP epochs "
                                           "per genome")
    m.update(mode="classic", fitness="sae", task="regression", fitness_on="train")
    assert report.fitness_text(m, cfg) == ("training sum of absolute errors (scaled targets) of "
                                           "the untrained genomes")
    m.update(mode="lamarckian", fitness="mse", fitness_on="validation")
    cfg["ga"] = {"holdout_fraction": 0.25}  # the last quarter chooses the generation
    assert report.fitness_text(m, cfg) == ("validation (first 75% of its rows) MSE (scaled "
                                           "targets) after 3 BP epochs per genome")


# ------------------------------------------------------------------------ task inference


def test_task_is_inferred_from_the_data_and_said(tmp_path, caplog):
    (tmp_path / "one.csv").write_text("value\n" + "".join(f"{np.sin(i / 3):.4f}\n"
                                                         for i in range(80)))
    assert infer_task({"csv": str(tmp_path / "one.csv"), "target": "value", "n_lags": 4}) == (
        "series", "n_lags = 4 given")
    (tmp_path / "s.csv").write_text("a,label\n1,x\n2,y\n3,x\n")
    assert infer_task({"csv": str(tmp_path / "s.csv"), "target": "label"})[0] == \
        "classification"
    (tmp_path / "codes.csv").write_text("a,code\n" + "".join(f"{i},{i % 3}\n"
                                                            for i in range(60)))
    with caplog.at_level(logging.WARNING, logger="gabp.experiment"):
        task, reason = infer_task({"csv": str(tmp_path / "codes.csv"), "target": "code"})
    assert task == "regression" and "3 distinct integers" in reason
    assert 'task = "classification"' in caplog.text
    assert infer_task({"csv": str(tmp_path / "codes.csv"), "target": "code",
                       "task": "classification"}) == ("classification",
                                                      "declared in [data] task")
    assert infer_task({"dataset": "digits"})[0] == "classification"


def test_one_column_series_csv_runs_as_a_series(tmp_path):
    """Used to fail with "has no input columns besides the target"."""
    (tmp_path / "one.csv").write_text("level\n" + "".join(f"{10 + np.sin(i / 3):.4f}\n"
                                                         for i in range(90)))
    run = run_experiment(_cfg({"csv": str(tmp_path / "one.csv"), "target": "level",
                               "n_lags": 4}), out=tmp_path / "runs", verbose=0)
    assert run.metrics["task"] == "series"
    assert run.metrics["task_reason"] == "n_lags = 4 given"
    assert load_run(run.path).config["data"]["task"] == "series"
    assert run.model.target_names == ["level(t+1)"]


def test_report_of_an_older_run_counts_confusion_from_predictions(class_runs, tmp_path,
                                                                  monkeypatch):
    """Runs written before metrics.json held confusion counts (labels "0" were read back
    as 0.0 and the matrix came out empty) are counted again from predictions.csv."""
    import shutil

    from gabp.runs import read_json, write_json

    run = class_runs["integer"]
    old = tmp_path / "old"
    shutil.copytree(run.path, old)
    m = read_json(str(old / "metrics.json"))
    for part in m["gabp"].values():
        del part["confusion_matrix"]
    for restart in m["baseline"]["per_restart"]:
        for part in restart.values():
            del part["confusion_matrix"]
    write_json(str(old / "metrics.json"), m)
    saved, _ = _drawn(monkeypatch, old)
    counts = run.metrics["gabp"]["test"]["confusion_matrix"]["counts"]
    np.testing.assert_array_equal(saved["confusion_matrix.png"].images[0].get_array(), counts)
    assert np.sum(counts) == run.metrics["gabp"]["test"]["n_samples"]


def test_search_run_hyperparameter_panels_carry_the_searched_ranges(tmp_path, monkeypatch):
    cfg = {"seed": 0, "data": {"dataset": "iris"}, "run": {"report": False},
           "search": {"population_size": 4, "n_generations": 1,
                      "space": {"n_layers": 1, "units": [3, 9], "max_epochs": 15,
                                "learning_rate": {"low": 0.001, "high": 0.1, "log": True},
                                "activation": ["tanh", "relu", "sigmoid"]}}}
    run = run_experiment(cfg, out=tmp_path, verbose=0)
    saved, _ = _drawn(monkeypatch, run.path)
    axes = {a.get_title().split("\n")[0]: a for a in saved["hyperparameters.png"]}
    assert set(axes) == {"hidden_1", "learning_rate", "activation"}
    lr = axes["learning_rate"]
    assert lr.get_yscale() == "log"
    low, high = lr.get_ylim()
    assert low < 0.001 and high > 0.1 and high < 1.0
    assert axes["hidden_1"].get_ylim()[0] < 3 and 9 < axes["hidden_1"].get_ylim()[1] < 12
    assert [t.get_text() for t in axes["activation"].get_yticklabels()] == [
        "tanh", "relu", "sigmoid"]
    records = [float(r["learning_rate"]) for r in run.search]
    np.testing.assert_allclose(lr.lines[0].get_ydata(), records)  # real values, not [0, 1]


@pytest.mark.parametrize("labels", [["a", "b", "c"],
                                    ["cultivar_a", "cultivar_b", "cultivar_c"],
                                    [f"a rather long class name {i}" for i in range(2)]])
def test_confusion_figure_titles_and_labels_fit_inside_the_figure(labels):
    k = len(labels)
    cm = {"labels": labels, "counts": (np.eye(k, dtype=int) * 12).tolist()}
    metrics = {"mode": "baldwinian", "gabp": {"test": {"confusion_matrix": cm}},
               "baseline": {"best_by_val": 0, "per_restart": [{"test": {"confusion_matrix": cm}}]}}
    ax = report._confusion_figure(plotting, metrics, "test")
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = [a.title for a in fig.axes] + [t for a in fig.axes for t in a.get_yticklabels()]
    assert len(fig.axes) == 2
    for t in texts:
        ext = t.get_window_extent(renderer)
        assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1, t.get_text()
