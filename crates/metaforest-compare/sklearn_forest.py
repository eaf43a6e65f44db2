#!/usr/bin/env python3
"""scikit-learn side of `metaforest-compare` (cargo run --release -p metaforest-compare -- --sklearn).

Reads the train/test CSVs written by the Rust benchmark (header: feature columns, then `label`),
fits sklearn.ensemble.RandomForestClassifier with the same settings and prints one JSON record:
{impl, rows, trees, fit_s, predict_rows_per_s, latency_p50_us, latency_p99_us, accuracy, macro_f1,
peak_rss_mb}.

scikit-learn is installed into a virtual environment of its own (``--venv``, default
``target/sklearn-venv`` next to this repository's root) on first use; the script re-executes itself
inside it.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
# This file lives in crates/metaforest-compare/; the venv goes to the workspace root's target/.
DEFAULT_VENV = os.path.join(os.path.dirname(os.path.dirname(HERE)), "target", "sklearn-venv")


def ensure_venv(path):
    """Re-exec inside a venv that has scikit-learn, creating it if needed."""
    if os.environ.get("MF_SKLEARN_IN_VENV") == "1":
        return
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        print(f"creating venv with scikit-learn at {path}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=False).create(path)
    check = subprocess.run([py, "-c", "import sklearn, numpy"], capture_output=True)
    if check.returncode != 0:
        subprocess.run(
            [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "scikit-learn", "numpy"],
            check=True,
            stdout=sys.stderr,
        )
    env = dict(os.environ, MF_SKLEARN_IN_VENV="1")
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:], env)


def load(path):
    import numpy as np

    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    label = header.index("label")
    y = data[:, label].astype(np.int64)
    x = np.delete(data, label, axis=1)
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-rows", type=int, default=300)
    ap.add_argument("--venv", default=os.environ.get("METAFOREST_SKLEARN_VENV", DEFAULT_VENV))
    ap.add_argument("--impl-name", default="scikit-learn")
    args = ap.parse_args()
    ensure_venv(args.venv)

    import resource

    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score

    x_train, y_train = load(args.train)
    x_test, y_test = load(args.test)
    # scikit-learn's trees work in float32 and refuse values beyond its range (NF-v2 has 2.8e47):
    # clip them to the largest float32, which keeps their order for every split that matters.
    big = float(np.finfo(np.float32).max)
    clipped = int((np.abs(x_train) > big).sum() + (np.abs(x_test) > big).sum())
    if clipped:
        print(f"clipped {clipped} values beyond float32 range for scikit-learn", file=sys.stderr)
        np.clip(x_train, -big, big, out=x_train)
        np.clip(x_test, -big, big, out=x_test)
    model = RandomForestClassifier(
        n_estimators=args.trees, max_features="sqrt", n_jobs=args.jobs, random_state=args.seed
    )
    t = time.perf_counter()
    model.fit(x_train, y_train)
    fit_s = time.perf_counter() - t

    # Best of up to 5 repetitions (stopping after a second): the least disturbed by other processes,
    # measured the same way as the Rust implementations.
    predict_s = float("inf")
    start = time.perf_counter()
    for _ in range(5):
        t = time.perf_counter()
        proba = model.predict_proba(x_test)
        predict_s = min(predict_s, time.perf_counter() - t)
        if time.perf_counter() - start > 1.0:
            break
    pred = model.classes_[np.argmax(proba, axis=1)]

    lat = []
    n_lat = min(args.latency_rows, len(x_test))
    for i in range(n_lat):
        row = x_test[i : i + 1]
        t = time.perf_counter()
        model.predict_proba(row)
        lat.append((time.perf_counter() - t) * 1e6)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(round(p / 100.0 * (len(lat) - 1))))] if lat else float("nan")

    rec = {
        "impl": args.impl_name,
        "rows": int(len(x_train)),
        "trees": args.trees,
        "fit_s": fit_s,
        "predict_rows_per_s": len(x_test) / predict_s if predict_s > 0 else float("inf"),
        "latency_p50_us": pct(50),
        "latency_p99_us": pct(99),
        "accuracy": float(accuracy_score(y_test, pred)),
        "macro_f1": float(f1_score(y_test, pred, average="macro")),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
