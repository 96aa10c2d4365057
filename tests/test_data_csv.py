import gzip

import numpy as np
import pytest

from gabp.data import load_csv, read_table


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_regression_by_name_and_index(tmp_path):
    path = _write(tmp_path, "a,b,y\n1,2,3\n4,5,6\n")
    ds = load_csv(path, target="y")
    assert ds.task == "regression" and ds.name == "data"
    np.testing.assert_array_equal(ds.X, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(ds.y, [[3], [6]])
    assert ds.feature_names == ["a", "b"] and ds.target_names == ["y"]
    ds2 = load_csv(path, target=[0, -1], features=["b"])
    np.testing.assert_array_equal(ds2.y, [[1, 3], [4, 6]])
    np.testing.assert_array_equal(ds2.X, [[2], [5]])


def test_classification_string_labels(tmp_path):
    path = _write(tmp_path, "x1,x2,kind\n0,1,dog\n1,0,cat\n1,1,dog\n")
    ds = load_csv(path, target="kind", task="classification")
    assert ds.target_names == ["cat", "dog"]
    np.testing.assert_array_equal(ds.y, [1, 0, 1])


def test_series_with_date_column(tmp_path):
    rows = "\n".join(f"{2000 + i},{i * 1.5},{i % 2}" for i in range(6))
    path = _write(tmp_path, "year,value,flag\n" + rows + "\n")
    ds = load_csv(path, target="value", date_column="year", n_lags=2)
    assert ds.task == "series"
    np.testing.assert_array_equal(ds.series_index, np.arange(2000, 2006))
    np.testing.assert_array_equal(ds.X[0], [0.0, 1.5, 1.0])  # two lags + flag at origin
    np.testing.assert_array_equal(ds.y[:, 0], [3.0, 4.5, 6.0, 7.5])
    np.testing.assert_array_equal(ds.index, [2002, 2003, 2004, 2005])


def test_iso_dates_and_gzip(tmp_path):
    path = tmp_path / "s.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n")
    ds = load_csv(path, target="v", date_column="date", features=[])
    assert ds.series_index.dtype.kind == "M" and ds.name == "s"
    assert read_table(path)[0] == ["date", "v"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="CSV file not found: .*nope.csv"):
        load_csv(tmp_path / "nope.csv", target="y")


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        load_csv(_write(tmp_path, "\n\n"), target="y")
    with pytest.raises(ValueError, match="has a header but no data rows"):
        load_csv(_write(tmp_path, "a,y\n", "h.csv"), target="y")


def test_non_numeric_cell_names_line_and_column(tmp_path):
    path = _write(tmp_path, "a,b,y\n1,2,3\n4,oops,6\n")
    with pytest.raises(
        ValueError,
        match=r"non-numeric value 'oops' at line 3 \(data row 2\), "
        r"column 'b'",
    ):
        load_csv(path, target="y")


@pytest.mark.parametrize("cell", ["", "NA", "nan"])
def test_missing_value_names_line_and_column(tmp_path, cell):
    path = _write(tmp_path, f"a,b,y\n1,2,3\n4,5,6\n7,8,{cell}\n")
    with pytest.raises(ValueError, match=r"missing value at line 4 \(data row 3\), column 'y'"):
        load_csv(path, target="y")


def test_unknown_target_column(tmp_path):
    path = _write(tmp_path, "a,b,y\n1,2,3\n")
    with pytest.raises(
        ValueError,
        match="'target' parameter of load_csv must name a column "
        ".*Got 'z' instead. Columns: a, b, y",
    ):
        load_csv(path, target="z")
    with pytest.raises(
        ValueError,
        match="'target' parameter of load_csv must be an integer "
        r"in \[-3, 2\]",
    ):
        load_csv(path, target=5)


def test_ragged_row_and_bad_task(tmp_path):
    with pytest.raises(ValueError, match="line 3: 2 fields, but the header has 3 columns"):
        load_csv(_write(tmp_path, "a,b,y\n1,2,3\n4,5\n"), target="y")
    with pytest.raises(ValueError, match="'task' parameter of load_csv must be one of"):
        load_csv(_write(tmp_path, "a,y\n1,2\n", "t.csv"), target="y", task="clustering")


def test_csv_series_with_exog_through_split_task(tmp_path):
    from gabp.data import split_task

    rows = "\n".join(f"{2000 + i},{np.sin(i):.6f},{i}" for i in range(40))
    path = _write(tmp_path, "year,v,ex\n" + rows + "\n")
    ds = load_csv(path, target="v", date_column="year", n_lags=3)
    assert ds.feature_names == ["v(t-2)", "v(t-1)", "v(t)", "ex"]
    task = split_task(ds)
    assert task.X_train.shape[1] == 4 and task.feature_names == ds.feature_names
    assert task.index_train.max() < task.index_val.min() < task.index_test.min()
    custom = split_task(ds, n_lags=2, horizon=[1, 2])
    assert custom.feature_names == ["v(t-1)", "v(t)", "ex"]  # the column keeps its name
    assert custom.target_names == ["v(t+1)", "v(t+2)"]
