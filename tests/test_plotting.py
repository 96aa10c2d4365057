"""Tests for gabp.plotting on small fake results (headless, no pyplot)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from deap import tools  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from gabp import plotting  # noqa: E402
from gabp.metrics import confusion_matrix  # noqa: E402
from gabp.plotting import (  # noqa: E402
    new_axes,
    plot_bp_curve,
    plot_class_scores,
    plot_confusion_matrix,
    plot_convergence,
    plot_errors,
    plot_hyperparameters,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_runs,
    plot_series,
    save_figure,
)
from gabp.trainer import History  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rows(n_gen=5, *, start=1.0, nevals=10, dt=0.5):
    rows, best = [], math.inf
    for g in range(n_gen):
        e_min = start / (g + 1)
        best = min(best, e_min)
        rows.append(
            {
                "gen": g,
                "nevals": nevals if g == 0 else nevals - 2,
                "nfailed": 0,
                "error_min": e_min,
                "error_mean": 2 * e_min,
                "error_std": 0.5 * e_min,
                "error_max": 2.2 * e_min,
                "best_so_far": best,
                "diversity": 0.1,
                "n_steps": 0,
                "elapsed": dt * (g + 1),
            }
        )
    return rows


def _logbook(n_gen=5, **kw):
    lb = tools.Logbook()
    for r in _rows(n_gen, **kw):
        lb.record(**r)
    return lb


def _history(n_epochs=6, p=1, *, val=True):
    train = np.linspace(1.0, 0.1, n_epochs)[:, None] * np.arange(1, p + 1)
    return History(
        train_loss=train,
        val_loss=1.5 * train if val else None,
        best_epoch=np.full(p, n_epochs - 1),
        best_loss=train[-1].copy(),
        diverged=np.zeros(p, dtype=bool),
        n_steps=np.full(p, n_epochs),
    )


def _labels(ax):
    return ax.get_legend_handles_labels()[1]


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


# ------------------------------------------------------------------------ new_axes


def test_new_axes_is_pyplot_free():
    ax = new_axes((3, 2))
    assert isinstance(ax, Axes)
    assert tuple(ax.figure.get_size_inches()) == (3.0, 2.0)
    assert type(ax.figure.canvas).__name__ == "FigureCanvasAgg"
    with pytest.raises(ValueError, match="'figsize' parameter of new_axes"):
        new_axes((3, -1))


def test_non_axes_is_rejected():
    with pytest.raises(TypeError, match="'ax' parameter of plot_convergence"):
        plot_convergence(_logbook(), ax="not an axes")


# --------------------------------------------------------------------- convergence


def test_convergence_lines_band_and_labels():
    lb = _logbook(5)
    ax = plot_convergence(lb)
    assert _labels(ax) == ["best of generation", "mean", "mean ± std",
                           "best so far (= best of generation)"]  # the fixture is elitist
    assert len(ax.lines) == 3
    np.testing.assert_allclose(ax.lines[0].get_xdata(), lb.select("gen"))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lb.select("error_min"))
    np.testing.assert_allclose(ax.lines[1].get_ydata(), lb.select("error_mean"))
    np.testing.assert_allclose(ax.lines[2].get_ydata(), lb.select("best_so_far"))
    assert len(_bands(ax)) == 1
    assert ax.get_ylabel() == "error (lower is better)"
    assert ax.get_xlabel() == "generation"
    assert ax.get_yscale() == "linear"


def test_convergence_band_is_clipped_to_min_and_max():
    rows = [
        {"error_min": 1.0, "error_mean": 1.5, "error_std": 2.0, "error_max": 3.0},
        {"error_min": 0.5, "error_mean": 0.6, "error_std": 0.05, "error_max": 0.9},
    ]
    ax = plot_convergence(rows)
    verts = _bands(ax)[0].get_paths()[0].vertices
    ys = verts[:, 1]
    assert ys.min() == pytest.approx(0.55)  # 0.6 - 0.05 (inside [min, max])
    assert ys.max() == pytest.approx(3.0)  # 1.5 + 2.0 clipped at error_max
    assert np.all(ys >= 0.5 - 1e-12)
    # Without gen the x axis is the row number.
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1])


def test_convergence_x_evals_time_and_log_on_given_axes():
    lb = _logbook(4, nevals=10)
    ax = new_axes()
    out = plot_convergence(lb, x="evals", ax=ax, log=True)
    assert out is ax
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [10, 18, 26, 34])
    assert ax.get_xlabel() == "evaluations"
    assert ax.get_yscale() == "log"
    ax = plot_convergence(lb, x="time")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.5, 1.0, 1.5, 2.0])
    assert ax.get_xlabel() == "wall time (s)"


def test_convergence_names_its_metric():
    ax = plot_convergence(_logbook(3), metric="validation MSE loss after 5 BP epochs")
    assert "validation MSE loss after 5 BP epochs" in ax.get_title()
    assert ax.get_title().count("\n") == 1  # a short one stays on one line
    assert ax.get_ylabel() == "fitness (lower is better)"


def test_convergence_over_few_generations_has_whole_generation_ticks():
    ax = plot_convergence(_logbook(5))
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_a_long_convergence_metric_is_wrapped_inside_the_figure(tmp_path):
    # the run folder's figure used to cut "... per genome" off at the right edge
    metric = "validation MSE loss (scaled targets) after 5 BP epochs per genome"
    ax = plot_convergence(_logbook(3), metric=metric, log=True)
    assert ax.get_title().count("\n") >= 2
    assert " ".join(ax.get_title().split("\n")[1:]) == f"fitness: {metric}"
    fig = ax.get_figure()
    plotting.save_figure(ax, tmp_path / "c.png", close=False)
    box = ax.title.get_window_extent(fig.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= fig.get_window_extent().width


def test_convergence_from_csv_strings_and_column_dict():
    rows = [{k: str(v) for k, v in r.items()} for r in _rows(3)]
    rows[1]["error_mean"] = ""  # empty CSV cell -> gap
    ax = plot_convergence(rows)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 1 / 3])
    assert np.isnan(ax.lines[1].get_ydata()[1])

    cols = {"gen": [0, 1, 2], "error_min": [3.0, 2.0, 1.0], "best_so_far": [3.0, 2.0, 1.0]}
    ax = plot_convergence(cols)
    # elitism: the two lines coincide; the legend says so and the thin line is drawn on top
    assert _labels(ax) == ["best of generation", "best so far (= best of generation)"]
    assert ax.lines[0].get_zorder() > ax.lines[1].get_zorder()
    assert _bands(ax) == []
    cols["error_min"] = [3.0, 2.5, 1.0]  # a generation worse than the best so far
    assert _labels(plot_convergence(cols)) == ["best of generation", "best so far"]


def test_convergence_label_overlays_runs_with_one_color_each():
    ax = plot_convergence(_logbook(3), label="GA-BP")
    plot_convergence(_logbook(3, start=2.0), label="BP", ax=ax)
    labels = _labels(ax)
    same = " (= best of generation)"
    assert labels[:4] == ["GA-BP best of generation", "GA-BP mean", "GA-BP mean ± std",
                          "GA-BP best so far" + same]
    assert labels[4:] == ["BP best of generation", "BP mean", "BP mean ± std",
                          "BP best so far" + same]
    assert len(ax.lines) == 6
    assert ax.lines[0].get_color() == ax.lines[2].get_color()
    assert ax.lines[0].get_color() != ax.lines[3].get_color()


def test_convergence_infinite_errors_are_gaps():
    rows = _rows(3)
    rows[0].update(
        error_min=math.inf, error_mean=math.inf, error_max=math.inf, best_so_far=math.inf
    )
    ax = plot_convergence(rows)
    assert np.isnan(ax.lines[0].get_ydata()[0])
    assert np.isnan(ax.lines[2].get_ydata()[0])


def test_convergence_errors():
    with pytest.raises(ValueError, match="'x' parameter of plot_convergence must be one of"):
        plot_convergence(_logbook(), x="epochs")
    with pytest.raises(ValueError, match="numeric 'error_min' column"):
        plot_convergence([{"gen": 0, "fitness": 1.0}])
    with pytest.raises(ValueError, match="numeric 'nevals' column"):
        plot_convergence([{"error_min": 1.0}], x="evals")
    with pytest.raises(ValueError, match="non-empty"):
        plot_convergence(tools.Logbook())
    with pytest.raises(TypeError, match="'logbook' parameter"):
        plot_convergence(42)
    with pytest.raises(ValueError, match="equal length"):
        plot_convergence({"error_min": [1.0, 2.0], "gen": [0]})


# ------------------------------------------------------------------------ BP curve


def _kept(ax):
    return [ln for ln in ax.lines if ln.get_gid() == "gabp-kept-epoch"]


def test_bp_curve_history_log_scale_and_kept_epoch():
    h = _history(6)
    h.best_epoch[:] = 3
    ax = plot_bp_curve(h, loss="mse")
    assert _labels(ax)[:2] == ["train", "val"]
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(1, 7))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), h.train_loss[:, 0])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), h.val_loss[:, 0])
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel().startswith("MSE loss")
    (star,) = _kept(ax)  # on the monitored (validation) curve, epoch 4 (1-based)
    np.testing.assert_allclose(star.get_xdata(), [4])
    np.testing.assert_allclose(star.get_ydata(), [h.val_loss[3, 0]])
    assert "kept epoch 4" in star.get_label()


def test_bp_curve_says_in_its_legend_when_the_starting_weights_were_kept():
    # a corner note sat under the legend (a diabetes run's figure hid it)
    h = _history(6)
    h.best_epoch[:] = -1
    ax = plot_bp_curve(h, loss="mse", label="GA-BP")
    assert _kept(ax) == [] and len(ax.texts) == 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "GA-BP: the starting weights were kept\n(no epoch improved on them)" in legend


def test_bp_curve_stops_at_the_epochs_run_and_clips_round_off():
    train = np.array([1.0, 0.1, 1e-30, np.nan, np.nan])  # trailing NaN: never run
    ax = plot_bp_curve({"train_loss": train, "best_epoch": [2]})
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    low, high = ax.get_ylim()
    assert low == pytest.approx(1e-8) and high == pytest.approx(2.0)
    (star,) = _kept(ax)
    assert star.get_ydata()[0] == pytest.approx(1e-8)  # drawn on the edge, not lost
    assert "1e-30" in star.get_label()
    assert any("not shown" in t.get_text() for t in ax.texts)


def test_bp_curve_dict_1d_member_and_linear():
    ax = new_axes()
    assert plot_bp_curve({"train_loss": [3.0, 2.0, 1.0]}, ax=ax, log=False) is ax
    assert _labels(ax) == ["train"]
    assert ax.get_yscale() == "linear"
    h = _history(4, p=3)
    ax = plot_bp_curve(h, member=2)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), h.train_loss[:, 2])


def test_bp_curve_with_baseline_restarts_each_drawn_to_its_own_end():
    h = _history(5)
    base = _history(8, p=3)
    base.train_loss[5:, 1] = np.nan  # restart 1 stopped early after 5 epochs
    base.val_loss[5:, 1] = np.nan
    ax = plot_bp_curve(h, baseline=base, baseline_best=2)
    runs = [ln for ln in ax.lines if ln.get_gid() == "gabp-baseline"]
    assert len(runs) == 6  # train and val of 3 restarts
    assert all(ln.get_linestyle() == "--" for ln in runs)
    assert len(runs[2].get_xdata()) == 5 and len(runs[0].get_xdata()) == 8
    np.testing.assert_allclose(runs[4].get_ydata(), base.train_loss[:, 2])
    assert runs[4].get_linewidth() > runs[0].get_linewidth()  # the best restart stands out
    labels = _labels(ax)
    assert labels[:2] == ["GA-BP train", "GA-BP val"]
    assert "plain BP train (restart 2, best on val)" in labels
    assert "plain BP train (3 restarts)" in labels
    assert len(_kept(ax)) == 2
    # that many entries would cover curves: the legend sits beside the axes
    fig = ax.get_figure()
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1

    # One restart, no validation curve: "best on train".
    ax = plot_bp_curve(h, baseline={"train_loss": [1.0, 0.5], "val_loss": None},
                       baseline_best=0)
    assert "plain BP train (restart 0, best on train)" in _labels(ax)


def test_bp_curve_reads_an_evolution_result_like_object():
    class Baseline:
        history = _history(7, p=2)
        best = 1

    class Result:
        bp_history = _history(4)
        baseline = Baseline()
        config = {"loss": "cross_entropy"}

    ax = plot_bp_curve(Result())
    np.testing.assert_allclose(ax.lines[0].get_ydata(), Result.bp_history.train_loss[:, 0])
    assert ax.get_ylabel().startswith("cross-entropy loss")
    assert "plain BP train (restart 1, best on val)" in _labels(ax)


def test_bp_curve_errors():
    with pytest.raises(ValueError, match="'member' parameter of plot_bp_curve"):
        plot_bp_curve(_history(3, p=2), member=2)
    with pytest.raises(ValueError, match="'train_loss' entry"):
        plot_bp_curve({"val_loss": [1.0]})
    with pytest.raises(TypeError, match="History"):
        plot_bp_curve([1.0, 2.0])
    with pytest.raises(ValueError, match="column"):
        plot_bp_curve({"train_loss": np.ones((3, 2)), "val_loss": np.ones((3, 3))})
    with pytest.raises(ValueError, match="shape \\(n_epochs,\\)"):
        plot_bp_curve({"train_loss": []})
    with pytest.raises(ValueError, match="'baseline_best' parameter"):
        plot_bp_curve(_history(3), baseline=_history(3, p=2), baseline_best=2)
    with pytest.raises(ValueError, match="'floor' parameter"):
        plot_bp_curve(_history(3), floor=2.0)


# -------------------------------------------------------------------------- series


def test_series_lines_and_regions():
    years = np.arange(2000, 2010)
    y = np.linspace(0.0, 1.0, 10)
    p = y + 0.1
    regions = {"train": (2000, 2006), "validation": (2006, 2008), "test": (2008, 2009)}
    ax = plot_series(years, y, p, regions=regions, title="sunspots")
    assert _labels(ax) == ["train", "validation", "test", "actual", "predicted"]
    assert len(ax.lines) == 2
    assert len(ax.patches) == 3
    np.testing.assert_allclose(ax.lines[0].get_xdata(), years)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), y)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), p)
    assert ax.get_title() == "sunspots"


def test_series_default_index_multi_output_and_given_ax():
    ax = new_axes()
    y = np.arange(8.0).reshape(4, 2)
    assert plot_series(None, y, y[:, ::-1], ax=ax) is ax
    assert _labels(ax) == ["actual[0]", "predicted[0]", "actual[1]", "predicted[1]"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(4))
    np.testing.assert_allclose(ax.lines[3].get_ydata(), y[:, 0])


def test_series_errors():
    with pytest.raises(ValueError, match="same number of rows. Got 3 and 2"):
        plot_series(None, [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="'index' and 'y_true'"):
        plot_series([1, 2], [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="'regions' parameter"):
        plot_series(None, [1, 2], [1, 2], regions={"test": (1, 2, 3)})
    with pytest.raises(TypeError, match="'y_pred' parameter"):
        plot_series(None, [1, 2], ["a", "b"])


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ["stem", "bar"])
def test_errors_per_sample(kind):
    idx = np.array([10, 11, 12, 13])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 1.0, 3.0, 4.5])
    ax = plot_errors(idx, y, p, kind=kind)
    (label,) = _labels(ax)
    assert label.startswith("error (RMSE")
    err = p - y
    assert f"MAE {np.mean(np.abs(err)):.4g}" in label
    if kind == "stem":
        np.testing.assert_allclose(ax.containers[0].markerline.get_ydata(), err)
    else:
        np.testing.assert_allclose([b.get_height() for b in ax.containers[0]], err)
    zero = ax.lines[-1]
    np.testing.assert_allclose(zero.get_ydata(), [0.0, 0.0])
    assert ax.get_xlabel() == "sample"
    dates = np.array(["2020-01", "2020-02", "2020-03", "2020-04"], dtype="datetime64[M]")
    ax = plot_errors(dates, y, p, kind=kind)
    assert ax.get_xlabel() == "date"
    assert type(ax.xaxis.get_major_formatter()).__name__ == "ConciseDateFormatter"


def test_errors_validation():
    with pytest.raises(ValueError, match="same number of rows"):
        plot_errors(None, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="'kind' parameter of plot_errors"):
        plot_errors(None, [1.0], [1.0], kind="line")


# --------------------------------------------------------------- confusion matrix


def test_confusion_matrix_annotations_and_ticks():
    m = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    ax = plot_confusion_matrix(m, ["cat", "dog", "fox"])
    assert [t.get_text() for t in ax.texts] == [str(v) for v in m.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "fox"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "fox"]
    assert ax.get_xlabel() == "predicted"
    assert ax.get_ylabel() == "true"
    np.testing.assert_array_equal(ax.images[0].get_array(), m)


def test_confusion_matrix_normalized_int_labels_on_given_ax():
    m, labels = confusion_matrix([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2])
    ax = new_axes()
    assert plot_confusion_matrix(m, labels, normalize=True, ax=ax, colorbar=False) is ax
    texts = [t.get_text() for t in ax.texts]
    assert texts[:3] == ["0.50", "0.50", "0.00"]
    assert texts[3:6] == ["0.33", "0.67", "0.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    # A class with no true rows stays 0 instead of dividing by zero.
    ax = plot_confusion_matrix([[0, 0], [1, 1]], ["a", "b"], normalize=True)
    assert [t.get_text() for t in ax.texts] == ["0.00", "0.00", "0.50", "0.50"]


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="3 class names"):
        plot_confusion_matrix(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        plot_confusion_matrix([[1, -1], [0, 1]], ["a", "b"])


# ---------------------------------------------------------------- class scores


def test_class_scores_grouped_bars():
    y_true = ["a", "a", "b", "b", "b", "c"]
    y_pred = ["a", "b", "b", "b", "a", "a"]
    ax = plot_class_scores(y_true, y_pred)
    assert _labels(ax) == ["precision", "recall", "F1"]
    assert len(ax.containers) == 3
    precision = [b.get_height() for b in ax.containers[0]]
    recall = [b.get_height() for b in ax.containers[1]]
    f1 = [b.get_height() for b in ax.containers[2]]
    np.testing.assert_allclose(precision, [1 / 3, 2 / 3, 0.0])
    np.testing.assert_allclose(recall, [0.5, 2 / 3, 0.0])
    np.testing.assert_allclose(f1, [0.4, 2 / 3, 0.0])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["a\n(n=2)", "b\n(n=3)", "c\n(n=1)"]


def test_class_scores_labels_order_one_hot_and_errors():
    ax = new_axes()
    eye = np.eye(2)
    out = plot_class_scores(eye[[0, 1, 1]], eye[[0, 1, 0]], labels=[1, 0], ax=ax)
    assert out is ax
    np.testing.assert_allclose([b.get_height() for b in ax.containers[1]], [0.5, 1.0])
    with pytest.raises(ValueError, match="same number of rows"):
        plot_class_scores([0, 1], [0])


def test_class_scores_from_confusion_counts_match_the_labels_version():
    t = np.array(["a", "b", "b", "c", "c", "c"])
    p = np.array(["a", "b", "c", "c", "c", "a"])
    m, labs = confusion_matrix(t, p)
    a = plot_class_scores(t, p)
    b = plot_class_scores(matrix=m, labels=labs)
    for ca, cb in zip(a.containers, b.containers, strict=True):
        np.testing.assert_allclose([x.get_height() for x in ca], [x.get_height() for x in cb])
    assert [t.get_text() for t in b.get_xticklabels()][2] == "c\n(n=3)"
    with pytest.raises(ValueError, match="'labels' parameter of plot_class_scores"):
        plot_class_scores(matrix=m, labels=["a"])
    with pytest.raises(ValueError, match="'matrix' parameter"):
        plot_class_scores(t, p, matrix=m, labels=labs)
    with pytest.raises(ValueError, match="'y_true' parameter"):
        plot_class_scores(t)


# ------------------------------------------------------------- regression figures


def test_predicted_vs_actual_scatter_identity_and_r2_per_part():
    rng = np.random.default_rng(0)
    t = rng.uniform(10, 50, 40)
    p = t + rng.normal(0, 2, 40)
    parts = np.array(["test"] * 10 + ["train"] * 30)
    ax = plot_predicted_vs_actual(t, p, parts=parts, name="heating_kwh")
    assert ax.get_xlabel() == "actual heating_kwh" and ax.get_ylabel() == "predicted heating_kwh"
    train, test = ax.collections  # the test part is drawn last, on top
    np.testing.assert_allclose(test.get_offsets(), np.column_stack([t[:10], p[:10]]))
    r2 = 1 - np.sum((t[10:] - p[10:]) ** 2) / np.sum((t[10:] - t[10:].mean()) ** 2)
    assert _labels(ax)[1] == f"train (n=30, R² {r2:.3f})"
    identity = ax.lines[0]
    np.testing.assert_allclose(identity.get_xdata(), identity.get_ydata())
    assert ax.get_xlim() == ax.get_ylim()
    with pytest.raises(ValueError, match="'parts' parameter"):
        plot_predicted_vs_actual(t, p, parts=["test"])


def test_residuals_against_prediction_or_dates():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 1.5, 3.0, 5.0])
    ax = plot_residuals(t, p, name="y")
    np.testing.assert_allclose(ax.collections[0].get_offsets(),
                               np.column_stack([p, p - t]))
    assert ax.get_xlabel() == "predicted y"
    rmse = np.sqrt(np.mean((p - t) ** 2))
    np.testing.assert_allclose([ln.get_ydata()[0] for ln in ax.lines], [0.0, rmse, -rmse])
    dates = np.array(["2020-01", "2020-02", "2020-03", "2020-04"], dtype="datetime64[M]")
    ax = plot_residuals(t, p, x=dates, xlabel="month")
    assert ax.get_xlabel() == "month"
    # concise date ticks (the default formatter wrote overlapping 'YYYY-MM' labels)
    assert type(ax.xaxis.get_major_formatter()).__name__ == "ConciseDateFormatter"
    assert type(plot_residuals(t, p).xaxis.get_major_formatter()).__name__ != \
        "ConciseDateFormatter"
    with pytest.raises(ValueError, match="'x' parameter of plot_residuals"):
        plot_residuals(t, p, x=[1, 2])


# --------------------------------------------------------------- hyperparameters


SPACE = {"hidden_1": {"low": 2, "high": 32, "log": False, "type": "int"},
         "learning_rate": {"low": 1e-5, "high": 0.1, "log": True},
         "activation": ["tanh", "relu", "logistic"]}


def test_hyperparameters_one_panel_each_in_real_units():
    recs = [
        {"gen": 0, "hidden_1": 4, "learning_rate": 1e-4, "activation": "tanh", "error_min": 1},
        {"gen": 1, "hidden_1": 12, "learning_rate": 1e-3, "activation": "relu", "error_min": 1},
        {"gen": 2, "hidden_1": 8, "learning_rate": 1e-2, "activation": "tanh", "error_min": 1},
    ]
    axes = plot_hyperparameters(recs, space=SPACE)
    assert [ax.get_title().split("\n")[0] for ax in axes] == [
        "hidden_1", "learning_rate", "activation"]
    hidden, lr, act = axes
    np.testing.assert_allclose(hidden.lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(hidden.lines[0].get_ydata(), [4, 12, 8])  # real values
    low, high = hidden.get_ylim()  # the searched range, not the values seen
    assert low < 2 and high > 32 and high < 40
    assert lr.get_yscale() == "log"
    np.testing.assert_allclose(lr.lines[0].get_ydata(), [1e-4, 1e-3, 1e-2])
    assert lr.get_ylim()[0] < 1e-5 < 0.1 < lr.get_ylim()[1]
    assert "[1e-05, 0.1], log scale" in lr.get_title()
    # Categories: every declared choice is a tick, even one never chosen.
    assert [t.get_text() for t in act.get_yticklabels()] == ["tanh", "relu", "logistic"]
    np.testing.assert_allclose(act.lines[0].get_ydata(), [0, 1, 0])
    assert len({ax.figure for ax in axes}) == 1


def test_hyperparameters_without_space_csv_strings_and_missing():
    recs = [
        {"gen": "0", "momentum": "0.9", "hidden_1": "5", "solver": "adam", "batch": "16.0"},
        {"gen": "1", "momentum": "0.9", "hidden_1": "", "solver": "sgd", "batch": "32.0"},
    ]
    axes = plot_hyperparameters(recs, params=["momentum", "hidden_1", "solver", "batch"],
                                space={"batch": [16, 32, 64]})
    mom, hid, solver, batch = axes
    np.testing.assert_allclose(mom.lines[0].get_ydata(), [0.9, 0.9])
    assert mom.get_ylim()[0] < 0.9 < mom.get_ylim()[1]
    assert np.isnan(hid.lines[0].get_ydata()[1])
    assert [t.get_text() for t in solver.get_yticklabels()] == ["adam", "sgd"]
    # CSV floats match the declared integer choices.
    assert [t.get_text() for t in batch.get_yticklabels()] == ["16", "32", "64"]
    np.testing.assert_allclose(batch.lines[0].get_ydata(), [0, 1])


def test_hyperparameters_list_valued_categories_and_given_figure():
    recs = [{"hidden": [12, 8]}, {"hidden": [4]}, {"hidden": [12, 8]}, {"hidden": None}]
    fig = plotting.new_figure()
    (ax,) = plot_hyperparameters(recs, fig=fig)
    assert ax.figure is fig
    assert [t.get_text() for t in ax.get_yticklabels()] == ["[12, 8]", "[4]"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.0, 1.0, 0.0, np.nan])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1, 2, 3])


def test_hyperparameters_errors():
    with pytest.raises(ValueError, match="'params' parameter of plot_hyperparameters"):
        plot_hyperparameters([{"gen": 0, "lr": 0.1}], params=["hidden"])
    with pytest.raises(ValueError, match="at least one hyperparameter"):
        plot_hyperparameters([{"gen": 0, "error_min": 0.1}])
    with pytest.raises(ValueError, match="non-empty"):
        plot_hyperparameters([])
    with pytest.raises(TypeError, match="'space' parameter"):
        plot_hyperparameters([{"lr": 0.1}], space=[1, 2])


# --------------------------------------------------------------------------- runs


def _run(values, **extra):
    return [
        {"gen": g, "nevals": 10, "best_so_far": v, "elapsed": g + 1.0, **extra}
        for g, v in enumerate(values)
    ]


def test_runs_are_one_line_each_by_default():
    runs = [_run([4.0, 2.0, 1.0]), _run([2.0, 2.0])]  # a 3- and a 2-generation run
    ax = plot_runs(runs, labels=["long", "short"])
    assert _labels(ax) == ["long", "short"]  # never averaged into one "mean" line
    assert _bands(ax) == []
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [4.0, 2.0, 1.0])
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [0, 1])
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle()
    ax = plot_runs(groups={"GA-BP": runs, "BP": [_run([3.0])]})
    assert _labels(ax) == ["GA-BP [0]", "GA-BP [1]", "BP [0]"]


def test_runs_mean_and_std_band_pad_with_last_value():
    runs = [_run([4.0, 2.0, 1.0]), _run([2.0, 2.0])]  # second run stopped early
    ax = plot_runs(runs, band="std")
    assert _labels(ax) == ["mean (n=2)", "± std"]
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 1.5])
    band = _bands(ax)[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(1.0)  # 1.5 - 0.5
    assert band.max() == pytest.approx(4.0)  # 3 + 1


def test_runs_common_prefix_minmax_and_show_runs():
    runs = [_run([4.0, 2.0, 1.0]), _run([2.0, 2.0])]
    ax = plot_runs(runs, align="common", band="minmax", show_runs=True, labels=["seed 0", "seed 1"])
    assert _labels(ax) == ["seed 0", "seed 1", "mean (n=2)", "min–max"]
    np.testing.assert_allclose(ax.lines[2].get_xdata(), [0, 1])
    np.testing.assert_allclose(ax.lines[2].get_ydata(), [3.0, 2.0])
    band = _bands(ax)[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(2.0)
    assert band.max() == pytest.approx(4.0)


def test_runs_groups_on_evals_axis_with_log_scale():
    ga = [_run([3.0, 1.0]), _run([1.0, 1.0])]
    bp = [_logbook(3)]
    ax = new_axes()
    out = plot_runs(groups={"GA-BP": ga, "BP": bp}, x="evals", ax=ax, log=True, band="minmax")
    assert out is ax
    assert _labels(ax) == ["GA-BP mean (n=2)", "GA-BP min–max", "BP mean (n=1)", "BP min–max"]
    assert len(_bands(ax)) == 2
    assert ax.get_yscale() == "log"
    # Each group on the union of its runs' evaluation counts.
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [10, 20])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2.0, 1.0])
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [10, 18, 26])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1.0, 0.5, 1 / 3])


def test_runs_evals_of_different_runs_are_step_aligned():
    a = [{"nevals": 10, "best_so_far": 3.0}, {"nevals": 10, "best_so_far": 1.0}]  # 10, 20
    b = [{"nevals": 15, "best_so_far": 2.0}, {"nevals": 15, "best_so_far": 2.0}]  # 15, 30
    ax = plot_runs([a, b], x="evals", band="std")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [10, 15, 20, 30])
    # At 10 only run a has a value; later each run holds its last value.
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.5, 1.5, 1.5])


def test_runs_other_key_and_time_axis():
    runs = [_run([1.0, 2.0], error_min=0.5), _run([3.0, 4.0], error_min=1.5)]
    ax = plot_runs(runs, key="error_min", x="time", band="std")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1.0, 2.0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 1.0])
    assert ax.get_xlabel() == "wall time (s)"


def test_runs_errors():
    with pytest.raises(ValueError, match="exactly one of the two"):
        plot_runs()
    with pytest.raises(ValueError, match="exactly one of the two"):
        plot_runs([_run([1.0])], groups={"a": [_run([1.0])]})
    with pytest.raises(ValueError, match="'band' parameter of plot_runs"):
        plot_runs([_run([1.0])], band="iqr")
    with pytest.raises(ValueError, match="numeric 'diversity' column"):
        plot_runs([_run([1.0])], key="diversity")
    with pytest.raises(ValueError, match="2 names"):
        plot_runs([_run([1.0]), _run([2.0])], labels=["only one"])
    with pytest.raises(ValueError, match="non-empty list"):
        plot_runs([])
    with pytest.raises(ValueError, match="Wrap one run in a list"):
        plot_runs(_logbook(3))
    with pytest.raises(ValueError, match="Wrap one run in a list"):
        plot_runs(groups={"GA-BP": _run([1.0, 0.5])})


# --------------------------------------------------------------------------- saving


def test_save_figure_writes_png_atomically(tmp_path):
    ax = plot_convergence(_logbook(4), log=True)
    out = save_figure(ax, tmp_path / "figs" / "convergence.png", dpi=50)
    assert out == tmp_path / "figs" / "convergence.png"
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(tmp_path / "figs") == ["convergence.png"]
    # Readable by others like any file the process writes (umask, not mkstemp's 0600).
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_figure_accepts_figure_and_other_formats(tmp_path):
    ax = plot_series(None, [1.0, 2.0], [1.5, 2.5])
    save_figure(ax.figure, tmp_path / "series.svg")
    assert (tmp_path / "series.svg").read_text().lstrip().startswith("<?xml")


def test_save_figure_errors(tmp_path):
    ax = new_axes()
    with pytest.raises(ValueError, match="'path' parameter of save_figure"):
        save_figure(ax, tmp_path / "figure.nope")
    with pytest.raises(TypeError, match="Axes or Figure"):
        save_figure("fig", tmp_path / "figure.png")
    assert os.listdir(tmp_path) == []


def test_save_figure_closes_pyplot_figures(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    plot_errors(None, [1.0, 2.0], [1.0, 3.0], ax=ax)
    assert plt.fignum_exists(fig.number)
    save_figure(ax, tmp_path / "errors.png")
    assert not plt.fignum_exists(fig.number)


def test_plotting_is_not_imported_by_the_core():
    import subprocess
    import sys

    code = "import sys, gabp; print('matplotlib' in sys.modules, 'gabp.plotting' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["False", "False"]


def test_module_lists_its_public_functions():
    for name in plotting.__all__:
        assert callable(getattr(plotting, name))


def test_convergence_shows_the_holdout_and_the_delivered_generation():
    cols = {"gen": [0, 1, 2, 3], "error_min": [3.0, 2.0, 1.0, 0.5],
            "best_so_far": [3.0, 2.0, 1.0, 0.5], "holdout_error": [3.5, 2.5, 2.5, 2.8]}
    ax = plot_convergence(cols)
    assert _labels(ax)[-2:] == ["best genome on the holdout", "delivered (best on the holdout)"]
    star = ax.lines[-1]
    # the first minimum: generation 1 (generation 2 only ties it)
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([1], [2.5])
