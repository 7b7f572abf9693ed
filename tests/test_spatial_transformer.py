"""SpatialTransformer: identity initialisation, output size, theta bookkeeping, gradients, lr groups."""

import numpy as np
import pytest

import stn_np
from stn_np import Tensor, nn
from stn_np import functional as F
from stn_np.optim import Adam
from stn_np.sampling.families import FAMILIES, PARAMETRIC

# Every parametric family of the registry (a new family is tested without touching this file).
TRANSFORMS = list(PARAMETRIC)


def small_localization(size, features=8, dtype=np.float32, rng=None):
    rng = np.random.default_rng(0) if rng is None else rng
    return nn.Sequential(nn.Conv2d(1, 2, 3, dtype=dtype, rng=rng), nn.ReLU(), nn.Flatten(),
                         nn.Linear(2 * (size - 2) ** 2, features, dtype=dtype, rng=rng), nn.ReLU())


# The identity grid's normalised coordinates, unnormalised by the sampler, land on the pixel
# centres up to the rounding of ((c + 1) W - 1) / 2: a few ulps (about 1e-6 at W = 28 in float32),
# which bilinear sampling turns into output differences of the same size. The integer kernel
# rounds them away, so "nearest" must reproduce the input bit for bit.
IDENTITY_ATOL = {np.float32: 4e-6, np.float64: 1e-13}


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_initialisation_reproduces_the_input(transform, align_corners, dtype, rng):
    loc = small_localization(9, dtype=dtype)
    st = nn.SpatialTransformer(loc, 8, transform, align_corners=align_corners, dtype=dtype)
    x = rng.random((3, 1, 9, 9)).astype(dtype)
    out = st(x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), x, rtol=0, atol=IDENTITY_ATOL[dtype])
    assert st.last_theta.shape == (3,) + FAMILIES[transform].shape()
    assert st.regressor.out_features == FAMILIES[transform].num_params()
    assert not st.regressor.weight.data.any()
    nearest = nn.SpatialTransformer(loc, 8, transform, mode="nearest", align_corners=align_corners, dtype=dtype)
    np.testing.assert_array_equal(nearest(x).numpy(), x)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("size", [(7, 5), (28, 28), (42, 42)])
def test_identity_on_several_channels_and_sizes(transform, size, rng):
    loc = nn.Sequential(nn.Flatten(), nn.Linear(3 * size[0] * size[1], 4, rng=rng))
    x = rng.random((2, 3) + size, dtype=np.float32)
    out = nn.SpatialTransformer(loc, 4, transform)(x).numpy()
    np.testing.assert_allclose(out, x, rtol=0, atol=IDENTITY_ATOL[np.float32])
    out = nn.SpatialTransformer(loc, 4, transform, mode="nearest")(x).numpy()
    np.testing.assert_array_equal(out, x)


def test_identity_parameters_are_the_documented_biases():
    # The documented values, written down independently of the registry that produces them.
    loc = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    biases = {t: nn.SpatialTransformer(loc, 3, t).regressor.bias.data for t in TRANSFORMS}
    assert {"affine", "attention", "projective", "tps"} <= set(biases)
    np.testing.assert_array_equal(biases["affine"], [1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(biases["attention"], [1, 0, 0])
    np.testing.assert_array_equal(biases["projective"], [1, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(biases["tps"], np.zeros(32))
    st = nn.SpatialTransformer(loc, 3, "tps", control_points=(3, 2))
    assert st.regressor.out_features == 12 and st.family.shape(control_points=(3, 2)) == (6, 2)
    assert [FAMILIES[t].shape() for t in ("affine", "attention", "projective", "tps")] == [(2, 3), (3,), (8,), (16, 2)]


def test_out_size_sets_the_output_shape_and_down_samples_the_whole_image(rng):
    loc = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 5, rng=rng))
    st = nn.SpatialTransformer(loc, 5, out_size=(8, 4))
    x = rng.random((2, 1, 16, 16), dtype=np.float32)
    out = st(x)
    assert out.shape == (2, 1, 8, 4)
    # the identity transform at a smaller size is the identity grid sampled: the same as grid_sample
    grid = F.affine_grid(np.tile(np.eye(2, 3, dtype=np.float32), (2, 1, 1)), (2, 1, 8, 4))
    np.testing.assert_array_equal(out.numpy(), F.grid_sample(x, grid).numpy())
    assert nn.SpatialTransformer(loc, 5, out_size=6).out_size == (6, 6)


def test_last_theta_follows_the_regressor_and_is_detached(rng):
    loc = nn.Sequential(nn.Flatten(), nn.Linear(16, 4, rng=rng))
    st = nn.SpatialTransformer(loc, 4, "affine")
    st.regressor.bias.data[:] = [0.5, 0, 0.1, 0, 0.5, -0.2]  # zoom in twice, shift
    x = rng.random((2, 1, 4, 4), dtype=np.float32)
    st(x)
    expected = np.array([[0.5, 0, 0.1], [0, 0.5, -0.2]], dtype=np.float32)
    np.testing.assert_array_equal(st.last_theta, np.stack([expected, expected]))
    assert isinstance(st.last_theta, np.ndarray)
    st.last_theta[...] = 7  # a copy: the module is unaffected
    assert st.regressor.bias.data[0] == np.float32(0.5)


def test_translation_moves_the_content(rng):
    """A positive x translation of theta samples further right: the content moves left."""
    loc = nn.Sequential(nn.Flatten(), nn.Linear(8, 2, rng=rng))
    st = nn.SpatialTransformer(loc, 2, "attention")
    st.regressor.bias.data[:] = [1, 2 / 8, 0]  # one pixel of an 8-pixel-wide image
    x = np.zeros((1, 1, 1, 8), np.float32)
    x[0, 0, 0, 5] = 1
    out = st(x).numpy()[0, 0, 0]
    np.testing.assert_allclose(out, np.eye(8)[4], atol=1e-6)


def _with_parameters(model, tensors):
    """Run ``model`` with its parameters replaced by ``tensors`` (so gradcheck can vary them)."""
    owners = []
    for module in model.modules():
        for name in list(module._parameters):
            owners.append((module, name))
    originals = [getattr(m, n) for m, n in owners]

    def call(x):
        for (m, n), t in zip(owners, tensors):
            object.__setattr__(m, n, t)
        try:
            return model(x)
        finally:
            for (m, n), p in zip(owners, originals):
                object.__setattr__(m, n, p)

    return call


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_gradients_reach_the_localisation_end_to_end(transform):
    """Directional gradcheck in float64 of output w.r.t. the input and every parameter."""
    rng = np.random.default_rng(3)
    loc = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=np.float64, rng=rng), nn.Flatten(),
                        nn.Linear(2 * 4 * 4, 4, dtype=np.float64, rng=rng))
    st = nn.SpatialTransformer(loc, 4, transform, out_size=(5, 4), dtype=np.float64)
    # move the regressor off its identity start so that the localisation's gradient is not 0
    st.regressor.weight.data[:] = 0.05 * rng.standard_normal(st.regressor.weight.shape)
    st.regressor.bias.data[:] += 0.03 * rng.standard_normal(st.regressor.bias.shape)
    params = [p.data.copy() for p in st.parameters()]
    x = rng.random((2, 1, 6, 6))

    def fn(x, *tensors):
        return _with_parameters(st, tensors)(x)

    assert stn_np.gradcheck(fn, (x, *params), mode="directional", seed=1)
    # and the localisation's own gradient is non-zero after one backward of a random loss
    out = st(Tensor(x, requires_grad=True))
    out.backward(rng.standard_normal(out.shape))
    assert all(np.abs(p.grad).max() > 0 for p in loc.parameters())


def test_localisation_learns_after_the_first_step(rng):
    """Zero regressor weights block the localisation's gradient at step 1 only."""
    stn_np.manual_seed(0)
    loc = nn.Sequential(nn.Flatten(), nn.Linear(36, 4), nn.ReLU())
    st = nn.SpatialTransformer(loc, 4, "affine")
    model = nn.Sequential(st, nn.Flatten(), nn.Linear(36, 3))
    opt = Adam(model.parameters(), lr=1e-2)
    x, y = rng.random((8, 1, 6, 6), dtype=np.float32), rng.integers(0, 3, 8)
    grads = []
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        grads.append((np.abs(loc[1].weight.grad).max(), np.abs(st.regressor.weight.grad).max()))
        opt.step()
    assert grads[0][0] == 0 and grads[0][1] > 0
    assert grads[1][0] > 0


def test_param_groups_apply_the_localisation_multiplier():
    stn_np.manual_seed(0)
    st = nn.SpatialTransformer(nn.Sequential(nn.Flatten(), nn.Linear(16, 4)), 4, lr_mult=0.25)
    head = nn.Linear(16, 2)
    model = nn.Sequential(st, nn.Flatten(), head)
    groups = nn.param_groups(model, 0.1)
    assert [g["lr"] for g in groups] == [0.1, 0.025]
    assert [id(p) for p in groups[0]["params"]] == [id(head.weight), id(head.bias)]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in st.parameters()}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    # an optimizer built from them moves the localisation 4x less on the first Adam step
    opt = Adam(groups)
    x = np.random.default_rng(0).random((4, 1, 4, 4), dtype=np.float32)
    before = st.regressor.bias.data.copy(), head.bias.data.copy()
    F.cross_entropy(model(x), np.array([0, 1, 0, 1])).backward()
    opt.step()
    moved = np.abs(st.regressor.bias.data - before[0]).max(), np.abs(head.bias.data - before[1]).max()
    np.testing.assert_allclose(moved, [0.025, 0.1], rtol=1e-3)
    with pytest.raises(ValueError, match="lr"):
        nn.param_groups(model, -1)
    with pytest.raises(TypeError, match="model"):
        nn.param_groups([head.weight], 0.1)


def test_validation_names_the_argument():
    loc = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    with pytest.raises(ValueError, match="transform"):
        nn.SpatialTransformer(loc, 4, "similarity")
    with pytest.raises(TypeError, match="localization"):
        nn.SpatialTransformer(lambda x: x, 4)
    with pytest.raises(ValueError, match="out_size"):
        nn.SpatialTransformer(loc, 4, out_size=(0, 3))
    with pytest.raises(ValueError, match="mode"):
        nn.SpatialTransformer(loc, 4, mode="cubic")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.SpatialTransformer(loc, 4, padding_mode="wrap")
    with pytest.raises(ValueError, match="lr_mult"):
        nn.SpatialTransformer(loc, 4, lr_mult=-0.1)
    with pytest.raises(ValueError, match="^SpatialTransformer: loc_features: expected an int >= 1, got 0$"):
        nn.SpatialTransformer(loc, 0)
    with pytest.raises(ValueError, match="control_points"):
        nn.SpatialTransformer(loc, 4, "tps", control_points=(1, 4))
    st = nn.SpatialTransformer(loc, 5)  # the localisation gives 4 features, not 5
    with pytest.raises(ValueError, match="loc_features"):
        st(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match="x"):
        st(np.zeros((4, 4), np.float32))


def test_state_dict_round_trip_and_repr():
    stn_np.manual_seed(1)
    st = nn.SpatialTransformer(small_localization(6), 8, "projective", out_size=4, lr_mult=0.1)
    names = [n for n, _ in st.named_parameters()]
    assert names[-2:] == ["regressor.weight", "regressor.bias"] and names[0] == "localization.0.weight"
    other = nn.SpatialTransformer(small_localization(6, rng=np.random.default_rng(9)), 8, "projective")
    other.load_state_dict(st.state_dict())
    x = np.random.default_rng(0).random((2, 1, 6, 6), dtype=np.float32)
    other.out_size = st.out_size
    np.testing.assert_array_equal(other(x).numpy(), st(x).numpy())
    text = repr(st)
    assert "transform='projective'" in text and "out_size=(4, 4)" in text and "lr_mult=0.1" in text
