"""API fuzz: every public function refuses bad input cleanly, takes valid edge input, and mutates nothing.

Two parts (issue 11):

* The table of ``tests/fuzz_cases.py``: each public function of ``stn_np``, ``stn_np.functional``,
  ``stn_np.nn``, ``stn_np.optim``, ``stn_np.data``, ``stn_np.registration``, ``stn_np.io`` and the
  training entry points, called with one bad argument at a time (about 1700 cases). Each must
  raise ``ValueError`` or ``TypeError`` in the form ``"function: argument: expected ..., got ..."``
  naming that argument, without a warning and without changing any array it was given.
  ``benchmarks/fuzz_api.py`` prints the share that does.
* Hypothesis: random bad numbers and shapes for the arguments where a range matters, and random
  *valid* edge inputs (NaN grids, strided and read-only arrays, 1 x 1 images), which must give
  the documented result and leave their inputs as they were.

The cases still unclean are listed in ``fuzz_cases.KNOWN`` by the area that owns them; a case
that becomes clean does not fail the test, a new unclean case does.
"""

import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stn_np.functional as F
from fuzz_cases import KNOWN, cases, run_case, targets
from stn_np import nn
from stn_np.data import batches
from stn_np.optim import SGD, Adam, StepLR
from stn_np.sampling import identity_grid
from stn_np.training import TrainConfig

@pytest.fixture(scope="module")
def outcomes():
    return {case.id: run_case(case) for case in cases()}


@pytest.mark.parametrize("target", [t.name for t in targets()])
def test_bad_input_is_refused_cleanly(target, outcomes):
    unclean = [o for o in outcomes.values() if o.case.target.name == target and not o.clean]
    unexpected = [f"{o.case.id}: {o.why}" for o in unclean if (target, o.case.argument) not in KNOWN]
    assert not unexpected, "\n".join(unexpected)


def test_the_table_is_large_and_mostly_clean(outcomes):
    clean = sum(o.clean for o in outcomes.values())
    assert len(outcomes) > 1500 and len({o.case.target.name for o in outcomes.values()}) > 100
    owned_elsewhere = sum(1 for o in outcomes.values() if (o.case.target.name, o.case.argument) in KNOWN)
    # every case outside the areas listed in KNOWN is clean
    assert clean >= len(outcomes) - owned_elsewhere


def test_good_arguments_of_every_target_work_and_are_not_mutated():
    """The table's good arguments really are good: the bad value is the only thing wrong in each case."""
    for target in targets():
        kwargs = target.good()
        copies = {k: np.array(v, copy=True) for k, v in kwargs.items() if isinstance(v, np.ndarray)}
        result = target.call(**kwargs)
        if isinstance(result, types.GeneratorType):
            next(result)
        for name, copy in copies.items():
            np.testing.assert_array_equal(kwargs[name], copy, err_msg=f"{target.name} changed {name}")


# ---------------------------------------------------------------- Hypothesis: random bad values
def _named(error, function, argument):
    text = str(error)
    assert text.startswith(f"{function}: {argument}: expected "), text
    assert ", got " in text and "\n" not in text


bad_reals = st.one_of(st.sampled_from([float("nan"), float("inf"), -float("inf")]),
                      st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False))


@settings(max_examples=40, deadline=None)
@given(option=st.sampled_from(["lr", "momentum", "dampening", "weight_decay"]), value=bad_reals)
def test_sgd_refuses_every_negative_or_non_finite_option(option, value):
    params = [nn.Parameter(np.zeros(2))]
    kwargs = {"lr": 0.1, option: value}
    with pytest.raises(ValueError) as caught:
        SGD(params, **kwargs)
    _named(caught.value, "SGD", option)


@settings(max_examples=40, deadline=None)
@given(option=st.sampled_from(["lr", "eps", "weight_decay"]), value=bad_reals)
def test_adam_refuses_every_negative_or_non_finite_option_also_from_a_state_dict(option, value):
    optimizer = Adam([nn.Parameter(np.zeros(2))])
    with pytest.raises(ValueError) as caught:
        Adam([nn.Parameter(np.zeros(2))], **{option: value})
    _named(caught.value, "Adam", option)
    state = optimizer.state_dict()
    state["param_groups"][0][option] = value
    with pytest.raises(ValueError) as caught:
        optimizer.load_state_dict(state)
    _named(caught.value, "Adam.load_state_dict", f"state_dict['param_groups'][0][{option!r}]")


@settings(max_examples=30, deadline=None)
@given(gamma=st.one_of(bad_reals, st.just(0.0)))
def test_steplr_refuses_gamma_that_is_not_positive_and_finite(gamma):
    with pytest.raises(ValueError) as caught:
        StepLR(SGD([nn.Parameter(np.zeros(1))], lr=0.1), 1, gamma=gamma)
    _named(caught.value, "StepLR", "gamma")


@settings(max_examples=40, deadline=None)
@given(field=st.sampled_from(["epochs", "batch_size", "seed", "train_size", "test_size"]),
       value=st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True), st.text(max_size=3), st.none()))
def test_train_config_refuses_bad_counts(field, value):
    if value is None and field in ("train_size", "test_size"):
        return  # None means "the default size"
    if isinstance(value, float) and value.is_integer() and field == "seed" and value >= 0:
        return
    with pytest.raises((ValueError, TypeError)) as caught:
        TrainConfig(**{field: value})
    _named(caught.value, "TrainConfig", field)


@settings(max_examples=40, deadline=None)
@given(ndim=st.integers(0, 6).filter(lambda n: n != 4), side=st.integers(1, 3))
def test_grid_sample_refuses_grids_of_any_other_rank(ndim, side):
    image = np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError) as caught:
        F.grid_sample(image, np.zeros((side,) * ndim))
    _named(caught.value, "grid_sample", "grid")


@settings(max_examples=40, deadline=None)
@given(size=st.lists(st.integers(-3, 5), min_size=0, max_size=6))
def test_grid_generators_refuse_bad_sizes(size):
    if len(size) == 4 and min(size) >= 0:
        return  # a good size (empty sizes give empty grids, as in PyTorch)
    for generator, params in ((F.affine_grid, np.tile(np.eye(2, 3), (1, 1, 1))), (F.attention_grid, np.ones((1, 3)))):
        with pytest.raises(ValueError) as caught:
            generator(params, tuple(size))
        _named(caught.value, generator.__name__, "size")


@settings(max_examples=25, deadline=None)
@given(side=st.integers(10**5, 10**8))
def test_huge_outputs_are_refused_before_allocating(side):
    """MemoryErrors named no argument (a 1e5 x 1e5 grid asked for 149 GiB); now the budget names it."""
    with pytest.raises(ValueError) as caught:
        F.affine_grid(np.eye(2, 3)[None], (1, 1, side, side))
    _named(caught.value, "affine_grid", "size")
    assert "stn_np.validation.MEMORY_BUDGET" in str(caught.value)
    with pytest.raises(ValueError) as caught:
        F.grid_sample(np.zeros((1, 1, 2, 2)), np.broadcast_to(np.zeros(2), (1, side, side, 2)))
    _named(caught.value, "grid_sample", "grid")


@settings(max_examples=30, deadline=None)
@given(batch_size=st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=2)))
def test_batches_refuse_bad_batch_sizes_when_called(batch_size):
    with pytest.raises((ValueError, TypeError)) as caught:
        batches(np.zeros((3, 2, 2), np.uint8), np.arange(3), batch_size)  # no next(): refused by the call
    _named(caught.value, "batches", "batch_size")


# ---------------------------------------------------------------- Hypothesis: valid edge inputs
def _views(array, how):
    """``array``'s values as a strided view, a read-only array, or a Fortran-ordered copy."""
    if how == "strided":
        wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
        wide[..., ::2] = array
        return wide[..., ::2]
    if how == "read-only":
        copy = array.copy()
        copy.setflags(write=False)
        return copy
    return np.asfortranarray(array)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 4), w=st.integers(1, 4), ho=st.integers(1, 3), wo=st.integers(1, 3),
       how=st.sampled_from(["strided", "read-only", "fortran"]), seed=st.integers(0, 2**16),
       mode=st.sampled_from(["bilinear", "nearest", "bicubic"]),
       padding=st.sampled_from(["zeros", "border", "reflection"]))
def test_grid_sample_gives_the_same_result_for_any_memory_layout_and_mutates_nothing(h, w, ho, wo, how, seed, mode,
                                                                                     padding):
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((2, 3, h, w))
    grid = rng.uniform(-1.5, 1.5, (2, ho, wo, 2))
    expected = F.grid_sample(image, grid, mode=mode, padding_mode=padding).data
    image_view, grid_view = _views(image, how), _views(grid, how)
    before = (image_view.copy(), grid_view.copy())
    out = F.grid_sample(image_view, grid_view, mode=mode, padding_mode=padding).data
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(image_view, before[0])
    np.testing.assert_array_equal(grid_view, before[1])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), nan_share=st.floats(0.1, 1.0), padding=st.sampled_from(["zeros", "border",
                                                                                            "reflection"]))
def test_nan_grid_points_sample_zero_with_zero_gradients(seed, nan_share, padding):
    """The documented result: a NaN coordinate samples 0 and passes no gradient, in every padding mode."""
    rng = np.random.default_rng(seed)
    image = nn.Parameter(rng.standard_normal((1, 2, 4, 5)))
    grid_values = rng.uniform(-1, 1, (1, 3, 3, 2))
    nan = rng.random((1, 3, 3)) < nan_share
    grid_values[nan, rng.integers(0, 2)] = np.nan
    grid = nn.Parameter(grid_values)
    out = F.grid_sample(image, grid, padding_mode=padding)
    np.testing.assert_array_equal(out.data[:, :, nan[0]], 0.0)
    out.backward(np.ones_like(out.data))
    np.testing.assert_array_equal(grid.grad[nan], 0.0)
    assert np.all(np.isfinite(image.grad))


@settings(max_examples=30, deadline=None)
@given(how=st.sampled_from(["strided", "read-only", "fortran"]), seed=st.integers(0, 2**16),
       stride=st.integers(1, 2), padding=st.integers(0, 1))
def test_conv_pool_and_linear_take_any_memory_layout_and_mutate_nothing(how, seed, stride, padding):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2))
    views = _views(x, how), _views(w, how)
    before = [v.copy() for v in views]
    np.testing.assert_array_equal(F.conv2d(*views, stride=stride, padding=padding).data,
                                  F.conv2d(x, w, stride=stride, padding=padding).data)
    np.testing.assert_array_equal(F.max_pool2d(views[0], 2, stride).data, F.max_pool2d(x, 2, stride).data)
    np.testing.assert_array_equal(F.linear(views[0][..., 0, :2], views[1][0, 0]).data,
                                  F.linear(x[..., 0, :2], w[0, 0]).data)
    for view, copy in zip(views, before):
        np.testing.assert_array_equal(view, copy)


@pytest.mark.filterwarnings("ignore:affine_grid. size. an axis of 1 pixel:UserWarning")  # documented, tested elsewhere
@settings(max_examples=20, deadline=None)
@given(align_corners=st.booleans(), mode=st.sampled_from(["bilinear", "nearest", "bicubic"]))
def test_one_pixel_images_and_outputs(align_corners, mode):
    """A 1 x 1 image sampled at its own centre gives itself; a 1 x 1 identity grid is its centre (0, 0)."""
    image = np.array([[[[3.5]]]])
    grid = identity_grid(1, 1, align_corners)[None]
    np.testing.assert_array_equal(grid, np.zeros((1, 1, 1, 2)))
    np.testing.assert_allclose(F.grid_sample(image, grid, mode=mode, align_corners=align_corners).data, image)
    np.testing.assert_array_equal(F.affine_grid(np.eye(2, 3)[None], (1, 1, 1, 1), align_corners).data, grid)
