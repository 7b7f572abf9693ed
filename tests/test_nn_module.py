"""The Module system: registration, names, modes, state dicts, initialisation, layers."""

import math

import numpy as np
import pytest

import stn_np
import stn_np.functional as F
from stn_np import Tensor, nn
from stn_np.nn import init
from stn_np.rng import manual_seed


class Net(nn.Module):
    def __init__(self, dtype=np.float32):
        super().__init__()
        self.scale = nn.Parameter(np.ones(1, dtype=dtype))
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Dropout2d(0.5))
        self.flatten = nn.Flatten()
        self.head = nn.Linear(8, 3, dtype=dtype)
        self.drop = nn.Dropout(0.5)
        self.not_a_parameter = np.zeros(3)

    def forward(self, x):
        return self.drop(self.head(self.flatten(self.features(x)))) * self.scale


def test_named_parameters_are_dotted_and_in_registration_order():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert [type(m).__name__ for m in Net().modules()][:3] == ["Net", "Sequential", "Conv2d"]


def test_shared_parameters_are_listed_once_and_reassignment_replaces():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    net = Net()
    net.head = nn.Linear(8, 3, bias=False)
    net.scale = 2.0  # no longer a parameter
    assert [n for n, _ in net.named_parameters()] == ["features.0.weight", "features.0.bias", "head.weight"]
    del net.head
    assert [n for n, _ in net.named_parameters()] == ["features.0.weight", "features.0.bias"]


def test_zero_grad_clears_every_gradient(rng):
    net = Net()
    F.cross_entropy(net(rng.standard_normal((2, 1, 6, 6)).astype(np.float32)), np.array([0, 2])).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_and_eval_switch_every_module_and_dropout(rng):
    net = Net()
    x = rng.standard_normal((4, 1, 6, 6)).astype(np.float32)
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    np.testing.assert_array_equal(net(x).data, net(x).data)  # deterministic in eval
    net.train()
    assert all(m.training for m in net.modules())
    manual_seed(0)
    a = net(x).data
    assert not np.array_equal(a, net(x).data)  # fresh masks each call


def test_state_dict_round_trip_gives_identical_outputs(rng):
    manual_seed(1)
    a = Net().eval()
    manual_seed(2)
    b = Net().eval()
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    assert not np.array_equal(a(x).data, b(x).data)
    state = a.state_dict()
    assert list(state) == [n for n, _ in a.named_parameters()]
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in state.values())
    state["head.bias"][...] = 0  # a copy: the model is untouched
    assert not np.all(a.head.bias.data == 0)
    weight_before = b.head.weight
    assert b.load_state_dict(a.state_dict()) == ([], [])
    assert b.head.weight is weight_before  # loaded in place, optimizers keep working
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_state_dict_survives_a_pickle_free_npz(tmp_path):
    net = Net()
    path = tmp_path / "ckpt.npz"
    np.savez(path, **net.state_dict())
    other = Net()
    with np.load(path, allow_pickle=False) as archive:
        other.load_state_dict(dict(archive))
    for (n, p), (_, q) in zip(net.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


def test_load_state_dict_lists_every_problem_and_loads_nothing():
    net = Net()
    before = net.state_dict()
    bad = net.state_dict()
    del bad["head.bias"]
    bad["extra.weight"] = np.zeros(2)
    bad["features.0.weight"] = np.zeros((2, 1, 5, 5), dtype=np.float32)
    bad["scale"] = np.ones(1, dtype=np.float64)
    bad["head.weight"] = bad["head.weight"] + 1
    with pytest.raises(ValueError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert message.startswith("Net.load_state_dict: state_dict: expected the model's parameter names, shapes and "
                              "dtypes, got missing keys: head.bias; unexpected keys: extra.weight; ")
    for part in ["missing keys: head.bias", "unexpected keys: extra.weight",
                 "features.0.weight: shape (2, 1, 5, 5) in the state dict, (2, 1, 3, 3) in the model",
                 "scale: dtype float64 in the state dict, float32 in the model"]:
        assert part in message
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_non_strict_reports_missing_and_unexpected():
    net = Net()
    partial = {"head.weight": np.full((3, 8), 0.5, dtype=np.float32), "other": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["scale", "features.0.weight", "features.0.bias", "head.bias"]
    assert result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(net.head.weight.data, 0.5)
    with pytest.raises(ValueError, match="head.weight: shape"):
        net.load_state_dict({"head.weight": np.zeros((8, 3), np.float32)}, strict=False)


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_repr_shows_the_tree():
    text = repr(Net())
    assert "(features): Sequential(" in text
    assert "(0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), bias=True)" in text
    assert "(head): Linear(in_features=8, out_features=3, bias=True)" in text
    assert "(drop): Dropout(p=0.5)" in text
    assert repr(nn.Parameter(np.zeros(1))).startswith("Parameter(")


def test_module_list_registers_and_indexes():
    heads = nn.ModuleList([nn.Linear(2, 1), nn.Linear(2, 1)])
    heads.append(nn.Linear(2, 1))
    assert len(heads) == 3 and isinstance(heads[-1], nn.Linear)
    assert len(list(heads.parameters())) == 6
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    with pytest.raises(TypeError) as caught:
        heads.append(np.zeros(2))
    assert str(caught.value) == "ModuleList.append: module: expected a Module, got a ndarray"


# ---------------------------------------------------------------- layers and init
@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Conv2d(3, 64, (5, 4)), 60), (lambda: nn.Linear(50, 200), 50)])
def test_default_init_is_pytorchs_uniform_bound(make, fan_in):
    manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
    w = layer.weight.data
    assert np.abs(w).max() > 0.97 * bound and abs(w.mean()) < 0.1 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # std of U(-b, b) is b / sqrt(3)


def test_layers_are_reproducible_from_the_seed_or_an_rng():
    manual_seed(11)
    a = nn.Linear(4, 3)
    manual_seed(11)
    b = nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    c = nn.Linear(4, 3, rng=np.random.default_rng(0))
    d = nn.Linear(4, 3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(c.bias.data, d.bias.data)
    assert nn.Conv2d(1, 1, 2, dtype=np.float64).weight.dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(2, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)


def test_init_helpers():
    w = Tensor(np.empty((400, 300), dtype=np.float32))
    init.kaiming_uniform_(w, nonlinearity="relu", rng=np.random.default_rng(0))
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert w.dtype == np.float32 and bound * 0.99 < np.abs(w.data).max() <= bound
    init.xavier_uniform_(w, rng=np.random.default_rng(0))
    assert np.abs(w.data).max() <= math.sqrt(6 / 700)
    init.kaiming_normal_(w, mode="fan_out", rng=np.random.default_rng(0))
    assert abs(w.data.std() - math.sqrt(2 / 400)) < 0.01 * math.sqrt(2 / 400) * 10
    init.constant_(w, 0.25)
    assert np.all(w.data == 0.25)
    theta = Tensor(np.empty(6))
    init.constant_(theta, [1, 0, 0, 0, 1, 0])  # the identity affine transform
    np.testing.assert_array_equal(theta.data, [1, 0, 0, 0, 1, 0])
    init.zeros_(w)
    assert not w.data.any()
    assert init.fan_in_and_fan_out((8, 3, 5, 5)) == (75, 200)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


def test_flatten_and_pool_layers(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(nn.AvgPool2d(3, stride=1, padding=1)(x).data, F.avg_pool2d(x, 3, 1, 1).data)


def test_a_float64_model_passes_gradcheck_through_every_layer(rng):
    manual_seed(4)
    net = Net().astype(np.float64).eval()
    assert all(p.dtype == np.float64 for p in net.parameters())
    x = rng.permutation(2 * 36).reshape(2, 1, 6, 6) * 0.05 - 1.0  # distinct values: no pooling ties
    assert stn_np.gradcheck(lambda t: net(t), (x,), mode="directional", atol=1e-7, rtol=1e-6)


# ---------------------------------------------------------------- bad input (issue 11)
def test_flatten_refuses_axes_out_of_range():
    """``Flatten(start_dim=4)`` used to wrap around and reshape anyway (issue 11, item 6)."""
    x = np.zeros((2, 3, 4, 5))
    for layer, message in [
        (nn.Flatten(4), "Flatten: start_dim: expected an axis in [-4, 4) of the input's shape (2, 3, 4, 5), got 4"),
        (nn.Flatten(-5), "Flatten: start_dim: expected an axis in [-4, 4) of the input's shape (2, 3, 4, 5), got -5"),
        (nn.Flatten(1, 7), "Flatten: end_dim: expected an axis in [-4, 4) of the input's shape (2, 3, 4, 5), got 7"),
    ]:
        with pytest.raises(ValueError) as caught:
            layer(x)
        assert str(caught.value) == message
    assert nn.Flatten(-4, -2)(x).shape == (24, 5)
    with pytest.raises(TypeError) as caught:
        nn.Flatten("1")
    assert str(caught.value) == "Flatten: start_dim: expected an int, got '1'"


def test_a_0x0_convolution_kernel_is_refused():
    """It used to return the bias alone, silently (issue 11, item 6)."""
    with pytest.raises(ValueError) as caught:
        F.conv2d(np.zeros((2, 3, 4, 5)), np.ones((4, 3, 0, 0)), np.ones(4))
    assert str(caught.value) == "conv2d: weight: expected a kernel of at least 1 x 1, got shape (4, 3, 0, 0)"


def test_layers_refuse_weights_beyond_the_memory_budget_before_allocating(monkeypatch):
    monkeypatch.setattr("stn_np.validation.MEMORY_BUDGET", 4 * 2**30)  # the default, whatever the environment says
    with pytest.raises(ValueError) as caught:
        nn.Linear(100000, 200000)
    assert str(caught.value) == ("Linear: out_features: expected a weight within the memory budget of 4.0 GiB "
                                 "(stn_np.validation.MEMORY_BUDGET), got shape (200000, 100000) of float32, 74.5 GiB")
    with pytest.raises(ValueError, match="^Conv2d: in_channels: expected a weight within the memory budget"):
        nn.Conv2d(10**9, 4, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.Parameter(np.zeros(3, int)), TypeError,
     "Parameter: data: expected floating-point values (or a float dtype), got dtype int64"),
    (lambda: nn.Parameter("abc"), TypeError, "Parameter: data: expected real (integer or float) values, got dtype <U3"),
    (lambda: nn.Parameter(np.zeros(2), requires_grad="yes"), TypeError,
     "Parameter: requires_grad: expected a bool, got 'yes'"),
    (lambda: nn.Linear(2, 2).astype(np.int32), TypeError, "Linear.astype: dtype: expected a floating-point dtype, got int32"),
    (lambda: nn.Linear(2, 2, dtype="no-such-dtype"), TypeError,
     "Linear: dtype: expected a floating-point dtype, got 'no-such-dtype'"),
    (lambda: nn.Linear(2, 2, bias="no"), TypeError, "Linear: bias: expected a bool, got 'no'"),
    (lambda: nn.Linear(2, 2).load_state_dict(3), TypeError,
     "Linear.load_state_dict: state_dict: expected a dict of parameter names to arrays, got a int"),
    (lambda: nn.Linear(2, 2).train("yes"), TypeError, "Linear.train: mode: expected a bool, got 'yes'"),
    (lambda: nn.Sequential(nn.ReLU(), 3), TypeError, "Sequential: modules: expected Modules only, got a int among them"),
    (lambda: init.uniform_(Tensor(np.zeros(3)), a=float("nan")), ValueError, "uniform_: a: expected a finite number, got nan"),
    (lambda: init.uniform_(Tensor(np.zeros(3)), a=1, b=0), ValueError,
     "uniform_: b: expected a finite number >= 1.0, got 0.0"),
    (lambda: init.normal_(Tensor(np.zeros(3)), std=-1), ValueError, "normal_: std: expected a finite number >= 0, got -1.0"),
    (lambda: init.kaiming_uniform_(Tensor(np.zeros(3))), ValueError,
     "kaiming_uniform_: tensor: expected a weight of at least 2 dimensions (fan in and fan out), got shape (3,)"),
    (lambda: init.kaiming_normal_(Tensor(np.zeros((3, 4))), mode="fan"), ValueError,
     "kaiming_normal_: mode: expected one of 'fan_in', 'fan_out', got 'fan'"),
    (lambda: init.xavier_normal_(Tensor(np.zeros((3, 4))), gain=float("inf")), ValueError,
     "xavier_normal_: gain: expected a finite number >= 0, got inf"),
    (lambda: init.constant_(Tensor(np.zeros(3)), np.ones(4)), ValueError,
     "constant_: value: expected a scalar or an array broadcasting to (3,), got shape (4,)"),
    (lambda: init.zeros_(None), TypeError, "zeros_: tensor: expected a Tensor or Parameter, got a NoneType"),
    (lambda: init.calculate_gain("swish"), ValueError, "calculate_gain: nonlinearity: expected one of 'linear', 'conv2d', "
                                                       "'sigmoid', 'relu', 'tanh', 'leaky_relu', got 'swish'"),
    (lambda: init.fan_in_and_fan_out((3,)), ValueError,
     "fan_in_and_fan_out: shape: expected the shape of a weight, at least 2 ints >= 0, got (3,)"),
    (lambda: init.uniform_(Tensor(np.zeros(3)), rng=3), TypeError,
     "uniform_: rng: expected a numpy.random.Generator or None, got a int"),
])
def test_bad_arguments_of_modules_and_init_name_what_is_wrong(call, error, message):
    with pytest.raises(error) as caught:
        call()
    assert str(caught.value) == message
