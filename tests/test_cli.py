"""The gabp command line, end to end in subprocesses."""

import os

import pytest
from helpers import gabp

TINY = """
name = "cli"
seed = 1
[data]
dataset = "sunspots"
n_lags = 5
[network]
hidden_layer_sizes = [3]
[ga]
population_size = 4
n_generations = 2
[bp]
bp_epochs = 1
max_epochs = 10
[run]
n_baseline = 2
"""




@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "tiny.toml").write_text(TINY)
    res = gabp("run", "tiny.toml", "--out", "out", "--name", "x", "-q", cwd=tmp)
    assert res.returncode == 0, res.stderr
    run_dir = next((tmp / "out").iterdir())
    return tmp, run_dir, res


def test_run_prints_folder_and_headline_metrics(cli_run):
    tmp, run_dir, res = cli_run
    assert f"run folder: {os.path.join('out', run_dir.name)}" in res.stdout
    assert "test rmse: GA-BP" in res.stdout and "plain BP" in res.stdout
    assert run_dir.name.endswith("-x")
    assert (run_dir / "report.md").is_file()


def test_report_predict_compare(cli_run):
    tmp, run_dir, _ = cli_run
    for png in run_dir.glob("*.png"):
        png.unlink()
    res = gabp("report", str(run_dir), cwd=tmp)
    assert res.returncode == 0, res.stderr
    assert (run_dir / "convergence.png").is_file()
    (tmp / "series.csv").write_text("year,value\n" + "".join(f"{1900 + i},{i % 11}\n"
                                                            for i in range(30)))
    res = gabp("predict", str(run_dir), "series.csv", "-o", "pred.csv", "--steps", "3", cwd=tmp)
    assert res.returncode == 0, res.stderr
    lines = (tmp / "pred.csv").read_text().splitlines()
    assert lines[0] == "year,forecast,lower,upper" and len(lines) == 1 + 3
    assert [line.split(",")[0] for line in lines[1:]] == ["1930", "1931", "1932"]
    res = gabp("compare", str(run_dir), str(run_dir), "-o", "cmp.png", cwd=tmp)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("| " + run_dir.name) == 2 and (tmp / "cmp.png").is_file()


def test_datasets_lists_builtins(tmp_path):
    res = gabp("datasets", cwd=tmp_path)
    assert res.returncode == 0
    for name in ("sunspots", "mackey_glass", "function", "xor", "iris", "wine",
                 "breast_cancer", "digits"):
        assert name in res.stdout


def test_bad_config_is_rejected_with_key_and_line(tmp_path):
    (tmp_path / "bad.toml").write_text('[data]\ndataset = "sunspots"\n[ga]\nmutaton = "x"\n')
    res = gabp("run", "bad.toml", cwd=tmp_path)
    assert res.returncode == 2
    assert "bad.toml, line 4: [ga] mutaton: unknown key; did you mean 'mutation'?" in res.stderr
    assert not (tmp_path / "runs").exists()  # rejected before any work


def test_resume_and_missing_checkpoint(cli_run, tmp_path):
    tmp, run_dir, _ = cli_run
    res = gabp("resume", str(run_dir), "-q", cwd=tmp)
    assert res.returncode == 0, res.stderr
    res = gabp("resume", str(tmp_path), cwd=tmp)
    assert res.returncode == 2 and "no checkpoint.npz" in res.stderr

