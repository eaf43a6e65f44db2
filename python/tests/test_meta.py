"""The meta-model and detectors from Python, and files shared with the CLI."""

import json
import os
import pickle
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from metaforest import Detector, MetaModel

# Small enough to train in seconds; the library's defaults are for real data.
QUICK = dict(n_episodes=12, ks=[2, 5], query_size=32, task_learner_trees=6, local_trees=8,
             max_epochs=2, seed=5)
NAMES = ["bytes", "packets", "duration", "port", "flags", "ttl"]


def domain(rng, shift, n=300):
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, len(NAMES))) + shift * y[:, None] * np.array([1, -1, 0.5, 0, 0, 0.2])
    return pd.DataFrame(x, columns=NAMES), y


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    # ANCHOR: fit
    # Known networks: {name: (flows as a DataFrame, 0 benign / 1 attack)}.
    known = {f"net-{i}": domain(rng, shift) for i, shift in enumerate([1.0, 1.5, 2.0])}
    model = MetaModel.fit(known, **QUICK)
    # ANCHOR_END: fit
    return model


@pytest.fixture(scope="module")
def new_domain():
    rng = np.random.default_rng(4)
    return domain(rng, 1.2, n=400)


def support_of(x, y, k=10):
    rows = np.concatenate([np.flatnonzero(y == 0)[:k], np.flatnonzero(y == 1)[:k]])
    return x.iloc[rows], y[rows]


def test_fit_adapt_predict_explain_rules(model, new_domain):
    x, y = new_domain
    assert model.known_domains == ["net-0", "net-1", "net-2"]
    assert model.feature_names == NAMES
    # ANCHOR: adapt
    support_x, support_y = support_of(x, y)  # 10 benign and 10 attack flows of the new network
    detector = model.adapt(support_x, support_y)
    scores = detector.predict_proba(x)  # attack probability of every flow
    alerts = detector.predict(x)  # 1 where the score reaches detector.threshold
    why = detector.explain(x.iloc[0])  # {score, attack, forests: [...], top_features: [...]}
    rules = detector.rules(top=5)  # [{rule: "IF ... THEN attack", precision, coverage, ...}]
    # ANCHOR_END: adapt
    assert detector.forest_names == ["net-0", "net-1", "net-2", "local"]
    assert detector.n_support == 20
    p = scores
    assert np.array_equal(alerts, detector.predict(x)) and why["score"] == pytest.approx(p[0])
    assert p.shape == (len(x),) and ((0 <= p) & (p <= 1)).all()
    assert ((p >= detector.threshold) == detector.predict(x).astype(bool)).all()
    # Separable classes: the detector ranks attacks above benign flows far better than chance.
    assert p[y == 1].mean() > p[y == 0].mean() + 0.2
    # Columns are matched by name, whatever their order in the frame.
    assert np.array_equal(detector.predict_proba(x[NAMES[::-1]]), p)
    e = detector.explain(x.iloc[0])
    assert e["score"] == pytest.approx(p[0])
    assert abs(sum(f["weight"] for f in e["forests"]) - 1) < 1e-9
    assert all(name in NAMES for name, _ in e["top_features"])
    assert 0 < len(rules) <= 5
    assert all(r["verdict"] == "attack" and r["rule"].startswith("IF ") for r in rules)
    assert sum(detector.task_weights().values()) == pytest.approx(1)


def test_unlabelled_flows_set_the_threshold(model, new_domain):
    x, y = new_domain
    detector = model.adapt(*support_of(x, y), unlabelled=x.iloc[100:])
    assert detector.uses_unlabelled
    assert "unlabelled" in detector.threshold_basis


def test_adapt_more_extends_the_support(model, new_domain):
    x, y = new_domain
    detector = model.adapt(*support_of(x, y, k=5))
    detector.adapt_more(*support_of(x.iloc[50:], y[50:], k=5))
    assert detector.n_support == 20


def test_files_bytes_and_pickles_round_trip(model, new_domain, tmp_path):
    x, y = new_domain
    detector = model.adapt(*support_of(x, y))
    model.save(tmp_path / "model.mf")
    detector.save(tmp_path / "detector.mfd")
    assert MetaModel.load(tmp_path / "model.mf").to_bytes() == model.to_bytes()
    assert Detector.load(tmp_path / "detector.mfd").to_bytes() == detector.to_bytes()
    assert pickle.loads(pickle.dumps(detector)).to_bytes() == detector.to_bytes()
    again = pickle.loads(pickle.dumps(model))
    assert again.adapt(*support_of(x, y)).to_bytes() == detector.to_bytes()
    # An untrained weighting head's fixed local share survives the file (it is read off the head).
    share = model.report()["fixed_local_share"]
    assert (share is None) == (model.report()["weight_epochs"] > 0)
    assert MetaModel.load(tmp_path / "model.mf").report()["fixed_local_share"] == share


def test_bad_input_is_a_clear_error(model, new_domain, tmp_path):
    x, y = new_domain
    benign = y == 0
    with pytest.raises(ValueError, match="no attack flows"):
        model.adapt(x[benign][:5], y[benign][:5])
    with pytest.raises(ValueError, match="labels must be 0"):
        model.adapt(x[:4], [0, 1, 2, 1])
    detector = model.adapt(*support_of(x, y))
    with pytest.raises(ValueError, match="feature width mismatch"):
        detector.predict_proba(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="lacks feature columns"):
        detector.predict_proba(x.drop(columns=["ttl"]))
    with pytest.raises(ValueError, match="not in"):
        detector.threshold = 1.5
    with pytest.raises(ValueError, match="unknown meta-training parameter"):
        MetaModel.fit({"a": (x, y), "b": (x, y)}, n_epizodes=10)
    (tmp_path / "junk.mf").write_bytes(b"not a model")
    with pytest.raises(OSError, match="junk.mf"):
        MetaModel.load(tmp_path / "junk.mf")
    model.save(tmp_path / "model.mf")
    with pytest.raises(OSError, match="model.mf"):
        Detector.load(tmp_path / "model.mf")


# ---- files shared with the CLI -------------------------------------------------------------------


def cli_binary():
    """The `metaforest` binary (run_tests.sh sets METAFOREST_BIN). Missing, the test skips, except
    under CI (METAFOREST_REQUIRE_CLI=1 or METAFOREST_REQUIRE_DATA=1), where it fails."""
    path = os.environ.get("METAFOREST_BIN") or shutil.which("metaforest")
    if path and os.path.isfile(path):
        return path
    required = os.environ.get("METAFOREST_REQUIRE_CLI") == "1" or os.environ.get(
        "METAFOREST_REQUIRE_DATA") == "1"
    message = ("no metaforest binary: build it with `cargo build --release -p metaforest-cli` and set "
               "METAFOREST_BIN")
    if required:
        pytest.fail(message)
    pytest.skip(message)


def run(*args):
    out = subprocess.run([cli_binary(), *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, f"{args} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_round_trip_with_files_the_cli_writes(tmp_path):
    cli_model = tmp_path / "cli.mf"
    run("train", "--synthetic", "--domains", "net-0,net-1", "--episodes", 12, "--trees", 6,
        "--max-rows", 1500, "--max-epochs", 2, "--local-trees", 8, "--seed", 3, "--no-progress",
        "-o", cli_model)
    # ANCHOR: cli
    model = MetaModel.load(cli_model)  # written by `metaforest train`
    # ANCHOR_END: cli
    assert model.known_domains == ["synthetic-net-0", "synthetic-net-1"]
    names = model.feature_names

    # A labelled support in the NF-v2 CSV the CLI reads; Python adapts on the same values.
    rng = np.random.default_rng(8)
    x = rng.integers(0, 5000, size=(30, len(names))).astype(np.float64)
    y = np.array([0] * 15 + [1] * 15)
    x[y == 1, :4] += 3000
    frame = pd.DataFrame(x, columns=names).astype("int64")
    frame["Label"] = y
    frame["Attack"] = np.where(y == 1, "scan", "Benign")
    support = tmp_path / "support.csv"
    frame.to_csv(support, index=False)

    cli_detector = tmp_path / "cli.mfd"
    run("adapt", cli_model, "--support", support, "-o", cli_detector)
    # ANCHOR: cli-adapt
    detector = model.adapt(x, y)
    detector.save(tmp_path / "py.mfd")  # `metaforest detect py.mfd flows.csv` reads it
    # ANCHOR_END: cli-adapt
    # Same model, same support: Python's detector is the CLI's, byte for byte.
    assert detector.to_bytes() == cli_detector.read_bytes()
    from_cli = Detector.load(cli_detector)
    assert np.array_equal(from_cli.predict_proba(x), detector.predict_proba(x))
    cli_rules = json.loads(run("rules", cli_detector, "--json", "--top", 5))["rules"]
    assert [r["rule"] for r in cli_rules] == [r["rule"] for r in detector.rules(top=5)]

    # The other way: files Python writes are read by the CLI.
    py_model = tmp_path / "py.mf"
    model.save(py_model)
    run("adapt", py_model, "--support", support, "-o", tmp_path / "from-py.mfd")
    assert (tmp_path / "from-py.mfd").read_bytes() == cli_detector.read_bytes()
    py_detector = tmp_path / "py.mfd"
    scored = run("detect", py_detector, support, "--output", "csv")
    assert len(scored.strip().splitlines()) == len(x) + 1
    # Parquet in: the same rows score the same, line for line.
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    parquet = tmp_path / "support.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet, row_group_size=8)
    assert run("detect", py_detector, parquet, "--format", "parquet", "--output", "csv") == scored
    # ANCHOR: score-file
    lines, scores = detector.score_file(parquet)  # NF-v2 column names; schema=... for others
    # ANCHOR_END: score-file
    assert lines.tolist() == list(range(2, len(x) + 2))
    assert np.array_equal(scores, detector.predict_proba(x))
