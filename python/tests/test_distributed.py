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
    # ANCHOR: init
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # ANCHOR_END: init
    yield
    ray.shutdown()


def pd_frame(x, names):
    import pandas as pd

    return pd.DataFrame(x[:, : len(names)], columns=names)


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
    # ANCHOR: train
    on_ray = train_task_learners(domains(), n_trees=20, seed=9, as_bytes=True)  # [(name, bytes)]
    # ANCHOR_END: train
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


def test_score_parquet_on_ray_equals_single_process(local_cluster, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from metaforest import MetaModel
    from metaforest.distributed import score_parquet

    names = ["IN_BYTES", "OUT_BYTES", "L4_DST_PORT", "PROTOCOL"]
    known = {name: (pd_frame(x, names), y) for name, (x, y) in list(domains().items())}
    model = MetaModel.fit(known, n_episodes=12, ks=[2, 5], query_size=32, task_learner_trees=6,
                          local_trees=8, max_epochs=2, seed=1)
    x, y = known["net-b"]
    detector = model.adapt(x.iloc[:40], y[:40])
    paths = []
    for i, rows in enumerate([slice(0, 100), slice(100, 250), slice(250, 300)]):
        shard = pa.Table.from_pandas(x.iloc[rows].assign(Label=y[rows]), preserve_index=False)
        path = tmp_path / f"shard-{i}.parquet"
        pq.write_table(shard, path, row_group_size=64)
        paths.append(path)
    # ANCHOR: score
    on_ray = score_parquet(detector, paths)  # [(lines, scores)], one pair per shard
    # ANCHOR_END: score
    assert len(on_ray) == 3
    for path, (lines, scores) in zip(paths, on_ray):
        local_lines, local_scores = detector.score_file(path)
        assert np.array_equal(lines, local_lines)
        assert np.array_equal(scores, local_scores)
    # The shards together are the frame, scored in one call.
    assert np.array_equal(np.concatenate([s for _, s in on_ray]), detector.predict_proba(x))
    assert on_ray[1][0].tolist() == list(range(2, 152))
