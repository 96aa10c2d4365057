"""The command line and run folders under bad inputs and faults (issue 13), one test per
defect, each written from its repro."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gabp.cli import main
from gabp.config import load_config
from gabp.evolution import load_checkpoint
from gabp.experiment import resume_experiment, run_experiment
from gabp.runs import RunInterrupted, RunLock, RunLockedError, load_run, read_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = """\
name = "t"
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
report = false
"""


def cli(capsys, *args):
    """Run ``gabp`` in-process; returns (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err, command="run"):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gabp {command}: error: "), err
    return lines[0]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    return tmp_path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run folder (read-only for the tests that use it)."""
    tmp = tmp_path_factory.mktemp("finished")
    (tmp / "tiny.toml").write_text(TINY)
    run = run_experiment(str(tmp / "tiny.toml"), out=tmp / "out", verbose=0)
    return run.path


# --- TOML written by gabp reads back ------------------------------------------------------

def test_hostile_description_and_name_leave_a_readable_folder(tiny, capsys):
    hostile = 'a\nb\r\t\x00\x1b[31m "q" \\ \'\'\' """ é \u2028 \x7f'
    text = TINY.replace('name = "t"', f"description = {json.dumps(hostile)}")
    (tiny / "h.toml").write_text(text.replace("\\u007f", "\\u007F"))
    code, out, err = cli(capsys, "run", "h.toml", "--out", "out", "--name", 'n"\n\x00', "-q")
    assert code == 0, err
    (folder,) = os.listdir("out")
    run = load_run(os.path.join("out", folder))
    assert run.config["description"] == hostile and run.config["name"] == 'n"\n\x00'
    assert cli(capsys, "report", run.path, "-q")[0] == 0
    assert cli(capsys, "resume", run.path, "-q")[0] == 0


def test_name_cannot_escape_out(tiny, capsys):
    code, _, err = cli(capsys, "run", "tiny.toml", "--out", "out", "--name",
                       "x/../../../escaped", "-q")
    assert code == 0, err
    (folder,) = os.listdir("out")
    assert "/" not in folder and folder.endswith("x_.._.._.._escaped")
    assert sorted(os.listdir(tiny)) == ["out", "tiny.toml"]


def test_config_with_utf8_bom_is_accepted(tiny):
    (tiny / "bom.toml").write_bytes(b"\xef\xbb\xbf" + TINY.encode())
    assert load_config("bom.toml")["ga"]["population_size"] == 4


# --- every bad config fails in one line before the run folder exists ---------------------

BAD_CONFIGS = {
    "hidden_sizes_str": (("network", "hidden_layer_sizes", '[8, "a"]'), "hidden_layer_sizes"),
    "hidden_size_zero": (("network", "hidden_layer_sizes", "[0]"), "hidden_layer_sizes"),
    "activation": (("network", "activation", '"foo"'), "activation"),
    "absurd_population": (("ga", "population_size", "10000000"), "population_size"),
    "absurd_baseline": (("run", "n_baseline", "1000000000000"), "n_baseline"),
    "negative_baseline": (("run", "n_baseline", "-1"), "n_baseline"),
    "checkpoint_every": (("run", "checkpoint_every", "0"), "checkpoint_every"),
    "features_float": (("data", "features", "[1.5]"), "features"),
    "delimiter": (("data", "delimiter", '"ab"'), "delimiter"),
    "fractions": (("data", "test_fraction", "0.9"), "test_fraction"),
    "feature_range": (("data", "feature_range", "[1, 0]"), "feature_range"),
    "n_lags": (("data", "n_lags", "0"), "n_lags"),
}


def _with(text, section, key, value):
    lines, out, cur, done = text.splitlines(), [], "", False
    for line in lines:
        if line.startswith("["):
            cur = line.strip("[]")
        if cur == section and line.startswith(f"{key} ="):
            out.append(f"{key} = {value}")
            done = True
        else:
            out.append(line)
            if cur == section and line.startswith("[") and not any(
                    x.startswith(f"{key} =") for x in lines):
                out.append(f"{key} = {value}")
                done = True
    assert done
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_in_one_line_before_the_folder(tiny, capsys, case):
    (section, key, value), name = BAD_CONFIGS[case]
    (tiny / "bad.toml").write_text(_with(TINY, section, key, value))
    code, _, err = cli(capsys, "run", "bad.toml", "--out", "out")
    assert code == 2
    line = one_line_error(err)
    assert "bad.toml, line " in line and name in line
    assert not (tiny / "out").exists()


@pytest.mark.parametrize("top, name", [("seed = -1", "seed"), ("n_jobs = 0", "n_jobs")])
def test_bad_top_level_keys_name_the_key_and_line(tiny, capsys, top, name):
    (tiny / "bad.toml").write_text(TINY.replace("seed = 1", top))
    code, _, err = cli(capsys, "run", "bad.toml", "--out", "out")
    assert code == 2
    assert f"bad.toml, line 2: {name}:" in one_line_error(err)
    assert not (tiny / "out").exists()


CSV_CONFIG = """\
seed = 1
[data]
csv = "{csv}"
target = "y"
{extra}
[network]
hidden_layer_sizes = [3]
[ga]
population_size = 4
n_generations = 1
[bp]
bp_epochs = 1
max_epochs = 5
[run]
n_baseline = 1
report = false
"""

BAD_DATA = {
    "fake_gzip": ("d.csv.gz", b"a,y\n1,2\n3,4\n", "", "not a valid gzip file"),
    "undecodable": ("d.csv", "a,y\n1,\xe9\n".encode("latin-1"), "", "not UTF-8"),
    "one_row": ("d.csv", b"a,y\n1,2\n", "", "training row"),
    "three_rows": ("d.csv", b"a,y\n1,2\n2,3\n3,5\n", "", "gives no val row"),
    "constant_target": ("d.csv", "".join(["a,y\n"] + [f"{i},5\n" for i in range(40)]).encode(),
                        "", "is constant"),
    "single_class": ("d.csv", "".join(["a,y\n"] + [f"{i},cat\n" for i in range(40)]).encode(),
                     'task = "classification"', "single class"),
    "missing_column": ("d.csv", b"a,b\n1,2\n2,3\n", "", "must name a column"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_degenerate_or_broken_data_is_refused_before_the_folder(tiny, capsys, case):
    fname, content, extra, expected = BAD_DATA[case]
    (tiny / fname).write_bytes(content)
    (tiny / "c.toml").write_text(CSV_CONFIG.format(csv=fname, extra=extra))
    code, _, err = cli(capsys, "run", "c.toml", "--out", "out")
    assert code == 2
    line = one_line_error(err)
    assert expected in line and "c.toml, line " in line and "[data]" in line
    assert not (tiny / "out").exists()


def test_bad_overrides_are_one_line_errors(tiny, capsys):
    code, _, err = cli(capsys, "run", "tiny.toml", "--seed", "-3", "--out", "out")
    assert code == 2 and "'seed'" in one_line_error(err)
    code, _, err = cli(capsys, "run", "tiny.toml", "--n-jobs", "0", "--out", "out")
    assert code == 2 and "'n_jobs'" in one_line_error(err)
    assert not (tiny / "out").exists()


# --- runtime failures: one line, folder marked failed, checkpoint kept --------------------

def test_runtime_failure_marks_the_folder_failed_and_keeps_the_checkpoint(tiny):
    def boom(state):
        if state.generation == 1:
            raise RuntimeError("worker died")
        return False

    cfg = load_config("tiny.toml")
    cfg["run"]["checkpoint_every"] = 1
    with pytest.raises(RuntimeError, match="worker died") as info:
        run_experiment(cfg, out="out", verbose=0, callbacks=[boom])
    path = info.value.gabp_run_dir
    meta = read_json(os.path.join(path, "meta.json"))
    assert meta["status"] == "failed" and "worker died" in meta["error"]
    assert meta["last_checkpoint_generation"] == 1
    assert load_checkpoint(os.path.join(path, "checkpoint.npz"))["generation"] == 1
    assert not os.path.exists(os.path.join(path, ".lock"))
    resumed = resume_experiment(path, verbose=0)  # what was checkpointed is usable
    assert resumed.meta["status"] == "finished"


def test_cli_runtime_failure_is_one_line_naming_the_folder(tiny, capsys, monkeypatch):
    import gabp.experiment as experiment

    def failing_evolve(*args, **kwargs):
        raise RuntimeError("Every individual of the initial population failed")

    monkeypatch.setattr(experiment, "evolve", failing_evolve)
    code, _, err = cli(capsys, "run", "tiny.toml", "--out", "out")
    assert code == 2
    line = one_line_error(err)
    assert "initial population failed" in line and "marked failed" in line
    (folder,) = os.listdir("out")
    assert read_json(os.path.join("out", folder, "meta.json"))["status"] == "failed"


def test_every_individual_failing_is_one_line_and_marks_the_folder(tiny, capsys):
    (tiny / "lr.toml").write_text(TINY.replace("max_epochs = 10",
                                               "max_epochs = 10\nlearning_rate = 1e300"))
    code, _, err = cli(capsys, "run", "lr.toml", "--out", "out", "-q")
    assert code == 2
    line = one_line_error(err)
    assert "Every individual of the initial population failed" in line
    assert "marked failed; no checkpoint was written" in line
    (folder,) = os.listdir("out")
    meta = read_json(os.path.join("out", folder, "meta.json"))
    assert meta["status"] == "failed" and meta["last_checkpoint_generation"] is None


def test_internal_bug_exits_1_with_traceback_only_under_debug(tiny, capsys, monkeypatch):
    import gabp.experiment as experiment

    def buggy(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'x'")

    monkeypatch.setattr(experiment, "evolve", buggy)
    code, _, err = cli(capsys, "run", "tiny.toml", "--out", "out", "-q")
    assert code == 1 and "internal error" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "run", "tiny.toml", "--out", "out2", "-q", "--debug")
    assert code == 1 and "Traceback" in err


def test_resume_of_damaged_checkpoints_is_one_line(finished, tmp_path, capsys):
    import shutil

    ck = os.path.join(finished, "checkpoint.npz")
    data = open(ck, "rb").read()
    for name, content in (("truncated", data[: len(data) // 2]),
                          ("random", np.random.default_rng(0).bytes(3000)),
                          ("empty", b"")):
        folder = tmp_path / name
        shutil.copytree(finished, folder)
        (folder / "checkpoint.npz").write_bytes(content)
        code, _, err = cli(capsys, "resume", str(folder), "-q")
        assert code == 2
        line = one_line_error(err, "resume")
        assert "checkpoint.npz is not a valid gabp checkpoint" in line
        assert "pickled" not in line
        assert read_json(str(folder / "meta.json"))["status"] == "finished"  # untouched


def test_predict_on_a_model_missing_a_key_is_one_line(finished, tmp_path, capsys):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    with np.load(folder / "model.npz") as d:
        meta, params = json.loads(str(d["meta"])), d["params"]
    del meta["extra"]["x_scaler"]
    np.savez(folder / "model.npz", params=params, meta=np.array(json.dumps(meta)))
    (tmp_path / "s.csv").write_text("year,v\n" + "".join(f"{i},{i % 7}\n" for i in range(20)))
    code, _, err = cli(capsys, "predict", str(folder), str(tmp_path / "s.csv"))
    assert code == 2 and "the key 'x_scaler' is missing" in one_line_error(err, "predict")


def test_report_on_a_logbook_with_wrong_types_is_one_line(finished, tmp_path, capsys):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    lines = (folder / "logbook.csv").read_text().splitlines()
    lines[1:] = [",".join(["abc"] * len(lines[0].split(",")))] * (len(lines) - 1)
    (folder / "logbook.csv").write_text("\n".join(lines) + "\n")
    code, _, err = cli(capsys, "report", str(folder))
    assert code in (0, 2)
    if code == 2:
        one_line_error(err, "report")


# --- one writer per folder ----------------------------------------------------------------

def _sleeper():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_lock_refuses_a_second_writer_and_takes_over_stale_locks(tmp_path):
    holder = _sleeper()
    try:
        (tmp_path / ".lock").write_text(f"{holder.pid} {os.uname().nodename}\n")
        with pytest.raises(RunLockedError, match=f"in use by process {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path) as lock:  # the holder is gone: a stale lock
        assert lock.held and (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


def test_overwrite_and_resume_respect_a_held_lock(finished, tmp_path):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    before = {p: (folder / p).read_bytes() for p in os.listdir(folder)}
    holder = _sleeper()
    try:
        (folder / ".lock").write_text(f"{holder.pid} {os.uname().nodename}\n")
        with pytest.raises(RunLockedError):
            run_experiment(str(folder / "config.toml"), run_dir=folder, overwrite=True,
                           verbose=0)
        with pytest.raises(RunLockedError):
            resume_experiment(folder, verbose=0)
    finally:
        holder.kill()
        holder.wait()
    (folder / ".lock").unlink()
    assert {p: (folder / p).read_bytes() for p in os.listdir(folder)} == before


def test_two_overwrite_runs_with_one_name_never_mix(tiny):
    """Two concurrent --overwrite runs into one folder: one wins, the other fails cleanly."""
    cfg = TINY.replace("n_generations = 2", "n_generations = 40")
    (tiny / "slow.toml").write_text(cfg)
    procs = [subprocess.Popen(
        [sys.executable, "-c", "import sys; from gabp.experiment import run_experiment; "
         f"run_experiment('slow.toml', run_dir='r', overwrite=True, seed={s}, verbose=0)"],
        cwd=tiny, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=ROOT))
        for s in (1, 2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes, errs
    for code, err in zip(codes, errs, strict=True):
        assert code == 0 or "RunLockedError" in err or "exists already" in err
    run = load_run(tiny / "r")
    seed = run.meta["seed"]
    assert run.config["seed"] == seed
    assert load_checkpoint(tiny / "r" / "checkpoint.npz")["config"]["seed"] == int(
        np.random.SeedSequence(seed).entropy)


# --- interrupted runs are honest ----------------------------------------------------------

def _wait_for(path, timeout=120):
    t0 = time.monotonic()
    while not os.path.exists(path):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(path)
        time.sleep(0.05)


def test_sigterm_marks_interrupted_and_prints_the_resume_command(tiny):
    cfg = TINY.replace("n_generations = 2", "n_generations = 100000").replace(
        "n_baseline = 2", "n_baseline = 2\ncheckpoint_every = 1")
    (tiny / "long.toml").write_text(cfg)
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "gabp", "run", "long.toml", "--out", "out",
                             "-q"], cwd=tiny, env=env, stderr=subprocess.PIPE, text=True)
    while not (tiny / "out").exists() or not os.listdir(tiny / "out"):
        time.sleep(0.05)
    folder = os.path.join("out", os.listdir(tiny / "out")[0])
    _wait_for(tiny / folder / "checkpoint.npz")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    meta = read_json(str(tiny / folder / "meta.json"))
    assert meta["status"] == "interrupted"
    gen = meta["last_checkpoint_generation"]
    assert isinstance(gen, int) and gen >= 0
    assert f"gabp resume {folder}" in err and f"generation {gen}" in err
    assert not [f for f in os.listdir(tiny / folder) if f.endswith(".tmp") or f == ".lock"]


def test_killed_resume_leaves_a_stale_lock_that_the_next_resume_takes_over(finished,
                                                                          tmp_path):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    (folder / ".lock").write_text("999999999 " + os.uname().nodename + "\n")  # a dead pid
    (folder / ".gabp-meta.json.abc.tmp").write_text("half")  # a killed writer's temporary
    run = resume_experiment(folder, verbose=0)
    assert run.meta["status"] == "finished" and run.meta["resumed"]
    assert sorted(f for f in os.listdir(folder) if f.startswith(".")) == []


def test_interrupt_in_the_library_raises_run_interrupted(tiny):
    def stop(state):
        if state.generation == 1:
            raise KeyboardInterrupt
        return False

    cfg = load_config("tiny.toml")
    cfg["run"]["checkpoint_every"] = 1
    with pytest.raises(RunInterrupted) as info:
        run_experiment(cfg, out="out", verbose=0, callbacks=[stop])
    assert info.value.generation == 1
    assert f"gabp resume {info.value.path}" in str(info.value)
    assert read_json(os.path.join(info.value.path, "meta.json"))["status"] == "interrupted"


# --- checkpoint cost independent of the generation number ---------------------------------

def test_checkpoint_size_is_constant_and_the_logbook_is_appended(tiny):
    sizes, lines = [], []

    def watch(state):
        sizes.append(os.path.getsize(ck))
        with open(ck.replace(".npz", ".logbook.jsonl")) as fh:
            lines.append(len(fh.readlines()))
        return False

    cfg = load_config("tiny.toml")
    cfg["ga"]["n_generations"] = 12
    cfg["run"]["checkpoint_every"] = 1
    os.makedirs("r")
    ck = os.path.abspath("r/checkpoint.npz")
    run = run_experiment(cfg, run_dir="r", verbose=0, callbacks=[watch])
    # The .npz does not grow with the generation number (once the hall of fame is full;
    # a logbook record is ~250 bytes, so rewriting it would add that every generation).
    late = sizes[6:]
    assert max(late) - min(late) < 64, sizes
    assert lines == list(range(1, 14))
    assert len(load_checkpoint(ck)["logbook"]) == 13 == len(run.logbook)


def test_resume_ignores_logbook_lines_past_the_checkpoint(finished, tmp_path):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    jsonl = folder / "checkpoint.logbook.jsonl"
    n = len(jsonl.read_text().splitlines())
    with open(jsonl, "a") as fh:
        fh.write('{"gen": 99, "half a li')  # a run killed while appending
    assert len(load_checkpoint(folder / "checkpoint.npz")["logbook"]) == n
    run = resume_experiment(folder, verbose=0)
    assert len(jsonl.read_text().splitlines()) == n and len(run.logbook) == n


def test_resume_after_interrupt_equals_the_uninterrupted_run(tiny):
    def stop(state):
        if state.generation == 2:
            raise KeyboardInterrupt
        return False

    cfg = load_config("tiny.toml")
    cfg["ga"]["n_generations"] = 5
    cfg["run"]["checkpoint_every"] = 1
    full = run_experiment(cfg, out="a", verbose=0)
    with pytest.raises(RunInterrupted) as info:
        run_experiment(cfg, out="b", verbose=0, callbacks=[stop])
    resumed = resume_experiment(info.value.path, verbose=0)
    drop = ("elapsed",)
    assert ([{k: v for k, v in r.items() if k not in drop} for r in resumed.logbook]
            == [{k: v for k, v in r.items() if k not in drop} for r in full.logbook])
    assert resumed.metrics["gabp"] == full.metrics["gabp"]


# --- verbosity, option placement, closed pipes --------------------------------------------

def test_verbose_logs_one_line_per_generation_and_quiet_silences(tiny, capsys):
    code, _, err = cli(capsys, "run", "tiny.toml", "--out", "out", "-v")
    assert code == 0, err
    gen_lines = [line for line in err.splitlines() if line.startswith("generation ")]
    assert len(gen_lines) == 3
    for line in gen_lines:
        for word in ("best", "mean", "evaluations", "failed", " s"):
            assert word in line
    code, out, err = cli(capsys, "-q", "run", "tiny.toml", "--out", "out2")
    assert code == 0 and err == "" and "run folder" in out


def test_options_before_or_after_the_subcommand(tiny, capsys):
    a = cli(capsys, "-v", "datasets")
    b = cli(capsys, "datasets", "-v")
    assert a[0] == b[0] == 0 and a[1] == b[1]


def test_closed_pipe_ends_quietly(finished, tmp_path):
    (tmp_path / "s.csv").write_text("year,v\n" + "".join(f"{i},{i % 7}\n"
                                                         for i in range(200000)))
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=ROOT)
    res = subprocess.run(f"{sys.executable} -m gabp predict {finished} s.csv --steps 50000 "
                         "| head -n 2", shell=True, cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.stdout.splitlines()[0] == "year,forecast,lower,upper"
    assert res.stderr == ""


def test_usage_errors_are_one_line(tiny, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "tiny.toml", "--seed", "x"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert one_line_error(err).endswith("invalid int value: 'x' (see gabp run --help)")


def test_report_on_a_killed_run_says_so_and_how_to_resume(tiny, capsys):
    """SIGKILL leaves status "running" and a lock of a dead process: report explains."""
    os.makedirs("k")
    with open("k/meta.json", "w") as fh:
        json.dump({"status": "running"}, fh)
    (tiny / "k" / ".lock").write_text("999999999 " + os.uname().nodename + "\n")
    (tiny / "k" / "checkpoint.npz").write_bytes(b"")
    code, _, err = cli(capsys, "report", "k")
    assert code == 2
    assert "its process was killed; continue it with: gabp resume k" in one_line_error(
        err, "report")


def test_undecodable_run_files_name_the_file(finished, tmp_path, capsys):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    (folder / "logbook.csv").write_bytes(b"gen,error_min\n\xff\xfe,1\n")
    code, _, err = cli(capsys, "report", str(folder))
    assert code == 2 and "logbook.csv is not a readable UTF-8 CSV" in one_line_error(
        err, "report")
    (folder / "metrics.json").write_text("{not json")
    code, _, err = cli(capsys, "compare", str(folder))
    assert code == 2 and "metrics.json is not valid JSON" in one_line_error(err, "compare")


def test_report_respects_the_lock_of_a_running_writer(finished, tmp_path, capsys):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(finished, folder)
    holder = _sleeper()
    try:
        (folder / ".lock").write_text(f"{holder.pid} {os.uname().nodename}\n")
        code, _, err = cli(capsys, "report", str(folder))
        assert code == 2 and f"in use by process {holder.pid}" in one_line_error(err,
                                                                                 "report")
    finally:
        holder.kill()
        holder.wait()
    assert cli(capsys, "report", str(folder))[0] == 0
    assert not (folder / ".lock").exists()
