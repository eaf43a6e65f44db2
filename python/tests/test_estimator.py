import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import metaforest
from metaforest import RandomForestClassifier

# Checks skipped, and why.
EXPECTED_FAILED_CHECKS = {
    # Bootstrap draws rows by count, so a weight of 2 is not the same forest as a repeated row
    # (scikit-learn lists the same failure for its own RandomForestClassifier).
    "check_sample_weight_equivalence_on_dense_data": "bootstrap is not weight-aware",
    # The check sets min_weight_fraction_leaf where an estimator has it (scikit-learn's forest does);
    # ours has no such stopping rule, so its fully grown trees end in pure leaves, where even a
    # 10^7 class-weight ratio cannot change a prediction.
    "check_class_weight_classifiers": "no min_weight_fraction_leaf",
}


def test_passes_check_estimator():
    check_estimator(
        RandomForestClassifier(n_estimators=10, random_state=0),
        expected_failed_checks=EXPECTED_FAILED_CHECKS,
    )


def test_fits_and_predicts(blobs):
    x, y = blobs
    clf = RandomForestClassifier(n_estimators=30, random_state=1).fit(x, y)
    assert list(clf.classes_) == [0, 1]
    proba = clf.predict_proba(x)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (clf.predict(x) == y).mean() > 0.9
    importances = clf.feature_importances_
    assert importances.shape == (6,)
    assert importances[0] == importances.max()
    assert abs(importances.sum() - 1.0) < 1e-9


def test_string_classes_and_missing_values(blobs):
    x, y = blobs
    x = x.copy()
    x[::7, 1] = np.nan
    labels = np.where(y == 1, "attack", "benign")
    clf = RandomForestClassifier(n_estimators=20, random_state=2).fit(x, labels)
    assert list(clf.classes_) == ["attack", "benign"]
    assert set(clf.predict(x)) <= {"attack", "benign"}


def test_seed_and_threads_give_identical_bytes(blobs):
    x, y = blobs
    a = RandomForestClassifier(n_estimators=20, random_state=5, n_jobs=1).fit(x, y)
    b = RandomForestClassifier(n_estimators=20, random_state=5, n_jobs=2).fit(np.asfortranarray(x), y)
    assert a.forest_.to_bytes() == b.forest_.to_bytes()
    c = RandomForestClassifier(n_estimators=20, random_state=6).fit(x, y)
    assert a.forest_.to_bytes() != c.forest_.to_bytes()


def test_pickle_and_file_round_trip(blobs, tmp_path):
    x, y = blobs
    clf = RandomForestClassifier(n_estimators=15, random_state=3).fit(x, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    path = tmp_path / "forest.mf"
    clf.forest_.save(str(path))
    assert path.read_bytes()[:8] == b"MFFOREST"
    loaded = metaforest.Forest.load(str(path))
    assert loaded.to_bytes() == clf.forest_.to_bytes()
    with pytest.raises(ValueError):
        metaforest.Forest.from_bytes(b"not a forest")


def test_dataframes_and_arrow_tables(blobs):
    pa = pytest.importorskip("pyarrow")
    x, y = blobs
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    clf = RandomForestClassifier(n_estimators=10, random_state=4).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns)
    from_array = RandomForestClassifier(n_estimators=10, random_state=4).fit(x, y)
    np.testing.assert_array_equal(clf.predict_proba(frame), from_array.predict_proba(x))
    table = pa.Table.from_pandas(frame)
    np.testing.assert_array_equal(clf.predict_proba(table), from_array.predict_proba(x))


def test_pipeline_and_cross_validation(blobs):
    x, y = blobs
    # ANCHOR: pipeline
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=20, random_state=0))
    scores = cross_val_score(pipe, x, y, cv=3)
    # ANCHOR_END: pipeline
    assert scores.shape == (3,)
    assert scores.mean() > 0.7


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="1 class"):
        RandomForestClassifier().fit(np.zeros((4, 2)), [1, 1, 1, 1])
