"""metaforest from Python: a scikit-learn random forest on metaforest's own forest, the meta-model and
its detectors, flow readers."""

from metaforest._native import FORMAT_VERSION, Forest
from metaforest.estimator import RandomForestClassifier
from metaforest.flows import read_flows
from metaforest.meta import Detector, MetaModel

__all__ = ["FORMAT_VERSION", "Detector", "Forest", "MetaModel", "RandomForestClassifier", "read_flows"]
