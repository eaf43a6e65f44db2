"""metaforest's RandomForestClassifier against scikit-learn's, on the same rows, from Python.

    python python/bench/vs_sklearn.py [--rows 100000] [--features 40] [--trees 100] [--jobs 2]

Both forests get the same synthetic rows (seeded), the same number of trees, unlimited depth, sqrt
features per split and the same thread count. Prints fit time, predict_proba throughput and one-row
latency for each, side by side, with metaforest/scikit-learn ratios (speed-ups > 1 favour metaforest),
and the test accuracy of each so that a speed-up is not bought with a worse model.
"""

import argparse
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier as SkForest

from metaforest import RandomForestClassifier as MfForest


def synthetic(rows, features, seed):
    """Two classes that differ in a third of the features, with label noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    x = rng.normal(size=(rows, features))
    informative = features // 3
    x[:, :informative] += y[:, None] * rng.uniform(0.2, 1.0, informative)
    flip = rng.random(rows) < 0.05
    return x, np.where(flip, 1 - y, y)


def best_of(repeats, fn):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(model, x_train, y_train, x_test, y_test, repeats):
    fit = best_of(1, lambda: model.fit(x_train, y_train))
    batch = best_of(repeats, lambda: model.predict_proba(x_test))
    row = x_test[:1]
    model.predict_proba(row)
    one = best_of(repeats * 20, lambda: model.predict_proba(row))
    accuracy = float((model.predict(x_test) == y_test).mean())
    return {"fit s": fit, "proba rows/s": len(x_test) / batch, "1-row ms": one * 1e3, "accuracy": accuracy}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="training rows")
    ap.add_argument("--test-rows", type=int, default=20_000)
    ap.add_argument("--features", type=int, default=40)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    x, y = synthetic(args.rows + args.test_rows, args.features, args.seed)
    x_train, y_train = x[: args.rows], y[: args.rows]
    x_test, y_test = x[args.rows :], y[args.rows :]
    common = dict(n_estimators=args.trees, n_jobs=args.jobs, random_state=args.seed)
    results = {
        "metaforest": measure(MfForest(**common), x_train, y_train, x_test, y_test, args.repeats),
        "scikit-learn": measure(SkForest(**common), x_train, y_train, x_test, y_test, args.repeats),
    }
    mf, sk = results["metaforest"], results["scikit-learn"]
    print(
        f"{args.rows} training rows x {args.features} features, {args.test_rows} test rows, "
        f"{args.trees} trees, {args.jobs} threads"
    )
    print(f"| {'':<14} | {'metaforest':>11} | {'scikit-learn':>12} | {'ratio':>16} |")
    print(f"|{'-' * 16}|{'-' * 13}|{'-' * 14}|{'-' * 18}|")
    rows = [
        ("fit s", sk["fit s"] / mf["fit s"], "x faster"),
        ("proba rows/s", mf["proba rows/s"] / sk["proba rows/s"], "x faster"),
        ("1-row ms", sk["1-row ms"] / mf["1-row ms"], "x faster"),
        ("accuracy", mf["accuracy"] - sk["accuracy"], "points"),
    ]
    for key, ratio, unit in rows:
        if key == "accuracy":
            shown = f"{100 * ratio:+.1f} {unit}"
            a, b = f"{100 * mf[key]:.1f} %", f"{100 * sk[key]:.1f} %"
        else:
            shown = f"{ratio:.2f} {unit}"
            a, b = f"{mf[key]:.4g}", f"{sk[key]:.4g}"
        print(f"| {key:<14} | {a:>11} | {b:>12} | {shown:>16} |")


if __name__ == "__main__":
    main()
