"""Metaforest on Ray: per-domain training, one Ray task per known domain, and scoring of Parquet shards,
one Ray task per shard.

Every task trains its domain's forest in Rust (the GIL released) and sends it back as the library's
bytes, so the driver receives exactly the file the Rust library would have written. A domain's seed
depends only on the base seed and the domain's index, never on the worker or the thread count, so the
forests are byte-identical to the ones :func:`train_task_learners_local` trains in one process.
"""

import os

import numpy as np

from metaforest._native import Forest, derive_seed
from metaforest.meta import Detector
from metaforest._native import train_task_learners as _library_train_task_learners


def task_learner_seed(seed, index):
    """The seed of the forest of known domain ``index``: the library's own derivation (flows'
    ``derive_seed``), the one ``metaforest_meta::train_task_learners`` uses."""
    return derive_seed(seed, index)


def _domain_list(domains):
    """``{name: (X, y)}`` or ``[(name, X, y), ...]`` → ``[(name, X, y)]`` in a fixed order."""
    items = domains.items() if hasattr(domains, "items") else domains
    out = []
    for item in items:
        if len(item) == 2:
            name, (x, y) = item
        else:
            name, x, y = item
        x = np.asarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.uint32)
        out.append((str(name), x, y))
    return out


def _fit_bytes(x, y, n_trees, seed, n_jobs):
    forest = Forest.fit(x, y, n_jobs=n_jobs, n_trees=n_trees, seed=seed, n_classes=2)
    return forest.to_bytes()


def train_task_learners_local(domains, n_trees=60, seed=0, *, n_jobs=None):
    """Single-process reference: ``[(name, Forest)]``, one forest per domain, in domain order."""
    return [
        (name, Forest.from_bytes(_fit_bytes(x, y, n_trees, task_learner_seed(seed, i), n_jobs)))
        for i, (name, x, y) in enumerate(_domain_list(domains))
    ]


def train_task_learners_library(domains, n_trees=60, seed=0):
    """``metaforest_meta::train_task_learners`` itself, in one process: ``[(name, bytes)]``."""
    return _library_train_task_learners(
        [(name, x, y.tolist()) for name, x, y in _domain_list(domains)], n_trees, seed
    )


def train_task_learners(domains, n_trees=60, seed=0, *, num_cpus_per_task=1, as_bytes=False):
    """Trains one forest per known domain, one Ray task each, and returns ``[(name, Forest)]`` in
    domain order (``[(name, bytes)]`` with ``as_bytes=True``).

    ``domains``: ``{name: (X, y)}`` or ``[(name, X, y)]`` with binary targets (0 benign, 1 attack).
    Each task uses ``num_cpus_per_task`` threads for its trees. Ray must be initialised already
    (``ray.init(...)``), or Ray starts a local cluster itself.
    """
    import ray

    @ray.remote(num_cpus=num_cpus_per_task)
    def fit_domain(x, y, seed):
        return _fit_bytes(x, y, n_trees, seed, num_cpus_per_task)

    domains = _domain_list(domains)
    refs = [
        fit_domain.remote(ray.put(x), ray.put(y), task_learner_seed(seed, i))
        for i, (_, x, y) in enumerate(domains)
    ]
    names = [name for name, _, _ in domains]
    blobs = ray.get(refs)
    if as_bytes:
        return list(zip(names, blobs))
    return [(name, Forest.from_bytes(blob)) for name, blob in zip(names, blobs)]


def score_parquet(detector, paths, *, schema=None, num_cpus_per_task=1):
    """Scores Parquet shards with one Ray task each: ``[(lines, attack probabilities)]``, one pair per
    path, in path order, equal to ``detector.score_file(path)`` in one process.

    The detector travels as its bytes (the library's file format), put in Ray's object store once.
    ``schema``: a TOML schema file for the shards' columns (default: NF-v2 names). Ray must be
    initialised already (``ray.init(...)``), or Ray starts a local cluster itself.
    """
    import ray

    @ray.remote(num_cpus=num_cpus_per_task)
    def score_shard(blob, path, schema):
        return Detector.from_bytes(blob).score_file(path, "parquet", schema)

    blob = ray.put(detector.to_bytes())
    schema = None if schema is None else os.fspath(schema)
    return ray.get([score_shard.remote(blob, os.fspath(p), schema) for p in paths])
