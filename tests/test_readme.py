"""The README's Python examples run as written (in order, sharing one namespace)."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def _blocks():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_python_examples():
    assert len(_blocks()) >= 5


def test_readme_examples_run(monkeypatch, tmp_path):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(_blocks()):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {i} failed: {type(exc).__name__}: {exc}")
    assert namespace["result"].baseline is not None
    assert namespace["clf"].score(namespace["iris"].X, namespace["labels"]) > 0.8
    assert namespace["search"].best_score_ < 0.5


def test_readme_setup_commands_match_ci():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    ci = open(os.path.join(os.path.dirname(README), ".ci", "run"), encoding="utf-8").read()
    test_cmd = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_cmd in text and test_cmd in ci
    assert "python -m pip install -e . && gabp run examples/sunspots.toml" in text
