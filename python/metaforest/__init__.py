"""metaforest from Python: a scikit-learn random forest on metaforest's own forest, flow readers."""

from metaforest._native import FORMAT_VERSION, Forest
from metaforest.estimator import RandomForestClassifier
from metaforest.flows import read_flows

__all__ = ["FORMAT_VERSION", "Forest", "RandomForestClassifier", "read_flows"]
