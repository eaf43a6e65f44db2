import numpy as np
import pytest

from metaforest._native import derive_seed
from metaforest.distributed import (
    task_learner_seed,
    train_task_learners,
    train_task_learners_library,
    train_task_learners_local,
)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def domains():
    rng = np.random.default_rng(11)
    out = {}
    for name, shift in [("net-a", 0.5), ("net-b", 1.0), ("net-c", 2.0)]:
        y = rng.integers(0, 2, 300)
        x = rng.normal(size=(300, 5)) + shift * y[:, None]
        out[name] = (x, y)
    return out


def test_seed_derivation_matches_the_library():
    # The extension's derive_seed is flows' rng::derive_seed; Python does not re-implement it.
    assert task_learner_seed(42, 3) == derive_seed(42, 3)
    assert task_learner_seed(42, 3) == task_learner_seed(42, 3)
    assert task_learner_seed(42, 3) != task_learner_seed(42, 4)
    assert 0 <= task_learner_seed(2**64 - 1, 10**6) < 2**64


def test_ray_forests_are_byte_identical_to_single_process(local_cluster):
    local = train_task_learners_local(domains(), n_trees=20, seed=9)
    on_ray = train_task_learners(domains(), n_trees=20, seed=9, as_bytes=True)
    assert [name for name, _ in on_ray] == ["net-a", "net-b", "net-c"]
    for (name, forest), (ray_name, blob) in zip(local, on_ray):
        assert name == ray_name
        assert forest.to_bytes() == blob


def test_ray_forests_are_byte_identical_to_the_rust_library(local_cluster):
    library = train_task_learners_library(domains(), n_trees=20, seed=9)
    on_ray = train_task_learners(domains(), n_trees=20, seed=9, as_bytes=True)
    assert [name for name, _ in library] == [name for name, _ in on_ray]
    for (_, expected), (_, blob) in zip(library, on_ray):
        assert expected == blob
