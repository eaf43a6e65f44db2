"""A scikit-learn estimator on metaforest's random forest."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from metaforest._native import Forest


def _to_frame(X):
    """A pyarrow Table becomes a pandas DataFrame (column names kept); anything else passes."""
    if type(X).__module__.startswith("pyarrow") and hasattr(X, "to_pandas"):
        return X.to_pandas()
    return X


class RandomForestClassifier(ClassifierMixin, BaseEstimator):
    """A random forest classifier: histogram-binned CART trees, trained and evaluated in Rust.

    The parameters follow scikit-learn's ``RandomForestClassifier`` where they mean the same thing;
    ``n_bins`` is the number of quantile bins per feature (2..255). NaN values are missing values
    (they get a bin of their own), so inputs may contain NaN but not infinity.

    ``random_state``: an int is the forest's seed itself, so a forest fitted here is byte-identical
    to one fitted by the Rust library or the CLI with that seed; ``None`` draws a seed from numpy's
    global generator. The result never depends on ``n_jobs``.

    Pickling stores the forest in the library's file format; ``forest_`` gives the fitted
    :class:`metaforest.Forest` (``forest_.save(path)`` writes a file the CLI reads).
    """

    def __init__(
        self,
        n_estimators=100,
        *,
        criterion="gini",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        max_features="sqrt",
        bootstrap=True,
        max_samples=None,
        class_weight=None,
        n_bins=255,
        n_jobs=None,
        random_state=None,
    ):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.max_samples = max_samples
        self.class_weight = class_weight
        self.n_bins = n_bins
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _seed(self):
        if isinstance(self.random_state, Integral):
            return int(self.random_state) & 0xFFFF_FFFF_FFFF_FFFF
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _forest_params(self, n_samples):
        fraction = 1.0
        if isinstance(self.max_samples, Integral):
            fraction = min(1.0, int(self.max_samples) / max(1, n_samples))
        elif self.max_samples is not None:
            fraction = float(self.max_samples)
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            class_weight = [float(class_weight.get(c, 1.0)) for c in self.classes_]
        return dict(
            n_trees=int(self.n_estimators),
            criterion=self.criterion,
            max_depth=None if self.max_depth is None else int(self.max_depth),
            min_samples_split=int(self.min_samples_split),
            min_samples_leaf=int(self.min_samples_leaf),
            max_features=self.max_features,
            bootstrap=bool(self.bootstrap),
            sample_fraction=fraction,
            class_weight=class_weight,
            n_bins=int(self.n_bins),
            n_classes=len(self.classes_),
            seed=self._seed(),
        )

    def fit(self, X, y, sample_weight=None):
        """Fits the forest. ``X``: array-like, pandas DataFrame or pyarrow Table."""
        X, y = validate_data(
            self, _to_frame(X), y, dtype=np.float64, ensure_all_finite="allow-nan"
        )
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data; "
                f"got 1 class: {self.classes_[0]!r}"
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        self.forest_ = Forest.fit(
            X,
            np.ascontiguousarray(y_index, dtype=np.uint32),
            sample_weight=sample_weight,
            n_jobs=self.n_jobs,
            **self._forest_params(X.shape[0]),
        )
        return self

    def predict_proba(self, X):
        """Class probabilities, one column per class in ``classes_``."""
        check_is_fitted(self)
        X = validate_data(
            self, _to_frame(X), dtype=np.float64, ensure_all_finite="allow-nan", reset=False
        )
        return self.forest_.predict_proba(X, n_jobs=self.n_jobs)

    def predict(self, X):
        """The most probable class of each row (the first one on a tie)."""
        proba = self.predict_proba(X)
        return self.classes_.take(np.argmax(proba, axis=1), axis=0)

    @property
    def feature_importances_(self):
        """Impurity-based feature importances (they sum to 1)."""
        check_is_fitted(self)
        return self.forest_.feature_importances()
