"""The ``gabp`` command line.

::

    gabp run CONFIG.toml [--seed N] [--n-jobs N] [--out DIR] [--name NAME] [--overwrite]
    gabp resume RUN_DIR [--n-jobs N]
    gabp report RUN_DIR
    gabp predict RUN_DIR data.csv|inputs.npy [--output FILE] [--column NAME] [--steps N]
    gabp compare RUN_DIR... [--output FIG.png] [--part test] [--x gen] [--band std]
    gabp datasets

Options ``-v`` (a log line per generation), ``-q`` (silent) and ``--debug`` go before or
after the subcommand. Every error is one line ``gabp <cmd>: error: ...`` with exit code 2;
an internal bug exits with 1 (its traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
import zipfile
from collections.abc import Iterator, Sequence
from typing import NoReturn

import numpy as np

from . import __version__

log = logging.getLogger("gabp")


def _headline(run) -> str:
    from .report import console_summary

    return console_summary(run)


def _verbosity(args: argparse.Namespace) -> int:
    """0 with -q (silent), 2 with -v (a log line per generation), else 1 (progress bar)."""
    return 0 if args.quiet else (2 if args.verbose else 1)


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiment import run_experiment

    run = run_experiment(args.config, out=args.out, name=args.name, seed=args.seed,
                         n_jobs=args.n_jobs, overwrite=args.overwrite, verbose=_verbosity(args))
    print(_headline(run))
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from .experiment import resume_experiment

    run = resume_experiment(args.run_dir, n_jobs=args.n_jobs, verbose=_verbosity(args))
    print(_headline(run))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report
    from .runs import RunLock

    if not os.path.isdir(args.run_dir):
        raise FileNotFoundError(f"{args.run_dir} is not a run folder (no such directory).")
    with RunLock(args.run_dir):  # the report writes into the folder: one writer at a time
        written = write_report(args.run_dir)
    for path in written:
        print(path)
    print(os.path.join(args.run_dir, "report.md"))
    return 0


def _series_forecast_rows(run, header: list[str], cols: list[list[str]],
                          args: argparse.Namespace) -> list[str]:
    """CSV lines of ``--steps`` dated forecasts with conformal intervals after a history."""
    from .forecasting import conformal_halfwidths, future_index, parse_times

    model, data = run.model, run.config.get("data", {})
    name = args.column
    if name is None:
        target = data.get("target")
        base = target if isinstance(target, str) else (
            model.target_names[0].split("(")[0] if model.target_names else None)
        others = [h for h in header if h.lower() not in _TIME_NAMES]
        name = base if base in header else (others[0] if len(others) == 1 else base)
    if name not in header:
        raise ValueError(f"{args.data}: the series column {name!r} is missing; columns: "
                         f"{', '.join(header)} (choose one with --column).")
    time_col = args.date_column or data.get("date_column")
    if time_col not in header:
        time_col = next((h for h in header if h.lower() in _TIME_NAMES), None)
    try:
        series = np.asarray(cols[header.index(name)], dtype=float)
    except ValueError as exc:
        raise ValueError(f"{args.data}: column {name!r} must hold numbers ({exc}).") from None
    if time_col is not None:
        from .forecasting import check_time_index

        times = parse_times(cols[header.index(time_col)], time_col, args.data)
        check_time_index(times, time_col, args.data)
        future = future_index(times, args.steps)
    else:
        time_col, future = "step", np.arange(1, args.steps + 1)
    mean = model.forecast(series, args.steps)
    residuals = (model.windowing or {}).get("residuals") or []
    lines = [f"{time_col},forecast" + (",lower,upper" if residuals else "")]
    half = conformal_halfwidths(residuals, args.steps, args.coverage) if residuals else None
    for j in range(args.steps):
        t = future[j]
        t = str(np.datetime_as_string(t, unit="D")) if isinstance(t, np.datetime64) else t
        row = f"{t},{float(mean[j])!r}"
        if half is not None:
            row += f",{float(mean[j] - half[j])!r},{float(mean[j] + half[j])!r}"
        lines.append(row)
    return lines


def _csv_inputs(path: str, names: list[str], read_table) -> np.ndarray:
    """The model's input columns of a CSV file, as float rows."""
    header, rows = read_table(path)
    cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in header]
    missing = [f for f in names if f not in header]
    if missing:
        raise ValueError(f"{path}: missing input column(s) {', '.join(missing)}; "
                         f"the model needs {', '.join(names)}.")
    return np.column_stack([np.asarray(cols[header.index(f)], dtype=float) for f in names])


_TIME_NAMES = ("year", "date", "time", "t", "month", "ds", "period")


def _read_npy(path: str) -> np.ndarray:
    """A numeric ``.npy`` array, its header checked before the data is read (no pickle)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(fh)
            count = int(np.prod(shape, dtype=np.int64))
            if dtype.hasobject or dtype.kind not in "fiu":
                raise ValueError(f"dtype {dtype}, expected numbers")
            if count * dtype.itemsize > size - fh.tell():
                raise ValueError(f"its header declares {shape} values, more than the file holds")
            data = np.fromfile(fh, dtype=dtype, count=count)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable .npy array of inputs ({exc}).") from None
    return data.reshape(shape, order="F" if fortran else "C").astype(float)


def _cmd_predict(args: argparse.Namespace) -> int:
    from .data import read_table
    from .runs import atomic_write, load_run

    run = load_run(args.run_dir)
    model = run.model
    is_npy = str(args.data).lower().endswith(".npy")  # rows (n, n_inputs) or (n, C, H, W)
    if model.task == "series":
        if is_npy:
            raise ValueError(f"{args.data}: a series model forecasts from a CSV history, "
                             "not from a .npy array.")
        header, rows = read_table(args.data)
        cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in header]
        out_rows = _series_forecast_rows(run, header, cols, args)
    else:
        X = (_read_npy(args.data) if is_npy
             else _csv_inputs(args.data, model.feature_names, read_table))
        pred = model.predict(X)
        if model.task == "classification":
            out_rows = ["prediction"] + [str(v) for v in pred]
        else:
            names = model.target_names or [f"y{j}" for j in range(pred.shape[1])]
            out_rows = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in pred]
    text = "\n".join(out_rows) + "\n"
    if args.output:
        atomic_write(args.output, text)
        print(f"wrote {len(out_rows) - 1} predictions to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .report import compare_runs

    rows, fig = compare_runs(args.run_dirs, out=args.output, part=args.part, x=args.x,
                             band=args.band, figure=not args.no_figure)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print(f"{args.part} metrics")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, ""))
                                for k in keys) + " |")
    if fig:
        print(f"figure: {fig}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from .data import list_datasets

    for name, desc in list_datasets().items():
        print(f"{name:15s} {desc}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line ``gabp <cmd>: error: ...`` (exit code 2), like the rest."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_common(p: argparse.ArgumentParser, *, default: object) -> None:
    """-v/-q/--debug, accepted before and after the subcommand."""
    p.add_argument("-v", "--verbose", action="store_true", default=default,
                   help="log one line per generation (best, mean, evaluations, failures, time)")
    p.add_argument("-q", "--quiet", action="store_true", default=default,
                   help="no progress bar and no log lines")
    p.add_argument("--debug", action="store_true", default=default,
                   help="debug logging, and the traceback of any error")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gabp``."""
    p = _Parser(prog="gabp", description="Genetic-algorithm-optimized "
                                "backpropagation networks: run, resume, report, predict.")
    p.add_argument("--version", action="version", version=f"gabp {__version__}")
    _add_common(p, default=False)
    # Subcommands repeat the options with SUPPRESS defaults: given after the subcommand
    # they are set, not given they leave the main parser's value alone.
    common = _Parser(add_help=False)
    _add_common(common, default=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", parents=[common],
                       help="run a GA-BP experiment from a TOML config")
    r.add_argument("config", help="TOML config file (see examples/)")
    r.add_argument("--seed", type=int, default=None, help="override the config's seed")
    r.add_argument("--n-jobs", type=int, default=None, help="parallel workers (joblib)")
    r.add_argument("--out", default="runs", help="parent folder of run folders (default runs)")
    r.add_argument("--name", default=None, help="run name (folder suffix)")
    r.add_argument("--overwrite", action="store_true", help="allow an existing run folder")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("resume", parents=[common],
                       help="continue an interrupted run from its checkpoint")
    s.add_argument("run_dir")
    s.add_argument("--n-jobs", type=int, default=None)
    s.set_defaults(func=_cmd_resume)

    s = sub.add_parser("report", parents=[common], help="re-draw a run's figures and report.md")
    s.add_argument("run_dir")
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("predict", parents=[common],
                       help="predict with a run's model on a CSV file")
    s.add_argument("run_dir")
    s.add_argument("data", help="CSV with the model's input columns (series: the series), "
                   "or a .npy array of rows (n, n_inputs) or, for image models, (n, C, H, W)")
    s.add_argument("--output", "-o", default=None, help="write predictions here (CSV)")
    s.add_argument("--column", default=None, help="series column (default the target name)")
    s.add_argument("--steps", type=int, default=1,
                   help="series: forecast this many values after the history (default 1)")
    s.add_argument("--coverage", type=float, default=0.9,
                   help="series: coverage of the conformal intervals (default 0.9)")
    s.add_argument("--date-column", default=None,
                   help="series: time column of the history (default the config's)")
    s.set_defaults(func=_cmd_predict)

    s = sub.add_parser("compare", parents=[common],
                       help="compare several runs: table and figure")
    s.add_argument("run_dirs", nargs="+")
    s.add_argument("--output", "-o", default=None,
                   help="figure file (default compare.png in the current folder)")
    s.add_argument("--part", default="test",
                   help="part whose metrics are compared: train, val or test (default test)")
    s.add_argument("--x", choices=("gen", "evals", "time"), default="gen",
                   help="convergence x axis: generation, evaluations or wall time")
    s.add_argument("--band", choices=("std", "minmax"), default=None,
                   help="summarize runs of the same mode as mean and band (default: a line "
                        "per run)")
    s.add_argument("--no-figure", action="store_true", help="print the table only")
    s.set_defaults(func=_cmd_compare)

    s = sub.add_parser("datasets", parents=[common], help="list the built-in datasets")
    s.set_defaults(func=_cmd_datasets)
    return p


#: Errors of the user's inputs or of the run (bad file, out of memory, every individual
#: failed ...): one line, exit code 2. Anything else is a bug in gabp: exit code 1.
USER_ERRORS = (ValueError, TypeError, KeyError, OSError, EOFError, zipfile.BadZipFile,
               MemoryError, RuntimeError)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        text = f"out of memory ({exc or 'allocation failed'})"
    elif isinstance(exc, KeyError):
        text = f"missing key {exc}"
    elif isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    run_dir = getattr(exc, "gabp_run_dir", None)
    if run_dir:
        kept = ("its checkpoint is kept" if os.path.isfile(os.path.join(run_dir, "checkpoint.npz"))
                else "no checkpoint was written")
        text += f" (run folder {run_dir} marked failed; {kept})"
    return " ".join(text.split())


@contextlib.contextmanager
def _logging(args: argparse.Namespace) -> Iterator[None]:
    """Log lines of the ``gabp`` loggers to stderr at the level -v/-q/--debug ask for."""
    level = (logging.DEBUG if args.debug else logging.INFO if args.verbose
             else logging.ERROR if args.quiet else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(level)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


def _quiet_stdout() -> None:
    """After a closed pipe (``gabp ... | head``): send further output to /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gabp`` console script.

    Returns the exit code: 0 success, 2 an error in the inputs or the run (one line on
    stderr), 1 an internal error (traceback with ``--debug`` or ``-v``), 130 interrupted.
    """
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    with _logging(args):
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    from .config import ConfigError
    from .runs import RunInterrupted

    prefix = f"gabp {args.command}"
    try:
        code = args.func(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except RunInterrupted as exc:
        print(f"\n{prefix}: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\n{prefix}: interrupted", file=sys.stderr)
        return 130
    except ConfigError as exc:
        print(f"{prefix}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except USER_ERRORS as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{prefix}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug or args.verbose:
            traceback.print_exc()
        print(f"{prefix}: internal error: {type(exc).__name__}: {_one_line(exc)} (a bug in "
              "gabp; --debug shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
