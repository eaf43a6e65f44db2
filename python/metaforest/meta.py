"""The meta-model and its detectors from Python: meta-train on known domains, adapt to a new one from a
few labelled flows, score, explain, read rules. Files are the library's own, so ``MetaModel.save`` and
``Detector.save`` write what ``metaforest train`` and ``metaforest adapt`` write, and ``load`` reads theirs.
"""

import os

import numpy as np

from metaforest import _native


def _is_frame(x):
    return hasattr(x, "columns") and hasattr(x, "to_numpy")


def _features(x, feature_names=None):
    """A float64 matrix; a pandas DataFrame (or pyarrow Table) is matched to ``feature_names`` by column
    name when they are given, so its column order does not matter."""
    if type(x).__module__.startswith("pyarrow") and hasattr(x, "to_pandas"):
        x = x.to_pandas()
    if _is_frame(x) and feature_names is not None:
        missing = [n for n in feature_names if n not in x.columns]
        if missing:
            raise ValueError(f"the frame lacks feature columns {missing[:10]}")
        x = x[list(feature_names)]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of flows, got {x.ndim} dimension(s)")
    return x


def _named(names):
    """The feature names to match frames by, or None when the model's columns are the unnamed
    ``f0, f1, ...`` of a model fitted on bare arrays (frames are then read by position)."""
    return None if names == [f"f{j}" for j in range(len(names))] else names


def _labels(y, n_rows):
    """0 benign / 1 attack as a list of ints; anything else is an error."""
    y = np.asarray(y).ravel()
    if y.shape[0] != n_rows:
        raise ValueError(f"{y.shape[0]} labels for {n_rows} flows")
    if y.dtype == bool:
        y = y.astype(np.uint32)
    bad = ~np.isin(y, [0, 1])
    if bad.any():
        raise ValueError(f"labels must be 0 (benign) or 1 (attack); got {y[bad][0]!r}")
    return y.astype(np.uint32).tolist()


def _domain_list(domains):
    """``{name: (X, y[, classes])}`` or ``[(name, X, y[, classes])]`` -> ``[(name, X, y, classes)]``."""
    items = domains.items() if hasattr(domains, "items") else domains
    out = []
    for item in items:
        if len(item) == 2:
            name, rest = item
            item = (name, *rest)
        name, x, y, *classes = item
        out.append((str(name), x, y, classes[0] if classes else None))
    return out


class MetaModel:
    """A meta-trained model: one forest per known domain plus the meta-network that adapts them.

    Build it with :meth:`fit` or :meth:`load`; :meth:`adapt` turns it into a :class:`Detector` for a new
    domain.
    """

    def __init__(self, native):
        self._native = native

    @classmethod
    def fit(cls, domains, *, feature_names=None, categories=None, source="", **params):
        """Meta-trains on known domains.

        ``domains``: ``{name: (X, y)}`` or ``[(name, X, y)]``, at least two; ``y`` is 0 (benign) or 1
        (attack); an optional third item gives each row's attack-class code (0 benign), which lets
        episodes pose "benign vs one attack class" tasks. ``X`` may be a pandas DataFrame: its column
        names become the model's feature names. ``categories``: ``{feature name: [values]}`` for
        categorical features coded as indices into ``values``. Keyword arguments are the library's
        meta-training parameters: ``n_episodes``, ``ks``, ``query_size``, ``task_learner_trees``,
        ``local_trees``, ``max_epochs``, ``heads`` (``"weights-only"``, ``"both"``, ``"init-only"``),
        ``val_fraction``, ``class_task_share``, ``seed``.
        """
        domains = _domain_list(domains)
        if feature_names is None and domains and _is_frame(domains[0][1]):
            feature_names = [str(c) for c in domains[0][1].columns]
        prepared = []
        for name, x, y, classes in domains:
            x = _features(x, feature_names)
            if classes is not None:
                classes = np.asarray(classes, dtype=np.uint16).tolist()
            prepared.append((name, x, _labels(y, x.shape[0]), classes))
        dictionaries = None
        if feature_names is not None:
            feature_names = [str(n) for n in feature_names]
            categories = categories or {}
            unknown = set(categories) - set(feature_names)
            if unknown:
                raise ValueError(f"categories name unknown features {sorted(unknown)}")
            dictionaries = [
                None if n not in categories else [str(v) for v in categories[n]]
                for n in feature_names
            ]
        elif categories:
            raise ValueError("categories need feature_names (or DataFrames)")
        return cls(
            _native.MetaModel.fit(prepared, feature_names, dictionaries, source, **params)
        )

    def adapt(self, X, y, unlabelled=None):
        """A :class:`Detector` for a new domain from a labelled support (both classes) and, optionally, a
        sample of the domain's unlabelled flows (which self-train the local forest and set the threshold)."""
        x = _features(X, _named(self.feature_names))
        u = None if unlabelled is None else _features(unlabelled, _named(self.feature_names))
        return Detector(self._native.adapt(x, _labels(y, x.shape[0]), u))

    @property
    def feature_names(self):
        return self._native.feature_names

    @property
    def n_features(self):
        return self._native.n_features

    @property
    def known_domains(self):
        """Names of the known domains, in training order."""
        return self._native.known_domains

    @property
    def source(self):
        """Where the training data came from."""
        return self._native.source

    def report(self):
        """The training summary (episodes, validation losses, which heads were kept)."""
        return self._native.report()

    def to_bytes(self):
        return self._native.to_bytes()

    @classmethod
    def from_bytes(cls, data):
        return cls(_native.MetaModel.from_bytes(bytes(data)))

    def save(self, path):
        """Writes the model file (``metaforest adapt`` reads it)."""
        self._native.save(os.fspath(path))

    @classmethod
    def load(cls, path):
        """Reads a model file written by :meth:`save` or ``metaforest train``."""
        return cls(_native.MetaModel.load(os.fspath(path)))

    def __repr__(self):
        return repr(self._native)


class Detector:
    """A detector for one domain: the known forests and a local forest, weighted per flow."""

    def __init__(self, native):
        self._native = native

    def predict_proba(self, X):
        """Attack probability of each flow (1-D)."""
        return self._native.predict_proba(_features(X, _named(self.feature_names)))

    def predict(self, X):
        """1 (attack) where the attack probability reaches :attr:`threshold`, else 0."""
        return self._native.predict(_features(X, _named(self.feature_names)))

    def explain(self, row):
        """Which forests and features drove the decision on one flow: ``{score, attack, forests,
        top_features}``. ``row``: a sequence of feature values, or a mapping / pandas Series by name."""
        if hasattr(row, "keys"):
            missing = [n for n in self.feature_names if n not in row.keys()]
            if missing:
                raise ValueError(f"the row lacks features {missing[:10]}")
            row = [row[n] for n in self.feature_names]
        return self._native.explain(np.asarray(row, dtype=np.float64).ravel().tolist())

    def rules(self, top=20, verdict="attack", min_precision=0.5, max_conditions=6):
        """Ranked if-then rules measured on the support, as ``metaforest rules --json`` lists them."""
        return self._native.rules(top, verdict, min_precision, max_conditions)

    def score_file(self, path, format="parquet", schema=None):
        """Scores every flow of a file, read by the library's readers onto this detector's columns (by
        name, as the CLI's ``detect`` reads them): ``(lines, attack probabilities)``. ``format``:
        ``"parquet"`` (NF-v2 column names), ``"nf-v2"``, ``"cicflowmeter"``, ``"zeek"``, ...; ``schema``: a
        TOML schema file describing the columns (CSV, or Parquet with ``format="parquet"``)."""
        schema = None if schema is None else os.fspath(schema)
        return self._native.score_file(os.fspath(path), format, schema)

    def adapt_more(self, X, y):
        """Adapts again with more labelled flows (the support grows; the known forests are reused)."""
        x = _features(X, _named(self.feature_names))
        self._native.adapt_more(x, _labels(y, x.shape[0]))
        return self

    @property
    def threshold(self):
        return self._native.threshold

    @threshold.setter
    def threshold(self, value):
        self._native.threshold = float(value)

    @property
    def threshold_basis(self):
        return self._native.threshold_basis

    @property
    def feature_names(self):
        return self._native.feature_names

    @property
    def n_features(self):
        return self._native.n_features

    @property
    def forest_names(self):
        """The known domains' forests, then ``local``."""
        return self._native.forest_names

    def task_weights(self):
        """Mean weight of each forest on the support, by forest name."""
        return dict(zip(self.forest_names, self._native.task_weights()))

    @property
    def n_support(self):
        return self._native.n_support

    @property
    def uses_unlabelled(self):
        return self._native.uses_unlabelled

    def to_bytes(self):
        return self._native.to_bytes()

    @classmethod
    def from_bytes(cls, data):
        return cls(_native.Detector.from_bytes(bytes(data)))

    def save(self, path):
        """Writes the detector file (``metaforest detect`` reads it)."""
        self._native.save(os.fspath(path))

    @classmethod
    def load(cls, path):
        """Reads a detector file written by :meth:`save` or ``metaforest adapt``."""
        return cls(_native.Detector.load(os.fspath(path)))

    def __repr__(self):
        return repr(self._native)
