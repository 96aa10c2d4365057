"""The series figure: dates, the series name, plain-BP and naive lines, the zoomed test."""

from __future__ import annotations

import numpy as np
import pytest

from gabp.plotting import new_axes, plot_series


def _data(n=700):
    dates = np.datetime64("1950-01-01", "M") + np.arange(n)
    y = np.sin(np.arange(n) / 6.0) + np.arange(n) / 100
    return dates.astype("datetime64[D]"), y


def _labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_zoom_panel_holds_the_test_part_with_baseline_and_naive_lines():
    dates, y = _data()
    p, b = y + 0.05, y - 0.05
    naive = {"persistence": np.r_[np.nan, y[:-1]]}
    regions = {"train": (dates[0], dates[489]), "validation": (dates[490], dates[594]),
               "test": (dates[595], dates[-1])}
    ax = plot_series(dates, y, p, regions=regions, baseline=b, naive=naive,
                     zoom=regions["test"], name="co2")
    assert len(ax.figure.axes) == 2
    zax = ax.figure.axes[1]
    assert _labels(ax) == ["train", "validation", "test", "co2", "predicted"]
    assert [line.get_label() for line in zax.lines] == ["co2", "GA-BP", "plain BP",
                                                          "persistence"]
    assert len(zax.lines[0].get_xdata()) == 105  # the test part only
    np.testing.assert_allclose(zax.lines[2].get_ydata(), b[595:])
    np.testing.assert_allclose(zax.lines[3].get_ydata(), y[594:-1])
    assert ax.get_ylabel() == "co2" and ax.get_xlabel() == "date"
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert any(t.isdigit() and len(t) == 4 for t in ticks)  # years on the date axis
    naive["seasonal naive"] = y  # the model's own name in the zoom, whatever comes after it
    ax = plot_series(dates, y, p, regions=regions, baseline=b, naive=naive,
                     zoom=regions["test"], label="ridge + GA-BP")
    assert [line.get_label() for line in ax.figure.axes[1].lines][1:] == [
        "ridge + GA-BP", "plain BP", "persistence", "seasonal naive"]


def test_without_zoom_extra_lines_go_on_the_main_axes_and_inset_with_given_ax():
    dates, y = _data(50)
    ax = plot_series(dates, y, y, baseline=y, naive={"seasonal naive": y})
    assert _labels(ax) == ["actual", "predicted", "plain BP", "seasonal naive"]
    ax2 = new_axes()
    out = plot_series(dates, y, y, zoom=(dates[40], dates[-1]), ax=ax2)
    assert out is ax2 and len(ax2.child_axes) == 1
    assert len(ax2.child_axes[0].lines[0].get_xdata()) == 10


def test_series_figure_argument_errors():
    with pytest.raises(ValueError, match="'zoom' parameter of plot_series"):
        plot_series(None, [1.0, 2.0], [1.0, 2.0], zoom=(1,))
    with pytest.raises(TypeError, match="'naive' parameter"):
        plot_series(None, [1.0, 2.0], [1.0, 2.0], naive=[1.0, 2.0])
    with pytest.raises(ValueError, match="same number of rows"):
        plot_series(None, [1.0, 2.0], [1.0, 2.0], baseline=[1.0])
