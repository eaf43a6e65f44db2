"""Task-learner training on Ray with 1 and 2 workers, against the library in one process.

    python python/bench/ray_scaling.py [--domains 4] [--rows 20000] [--features 30] [--trees 60]

One Ray task per known domain (one CPU each), on a local Ray cluster of 1, then 2 CPUs; the same
domains are trained by ``metaforest_meta::train_task_learners`` in one process (all cores) for
reference. Every run must give the same forests byte for byte (checked). Prints wall-clock seconds
(best of ``--repeats``) and the speed-up over 1 worker.
"""

import argparse
import os
import time

import numpy as np
import ray

from metaforest.distributed import train_task_learners, train_task_learners_library


def domains(n, rows, features, seed):
    """``n`` synthetic domains: two classes that differ in a third of the features, shifted per domain."""
    rng = np.random.default_rng(seed)
    out = {}
    for d in range(n):
        y = rng.integers(0, 2, rows)
        x = rng.normal(size=(rows, features)) + d * 0.3
        x[:, : features // 3] += y[:, None] * rng.uniform(0.2, 1.0, features // 3)
        out[f"domain-{d}"] = (x, y)
    return out


def best_of(repeats, fn):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=4)
    ap.add_argument("--rows", type=int, default=20_000, help="rows per domain")
    ap.add_argument("--features", type=int, default=30)
    ap.add_argument("--trees", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    data = domains(args.domains, args.rows, args.features, args.seed)
    library_s, expected = best_of(
        args.repeats, lambda: train_task_learners_library(data, args.trees, args.seed)
    )
    timings = {}
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        # A first call starts the worker processes; it is not timed.
        train_task_learners(data, args.trees, args.seed, as_bytes=True)
        timings[workers], got = best_of(
            args.repeats, lambda: train_task_learners(data, args.trees, args.seed, as_bytes=True)
        )
        ray.shutdown()
        assert got == expected, f"forests on {workers} Ray worker(s) differ from the library's"

    print(
        f"{args.domains} domains x {args.rows} rows x {args.features} features, {args.trees} trees "
        f"each; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end"
    )
    print("| run | seconds | speed-up over 1 worker |")
    print("|---|---|---|")
    for workers, seconds in timings.items():
        print(f"| Ray, {workers} worker{'s' if workers > 1 else ''} | {seconds:.2f} | "
              f"{timings[1] / seconds:.2f} |")
    print(f"| library, one process, all cores | {library_s:.2f} | {timings[1] / library_s:.2f} |")
    print("forests byte-identical in every run: yes")


if __name__ == "__main__":
    main()
