"""Untrusted files, TOML round trips, labels and messages at the public doors (issue 13)."""

import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from gabp import GABPClassifier
from gabp._files import NpzReader, atomic_open, remove_temporaries
from gabp.config import dump_toml, memory_estimate, resolve_config, toml_string
from gabp.data import load_csv
from gabp.data.encoding import OneHotEncoder, as_labels
from gabp.evolution import GAConfig, evolve, load_checkpoint
from gabp.model import Model
from gabp.network import Network, load_network, save_network

if __import__("sys").version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# --- TOML writer -----------------------------------------------------------------------------

HOSTILE = [
    "", "plain", 'quote " inside', "back\\slash", "new\nline", "cr\rlf\r\n", "tab\tx",
    "nul\x00", "bell\x07 esc\x1b[31m", "del\x7f", "unicode é ✓ 漢字 \U0001F600",
    "line sep \u2028 para \u2029", "'''", '"""', "'", "a = 1\n[evil]\nb = 2",
    "\\u0041 not an escape", "#comment", "".join(chr(c) for c in range(32)) + "\x7f",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_toml_string_round_trips_every_hostile_string(text):
    assert tomllib.loads("x = " + toml_string(text))["x"] == text


def test_toml_string_escapes_every_control_character():
    for code in list(range(32)) + [127]:
        assert tomllib.loads("x = " + toml_string(chr(code)))["x"] == chr(code)


def test_dump_toml_round_trips_a_config_with_hostile_values():
    cfg = resolve_config({"name": "n\n\"x\"", "description": "".join(HOSTILE), "seed": 1,
                          "data": {"dataset": "sunspots"}})
    cfg["search"] = {"space": {"weird key\n": [1, 2], "ok": ["a\tb", "c"]}}
    back = tomllib.loads(dump_toml(cfg))
    assert back["name"] == cfg["name"] and back["description"] == cfg["description"]
    assert back["search"]["space"] == cfg["search"]["space"]
    assert back["data"]["feature_range"] == cfg["data"]["feature_range"]


def test_toml_string_refuses_lone_surrogates():
    with pytest.raises(ValueError, match="surrogate"):
        toml_string("\udc80")


# --- bounded loading of untrusted .npz files ---------------------------------------------------

def _model_file(tmp_path):
    net = Network((2, 3, 1), seed=0)
    model = Model(network=net, task="regression")
    path = tmp_path / "model.npz"
    model.save(path)
    return path, net


def test_model_round_trip_through_the_bounded_reader(tmp_path):
    path, net = _model_file(tmp_path)
    back = Model.load(path)
    np.testing.assert_array_equal(back.network.params, net.params)


def test_zip_bomb_model_is_refused_without_inflating_it(tmp_path):
    path, _ = _model_file(tmp_path)
    with np.load(path) as d:
        meta = str(d["meta"])
    bomb = tmp_path / "bomb.npz"
    header = io.BytesIO()
    n = 50 * 2**20 // 8  # 50 MB of zeros compress to ~50 kB
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (1, n)})
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        buf = io.BytesIO()
        np.save(buf, np.array(meta))
        zf.writestr("meta.npy", buf.getvalue())
        with zf.open("params.npy", "w", force_zip64=True) as fh:
            fh.write(header.getvalue())
            zero = bytes(2**20)
            for _ in range(50):
                fh.write(zero)
    assert os.path.getsize(bomb) < 2**20
    tracemalloc.start()
    with pytest.raises(ValueError, match="bomb.npz is not a valid gabp network file"):
        Model.load(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 2**20


def test_npy_header_claiming_1e11_floats_is_refused(tmp_path):
    path, _ = _model_file(tmp_path)
    with np.load(path) as d:
        meta = str(d["meta"])
    liar = tmp_path / "liar.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**11 // 13, 13)})
    with zipfile.ZipFile(liar, "w") as zf:
        buf = io.BytesIO()
        np.save(buf, np.array(meta))
        zf.writestr("meta.npy", buf.getvalue())
        zf.writestr("params.npy", header.getvalue() + bytes(64))
    assert os.path.getsize(liar) < 4000
    with pytest.raises(ValueError, match="declares .* bytes of data"):
        load_network(liar)


@pytest.mark.parametrize("content, match", [
    (b"", "not a readable .npz"),
    (b"PK\x03\x04garbage", "not a readable .npz"),
    (np.random.default_rng(0).bytes(500), "not a readable .npz"),
])
def test_garbage_files_are_refused_with_the_file_name(tmp_path, content, match):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    for loader in (load_network, load_checkpoint, Model.load):
        with pytest.raises(ValueError, match=match) as info:
            loader(bad)
        assert "bad.npz" in str(info.value) and "pickle" not in str(info.value)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    bad = tmp_path / "obj.npz"
    np.savez(bad, params=np.array([{"a": 1}], dtype=object), meta=np.array("{}"))
    with NpzReader(bad, "test file") as npz, pytest.raises(ValueError, match="no pickle"):
        npz.read("params")


def test_wrong_shape_against_the_architecture_is_refused(tmp_path):
    path = tmp_path / "net.npz"
    save_network(path, Network((2, 3, 1), seed=0))
    with np.load(path) as d:
        meta = str(d["meta"])
    np.savez(path, params=np.zeros((1, 99)), meta=np.array(meta))
    with pytest.raises(ValueError, match=r"shape \(1, 99\), expected \(any, 13\)"):
        load_network(path)


def test_checkpoint_with_wrong_population_shape_is_refused(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 2))
    ck = tmp_path / "ck.npz"
    evolve(X, X[:, :1], X, X[:, :1], hidden_layer_sizes=(3,), mode="classic",
           ga=GAConfig(population_size=4, n_generations=1), n_baseline=0, seed=0,
           checkpoint_path=ck)
    with zipfile.ZipFile(ck) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO()
    np.save(buf, np.zeros((400, 13)))
    members["population.npy"] = buf.getvalue()
    with zipfile.ZipFile(ck, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(ValueError, match="population"):
        load_checkpoint(ck)


# --- unique temporaries ------------------------------------------------------------------------

def test_atomic_open_uses_unique_temporaries_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "f.txt"
    with atomic_open(target, "w") as a, atomic_open(target, "w") as b:
        assert a.name != b.name
        a.write("a")
        b.write("b")
    assert target.read_text() in ("a", "b")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as fh:
        fh.write("half")
        raise RuntimeError
    assert target.read_text() in ("a", "b") and os.listdir(tmp_path) == ["f.txt"]
    (tmp_path / ".gabp-x.tmp").write_text("stray")
    assert remove_temporaries(tmp_path) == [".gabp-x.tmp"]


# --- labels --------------------------------------------------------------------------------------

def test_mixed_label_types_are_refused_clearly():
    with pytest.raises(TypeError, match="one type .* number and string labels .* position 3"):
        OneHotEncoder().fit([1, 2, 1, "a"])
    X = np.random.default_rng(0).normal(size=(8, 2))
    with pytest.raises(TypeError, match="'y' parameter of GABPClassifier"):
        GABPClassifier(population_size=4, n_generations=1).fit(X, [1, 2, 1, 2, 1, 2, 1, "a"])


def test_none_is_not_a_class():
    with pytest.raises(TypeError, match="not None.* position 1"):
        OneHotEncoder().fit(["a", None, "b"])


def test_one_type_rule_keeps_numbers_numbers_and_strings_strings():
    assert as_labels([1, 2, 3]).dtype.kind == "i"
    assert as_labels(np.array(["x", "y"], dtype=object)).dtype.kind == "U"
    enc = OneHotEncoder().fit([3, 1, 2])
    assert enc.classes_.tolist() == [1, 2, 3] and enc.encode([1]).tolist() == [0]


# --- CSV files ---------------------------------------------------------------------------

def test_csv_errors_name_the_file(tmp_path):
    (tmp_path / "fake.csv.gz").write_text("a,y\n1,2\n")
    with pytest.raises(ValueError, match="fake.csv.gz' ends in .gz but is not a valid gzip"):
        load_csv(tmp_path / "fake.csv.gz", target="y")
    (tmp_path / "latin.csv").write_bytes("a,y\n1,\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.csv' is not UTF-8 text"):
        load_csv(tmp_path / "latin.csv", target="y")
    (tmp_path / "ok.csv").write_text("a,y\n1,2\n")
    with pytest.raises(ValueError, match="'delimiter' parameter of load_csv"):
        load_csv(tmp_path / "ok.csv", target="y", delimiter=";;")


# --- messages at evolve's door -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, name", [
    ({"n_jobs": "2"}, TypeError, "n_jobs"),
    ({"n_jobs": 0}, ValueError, "n_jobs"),
    ({"hidden_layer_sizes": 5}, TypeError, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": [8, "a"]}, TypeError, "hidden_layer_sizes"),
    ({"ga": "x"}, TypeError, "ga"),
    ({"bp": {"learning_rate": 1}}, TypeError, "bp"),
])
def test_evolve_messages_name_the_parameter(kwargs, exc, name):
    X = np.zeros((6, 2))
    with pytest.raises(exc, match=f"The '{name}' parameter of evolve"):
        evolve(X, X[:, 0], X, X[:, 0], **kwargs)


# --- memory estimate -----------------------------------------------------------------------------

def test_memory_estimate_scales_with_population_and_baseline():
    cfg = resolve_config({"data": {"dataset": "sunspots"}})
    small = memory_estimate(cfg, n_inputs=5, n_outputs=1, n_train=200, n_fit=50)
    cfg["ga"]["population_size"] *= 10
    cfg["run"]["n_baseline"] *= 10
    big = memory_estimate(cfg, n_inputs=5, n_outputs=1, n_train=200, n_fit=50)
    for key in small:
        assert 5 < big[key] / small[key] < 11
    assert json.dumps(big)  # plain ints


def test_network_predict_names_a_bad_member():
    import pytest

    from gabp import Network

    net = Network((2, 3, 1), n_networks=2, seed=0)
    with pytest.raises(ValueError, match="'member' parameter of Network.predict"):
        net.predict([[0.0, 1.0]], member=5)
    with pytest.raises(TypeError):
        net.predict([[0.0, 1.0]], member="a")
