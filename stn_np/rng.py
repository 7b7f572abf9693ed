"""The global random generator behind parameter initialisation and dropout.

Layers and :func:`~stn_np.functional.dropout` take an optional ``rng`` (a
``numpy.random.Generator``); when it is omitted they draw from the generator returned by
:func:`get_rng`. Seeding it with :func:`manual_seed` makes a whole run (initial weights,
dropout masks) reproducible. Without a seed the generator starts from fresh OS entropy.

Examples
--------
>>> import stn_np.rng
>>> _ = stn_np.rng.manual_seed(0)
>>> a = stn_np.rng.get_rng().random()
>>> _ = stn_np.rng.manual_seed(0)
>>> a == stn_np.rng.get_rng().random()
True
"""

import numpy as np

from .validation import check_int, fail

__all__ = ["manual_seed", "get_rng", "resolve_rng"]

_generator = np.random.default_rng()


def manual_seed(seed):
    """Replace the global generator by ``numpy.random.default_rng(seed)`` and return it.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    global _generator
    _generator = np.random.default_rng(check_int(seed, "manual_seed", "seed", minimum=0))
    return _generator


def get_rng():
    """The current global ``numpy.random.Generator`` (look it up at each use: seeding replaces it)."""
    return _generator


def resolve_rng(rng, function="resolve_rng", argument="rng"):
    """``rng`` itself when given, else the global generator; ``TypeError`` for anything else.

    ``function`` and ``argument`` name the caller and its parameter in the message.
    """
    if rng is None:
        return _generator
    if not isinstance(rng, np.random.Generator):
        fail(function, argument, "a numpy.random.Generator or None", f"a {type(rng).__name__}", TypeError)
    return rng
