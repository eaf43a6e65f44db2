import numpy as np
import pytest


@pytest.fixture
def blobs():
    """Two noisy classes in 6 features, seeded."""
    rng = np.random.default_rng(7)
    n = 400
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 6)) + y[:, None] * np.array([1.5, -1.0, 0.5, 0, 0, 0])
    return x, y
