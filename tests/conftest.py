import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh seeded generator per test, so tests do not depend on their order."""
    return np.random.default_rng(1234)


# The reference generators in tests/data import torch and are run by hand, never collected
# (with --doctest-modules pytest would import them).
collect_ignore_glob = ["data/*.py"]
