"""Empty shapes in the layer ops and layers: N = 0, C = 0 and zero-size outputs, forward and backward.

What PyTorch 2.13 does is the rule (checked by hand with torch, recorded in each op's docstring):
empty outputs, gradients of the input's shape (empty where the input is), and the parameters'
gradients zero, because no sample contributes. Two deliberate differences are tested as such:
conv2d with C = 0 returns the bias (PyTorch loses the output channels) and pooling accepts
C = 0 (PyTorch raises). A mean over no losses is NaN, as in PyTorch; a maximum over an empty
axis stays an error.
"""

import warnings

import numpy as np
import pytest

import stn_np.functional as F
from stn_np import Tensor, nn


@pytest.fixture(autouse=True)
def no_numpy_warnings():
    """Empty shapes must not go through NumPy's "mean of empty slice" or division warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def run(fn, shapes, rng, dtype=np.float64):
    """Forward ``fn`` on tensors of ``shapes`` (random values), backward a random upstream gradient."""
    tensors = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    out = fn(*tensors)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(g)
    for t in tensors:
        assert t.grad.shape == t.shape and t.grad.dtype == dtype
    return out, g, [t.grad for t in tensors]


# ---------------------------------------------------------------- conv2d
@pytest.mark.parametrize("stride, padding, out_hw", [(1, 0, (3, 4)), (2, 1, (3, 3)), ((1, 2), (2, 0), (7, 2))])
def test_conv2d_on_an_empty_batch_gives_an_empty_output_and_zero_parameter_gradients(stride, padding, out_hw, rng):
    out, _, (gx, gw, gb) = run(lambda x, w, b: F.conv2d(x, w, b, stride, padding), [(0, 2, 5, 6), (3, 2, 3, 3), (3,)], rng)
    assert out.shape == (0, 3) + out_hw
    assert gx.shape == (0, 2, 5, 6)
    np.testing.assert_array_equal(gw, np.zeros((3, 2, 3, 3)))
    np.testing.assert_array_equal(gb, np.zeros(3))


def test_conv2d_with_no_input_channels_is_the_bias_everywhere(rng):
    # a sum over no channels is 0: PyTorch 2.13 returns shape (2, 0, 3, 3) here, we keep the O channels
    out, g, (gx, gw, gb) = run(F.conv2d, [(2, 0, 5, 5), (3, 0, 3, 3), (3,)], rng)
    b = out.data[0, :, 0, 0]
    np.testing.assert_array_equal(out.data, np.broadcast_to(b[None, :, None, None], (2, 3, 3, 3)))
    assert gx.shape == (2, 0, 5, 5) and gw.shape == (3, 0, 3, 3)
    np.testing.assert_allclose(gb, g.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_conv2d_float32_empty_batch_keeps_float32(rng):
    out, _, grads = run(F.conv2d, [(0, 1, 6, 6), (2, 1, 3, 3), (2,)], rng, dtype=np.float32)
    assert out.dtype == np.float32 and out.shape == (0, 2, 4, 4)


@pytest.mark.parametrize("x_shape, w_shape, match", [
    ((2, 2, 5, 5), (0, 2, 3, 3), r"conv2d: weight: expected at least one output channel \(as PyTorch\), got shape \(0, 2, 3, 3\)"),
    ((2, 2, 0, 5), (3, 2, 1, 1), r"conv2d: x: expected a non-empty image \(H, W >= 1\), got shape \(2, 2, 0, 5\)"),
    ((2, 2, 4, 0), (3, 2, 1, 1), r"conv2d: x: expected a non-empty image"),
])
def test_conv2d_without_output_channels_or_pixels_is_an_error(x_shape, w_shape, match):
    with pytest.raises(ValueError, match=match):
        F.conv2d(np.zeros(x_shape), np.zeros(w_shape))


# ---------------------------------------------------------------- pooling
POOLS = [(F.max_pool2d, 2, None, 0), (F.max_pool2d, 3, 1, 1), (F.avg_pool2d, 2, None, 0), (F.avg_pool2d, (3, 2), 2, 1)]


@pytest.mark.parametrize("shape", [(0, 2, 6, 7), (2, 0, 6, 7)], ids=["N0", "C0"])
@pytest.mark.parametrize("pool, kernel, stride, padding", POOLS)
def test_pooling_empty_batches_and_channels_give_empty_outputs_and_gradients(pool, kernel, stride, padding, shape, rng):
    out, _, (gx,) = run(lambda x: pool(x, kernel, stride, padding), [shape], rng)
    full = pool(np.ones((1, 1, 6, 7)), kernel, stride, padding)  # the same geometry on a real image
    assert out.shape == shape[:2] + full.shape[2:]
    assert gx.shape == shape and gx.size == 0


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pooling_an_image_without_pixels_is_an_error(pool):
    with pytest.raises(ValueError, match=r"_pool2d: x: expected a non-empty image \(H, W >= 1\), got shape \(1, 1, 0, 4\)"):
        pool(np.zeros((1, 1, 0, 4)), 1)


# ---------------------------------------------------------------- linear
def test_linear_without_rows_gives_an_empty_output_and_zero_parameter_gradients(rng):
    for x_shape in [(0, 3), (0, 5, 3), (4, 0, 3)]:
        out, _, (gx, gw, gb) = run(F.linear, [x_shape, (2, 3), (2,)], rng)
        assert out.shape == x_shape[:-1] + (2,)
        np.testing.assert_array_equal(gw, np.zeros((2, 3)))
        np.testing.assert_array_equal(gb, np.zeros(2))


def test_linear_with_no_input_features_is_the_bias(rng):
    out, g, (gx, gw, gb) = run(F.linear, [(4, 0), (2, 0), (2,)], rng)
    np.testing.assert_array_equal(out.data, np.broadcast_to(out.data[0], (4, 2)))
    assert gx.shape == (4, 0) and gw.shape == (2, 0)
    np.testing.assert_allclose(gb, g.sum(axis=0), rtol=1e-12)


def test_linear_with_no_output_features_gives_a_zero_input_gradient(rng):
    out, _, (gx, gw, gb) = run(F.linear, [(4, 3), (0, 3), (0,)], rng)
    assert out.shape == (4, 0) and gw.shape == (0, 3) and gb.shape == (0,)
    np.testing.assert_array_equal(gx, np.zeros((4, 3)))


# ---------------------------------------------------------------- log_softmax and the losses
@pytest.mark.parametrize("shape, axis", [((0, 4), -1), ((3, 0), -1), ((0, 3), 0), ((2, 0, 3), 1)])
def test_log_softmax_of_an_empty_array_is_empty(shape, axis, rng):
    out, _, (gx,) = run(lambda x: F.log_softmax(x, axis), [shape], rng)
    assert out.shape == shape and gx.shape == shape


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("classes", [4, 0])
def test_classification_losses_on_an_empty_batch_follow_pytorch(loss, classes, rng):
    fn = getattr(F, loss)
    target = np.zeros(0, dtype=np.int64)
    mean, _, (g_mean,) = run(lambda x: fn(x, target), [(0, classes)], rng)
    assert mean.shape == () and np.isnan(mean.item())  # 0 / 0, as PyTorch
    total, _, (g_sum,) = run(lambda x: fn(x, target, reduction="sum"), [(0, classes)], rng)
    assert total.item() == 0.0
    each, _, (g_none,) = run(lambda x: fn(x, target, reduction="none"), [(0, classes)], rng)
    assert each.shape == (0,)
    assert g_mean.shape == g_sum.shape == g_none.shape == (0, classes)


def test_classification_losses_without_classes_but_with_samples_reject_every_target():
    with pytest.raises(ValueError, match=r"cross_entropy: target: expected class indices in \[0, 0\), got 0"):
        F.cross_entropy(np.zeros((2, 0)), np.array([0, 0]))


@pytest.mark.parametrize("shape", [(0, 4), (3, 0, 2)])
def test_mse_loss_of_empty_arrays_follows_pytorch(shape, rng):
    mean, _, (gx, gy) = run(F.mse_loss, [shape, shape], rng)
    assert np.isnan(mean.item()) and gx.shape == gy.shape == shape
    assert run(lambda x, y: F.mse_loss(x, y, "sum"), [shape, shape], rng)[0].item() == 0.0
    assert run(lambda x, y: F.mse_loss(x, y, "none"), [shape, shape], rng)[0].shape == shape


def test_a_float32_mean_over_no_losses_is_a_float32_nan(rng):
    out, _, _ = run(lambda x: F.cross_entropy(x, np.zeros(0, dtype=np.int64)), [(0, 3)], rng, dtype=np.float32)
    assert out.dtype == np.float32 and np.isnan(out.item())


def test_a_maximum_over_an_empty_axis_stays_an_error():
    with pytest.raises(ValueError):
        Tensor(np.zeros((0, 4)), requires_grad=True).max(axis=0)


# ---------------------------------------------------------------- dropout and relu
@pytest.mark.parametrize("fn, shape", [(F.dropout, (0, 4)), (F.dropout, (3, 0)), (F.dropout2d, (0, 3, 2, 2)),
                                       (F.dropout2d, (2, 0, 2, 2)), (F.relu, (0, 5))])
def test_dropout_and_relu_of_empty_arrays_are_empty(fn, shape, rng):
    out, _, (gx,) = run(fn, [shape], rng)
    assert out.shape == shape and gx.shape == shape


# ---------------------------------------------------------------- layers
def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, dtype=np.float64), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Conv2d(4, 6, 3, padding=1, dtype=np.float64), nn.AvgPool2d(2), nn.Dropout2d(0.5),
                         nn.Flatten(), nn.Linear(24, 5, dtype=np.float64), nn.Dropout(0.5),
                         nn.Linear(5, 3, dtype=np.float64))


@pytest.mark.parametrize("training", [True, False])
def test_a_sequential_cnn_on_an_empty_batch_gives_zero_parameter_gradients(training, rng):
    model = small_cnn().train(training)
    x = Tensor(np.zeros((0, 1, 10, 10)), requires_grad=True)
    logits = model(x)
    assert logits.shape == (0, 3)
    F.cross_entropy(logits, np.zeros(0, dtype=np.int64), reduction="sum").backward()
    assert x.grad.shape == (0, 1, 10, 10)
    for name, p in model.named_parameters():
        assert p.grad.shape == p.shape, name
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape), err_msg=name)


@pytest.mark.parametrize("layer, shape, out_shape", [
    (nn.Conv2d(2, 3, 3, stride=2, padding=1), (0, 2, 7, 7), (0, 3, 4, 4)),
    (nn.Linear(4, 2), (0, 4), (0, 2)),
    (nn.MaxPool2d(2), (0, 3, 5, 5), (0, 3, 2, 2)),
    (nn.AvgPool2d(3, stride=1, padding=1), (0, 3, 5, 5), (0, 3, 5, 5)),
    (nn.Flatten(), (0, 3, 5, 5), (0, 75)),
    (nn.Flatten(), (2, 0, 5, 5), (2, 0)),
])
def test_each_layer_maps_an_empty_batch_to_an_empty_output(layer, shape, out_shape, rng):
    out, _, (gx,) = run(layer, [shape], rng, dtype=np.float32)
    assert out.shape == out_shape and out.dtype == np.float32
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape))
