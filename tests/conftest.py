import numpy as np
import pytest

from stn_np.training import get_blas_threads, set_blas_threads


@pytest.fixture
def rng():
    """A fresh seeded generator per test, so tests do not depend on their order."""
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def one_blas_thread():
    """Train as the command line does, with one BLAS thread (steady when the other core is busy),
    and give the rest of the suite its setting back afterwards (the commands change it)."""
    before = get_blas_threads()
    set_blas_threads(1)
    yield
    if before:
        set_blas_threads(before)


# The reference generators in tests/data import torch and are run by hand, never collected
# (with --doctest-modules pytest would import them).
collect_ignore_glob = ["data/*.py"]
