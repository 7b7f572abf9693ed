"""Optimizers and the schedule: semantics, state dicts, validation, and learning toy problems.

Their update rules against torch.optim are in test_nn_reference.py.
"""

import numpy as np
import pytest

import stn_np.functional as F
from stn_np import Tensor, nn
from stn_np.optim import SGD, Adam, StepLR, flatten_state_dict, unflatten_state_dict
from stn_np.rng import manual_seed

OPTIMIZERS = {
    "sgd": lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda params: Adam(params, lr=0.01, weight_decay=1e-3),
}


def params_and_grads(rng, dtype=np.float64):
    params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in [(3, 2), (2,)]]
    return params


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_updates_in_place_keep_float32_and_skip_missing_gradients(name, rng):
    params = params_and_grads(rng, np.float32)
    frozen = params[1].data.copy()
    buffers = [p.data for p in params]
    opt = OPTIMIZERS[name](params)
    for _ in range(3):
        params[0].grad = rng.standard_normal((3, 2)).astype(np.float32)
        params[1].grad = None
        before = params[0].data.copy()
        opt.step()
        assert not np.array_equal(params[0].data, before)
    assert params[0].data is buffers[0] and params[0].dtype == np.float32
    np.testing.assert_array_equal(params[1].data, frozen)
    assert 1 not in opt.state
    assert all(v.dtype == np.float32 for v in opt.state[0].values() if isinstance(v, np.ndarray))
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_plain_sgd_step_is_p_minus_lr_times_grad(rng):
    p = Tensor(rng.standard_normal(4), requires_grad=True)
    start, g = p.data.copy(), rng.standard_normal(4)
    p.grad = g
    SGD([p], lr=0.3).step()
    np.testing.assert_allclose(p.data, start - 0.3 * g, rtol=1e-15)


def test_first_adam_step_moves_each_coordinate_by_lr(rng):
    # after one step m / sqrt(v) = sign(g) after bias correction, so |dp| = lr (up to eps)
    p = Tensor(rng.standard_normal(5), requires_grad=True)
    start = p.data.copy()
    p.grad = rng.standard_normal(5)
    Adam([p], lr=0.05).step()
    np.testing.assert_allclose(np.abs(p.data - start), 0.05, rtol=1e-6)


def test_parameter_groups_have_their_own_learning_rate(rng):
    a, b = (Tensor(np.zeros(3), requires_grad=True) for _ in range(2))
    opt = SGD([{"params": [a], "lr": 0.01}, {"params": [b]}], lr=1.0)
    a.grad, b.grad = np.ones(3), np.ones(3)
    opt.step()
    np.testing.assert_allclose(a.data, -0.01)
    np.testing.assert_allclose(b.data, -1.0)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 1.0]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_through_a_flat_npz_resumes_exactly(name, rng, tmp_path):
    grads = [[rng.standard_normal(s) for s in [(3, 2), (2,)]] for _ in range(6)]
    init = params_and_grads(rng)

    def run(params, opt, steps):
        for step in steps:
            for p, g in zip(params, grads[step]):
                p.grad = g
            opt.step()

    params = [Tensor(p.data, requires_grad=True) for p in init]
    opt = OPTIMIZERS[name](params)
    run(params, opt, range(6))

    params2 = [Tensor(p.data, requires_grad=True) for p in init]
    opt2 = OPTIMIZERS[name](params2)
    run(params2, opt2, range(3))
    flat = flatten_state_dict(opt2.state_dict())
    assert all(isinstance(v, np.ndarray) for v in flat.values())
    np.savez(tmp_path / "opt.npz", **flat)
    params3 = [Tensor(p.data, requires_grad=True) for p in params2]
    opt3 = OPTIMIZERS[name](params3)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as archive:
        opt3.load_state_dict(dict(archive))
    assert opt3.param_groups[0].keys() == opt2.param_groups[0].keys()
    for key in opt3.param_groups[0]:
        if key != "params":
            assert opt3.param_groups[0][key] == opt2.param_groups[0][key]
    run(params3, opt3, range(3, 6))
    for p, q in zip(params, params3):
        np.testing.assert_array_equal(p.data, q.data)


def test_unflatten_inverts_flatten():
    state = {"state": {0: {"step": 3, "exp_avg": np.arange(2.0)}},
             "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "nesterov": False, "params": [0, 1]}]}
    back = unflatten_state_dict(flatten_state_dict(state))
    assert back["param_groups"] == state["param_groups"]
    assert back["state"][0]["step"] == 3
    np.testing.assert_array_equal(back["state"][0]["exp_avg"], [0.0, 1.0])


def test_load_state_dict_rejects_a_different_layout(rng):
    opt = Adam(params_and_grads(rng))
    other = Adam([Tensor(np.zeros(3), requires_grad=True)])
    with pytest.raises(ValueError) as caught:
        opt.load_state_dict(other.state_dict())
    assert str(caught.value) == ("Adam.load_state_dict: state_dict['param_groups'][0]: expected 2 parameters, as group 0 "
                                 "of the optimizer has, got 1 (group 0 has 1 parameters)")
    p = Tensor(np.zeros(3), requires_grad=True)
    p.grad = np.ones(3)
    other.step()
    bad = Adam([Tensor(np.zeros(4), requires_grad=True)])
    other.param_groups[0]["params"][0].grad = np.ones(3)
    other.step()
    with pytest.raises(ValueError) as caught:
        bad.load_state_dict(other.state_dict())
    assert str(caught.value) == ("Adam.load_state_dict: state_dict['state'][0]['exp_avg']: expected shape (4,), as "
                                 "parameter 0 has, got shape (3,) (exp_avg of parameter 0 has shape (3,))")


@pytest.mark.parametrize("call, error, message", [
    (lambda p: SGD([], lr=0.1), ValueError,
     "SGD: params: expected at least one Tensor to optimise, got an empty parameter list"),
    (lambda p: SGD([p], lr=-1), ValueError, "SGD: lr: expected a finite number >= 0, got -1.0"),
    (lambda p: SGD([p, p], lr=0.1), ValueError,
     "SGD: params[0]: expected each tensor once, got a tensor of shape (2,) more than once"),
    (lambda p: SGD([Tensor(np.zeros(2))], lr=0.1), ValueError,
     "SGD: params[0]: expected tensors that require grad, got a tensor of shape (2,) that does not"),
    (lambda p: SGD([np.zeros(2)], lr=0.1), TypeError, "SGD: params[0]: expected Tensors, got a ndarray"),
    (lambda p: SGD(p, lr=0.1), TypeError, "SGD: params: expected an iterable of Tensors or of dicts, got a single Tensor"),
    (lambda p: SGD([p], lr=0.1, nesterov=True), ValueError,
     "SGD: nesterov: expected False unless momentum > 0 and dampening == 0 (Nesterov momentum needs both), "
     "got True with momentum 0 and dampening 0"),
    (lambda p: SGD([{"params": [p], "momentun": 0.9}], lr=0.1), ValueError,
     "SGD: params[0]: expected options among ['dampening', 'lr', 'momentum', 'nesterov', 'weight_decay'], "
     "got unknown options ['momentun']"),
    (lambda p: Adam([p], betas=(0.9, 1.0)), ValueError, "Adam: betas: expected two numbers in [0, 1), got (0.9, 1.0)"),
    (lambda p: StepLR(SGD([p], lr=0.1), step_size=0), ValueError, "StepLR: step_size: expected an int >= 1, got 0"),
    # non-finite and negative hyperparameters (issue 11, item 3)
    (lambda p: SGD([p], lr=float("nan")), ValueError, "SGD: lr: expected a finite number >= 0, got nan"),
    (lambda p: SGD([p], lr=float("inf")), ValueError, "SGD: lr: expected a finite number >= 0, got inf"),
    (lambda p: SGD([p], lr=0.1, momentum=float("nan")), ValueError,
     "SGD: momentum: expected a finite number >= 0, got nan"),
    (lambda p: SGD([p], lr=0.1, dampening=-1), ValueError, "SGD: dampening: expected a finite number >= 0, got -1.0"),
    (lambda p: SGD([{"params": [p], "lr": float("nan")}], lr=0.1), ValueError,
     "SGD: params[0]['lr']: expected a finite number >= 0, got nan"),
    (lambda p: Adam([p], eps=float("nan")), ValueError, "Adam: eps: expected a finite number >= 0, got nan"),
    (lambda p: Adam([p], weight_decay=float("inf")), ValueError,
     "Adam: weight_decay: expected a finite number >= 0, got inf"),
    (lambda p: Adam([p], betas=(float("nan"), 0.9)), ValueError, "Adam: betas: expected two numbers in [0, 1), got (nan, 0.9)"),
    (lambda p: Adam([p], lr="0.1"), TypeError, "Adam: lr: expected a finite number >= 0, got '0.1'"),
    (lambda p: StepLR(SGD([p], lr=0.1), step_size=1, gamma=float("nan")), ValueError,
     "StepLR: gamma: expected a finite number > 0, got nan"),
    (lambda p: StepLR(SGD([p], lr=0.1), step_size=1, gamma=-1), ValueError,
     "StepLR: gamma: expected a finite number > 0, got -1.0"),
])
def test_bad_optimizer_arguments(call, error, message):
    with pytest.raises(error) as caught:
        call(Tensor(np.zeros(2), requires_grad=True))
    assert str(caught.value) == message


@pytest.mark.parametrize("make, option, value, message", [
    (lambda p: SGD([p], lr=0.1, momentum=0.9), "lr", float("nan"),
     "SGD.load_state_dict: state_dict['param_groups'][0]['lr']: expected a finite number >= 0, got nan"),
    (lambda p: SGD([p], lr=0.1, momentum=0.9), "momentum", -0.5,
     "SGD.load_state_dict: state_dict['param_groups'][0]['momentum']: expected a finite number >= 0, got -0.5"),
    (lambda p: Adam([p]), "eps", float("inf"),
     "Adam.load_state_dict: state_dict['param_groups'][0]['eps']: expected a finite number >= 0, got inf"),
    (lambda p: Adam([p]), "betas", (0.9, 1.5),
     "Adam.load_state_dict: state_dict['param_groups'][0]['betas']: expected two numbers in [0, 1), got (0.9, 1.5)"),
])
def test_load_state_dict_refuses_bad_hyperparameters_and_changes_nothing(make, option, value, message):
    """A checkpoint holding lr = NaN (or any bad option) is refused, also in the flat form a checkpoint stores."""
    p = Tensor(np.ones(2), requires_grad=True)
    opt = make(p)
    p.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    state["param_groups"][0][option] = value
    before = opt.state_dict()
    for form in (state, flatten_state_dict(state)):
        with pytest.raises(ValueError) as caught:
            make(Tensor(np.ones(2), requires_grad=True)).load_state_dict(form)
        assert str(caught.value) == message
        with pytest.raises(ValueError):
            opt.load_state_dict(form)
        assert opt.param_groups[0][option] == before["param_groups"][0][option]


def test_load_state_dict_refuses_non_finite_state():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = Adam([p])
    p.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = np.array([np.nan, 0.0])
    with pytest.raises(ValueError) as caught:
        Adam([Tensor(np.ones(2), requires_grad=True)]).load_state_dict(state)
    assert str(caught.value) == ("Adam.load_state_dict: state_dict['state'][0]['exp_avg']: expected finite values, "
                                 "got 1 NaN or infinite value")


def test_steplr_load_state_dict_checks_like_the_constructor():
    sched = StepLR(SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.5), step_size=2)
    for key, value, message in [
            ("gamma", float("nan"), "StepLR.load_state_dict: state_dict['gamma']: expected a finite number > 0, got nan"),
            ("gamma", -1.0, "StepLR.load_state_dict: state_dict['gamma']: expected a finite number > 0, got -1.0"),
            ("step_size", 0, "StepLR.load_state_dict: state_dict['step_size']: expected an int >= 1, got 0")]:
        with pytest.raises(ValueError) as caught:
            sched.load_state_dict(dict(sched.state_dict(), **{key: value}))
        assert str(caught.value) == message
    with pytest.raises(ValueError) as caught:
        sched.load_state_dict({"gamma": 0.5})
    assert str(caught.value) == ("StepLR.load_state_dict: state_dict: expected the keys step_size, gamma, last_epoch "
                                 "and base_lrs, got no step_size, last_epoch, base_lrs")
    assert (sched.step_size, sched.gamma) == (2, 0.1)


def test_steplr_decays_every_step_size_epochs_and_round_trips():
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = SGD([{"params": [p]}], lr=0.5)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    lrs = []
    for _ in range(7):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.5, 0.5, 0.05, 0.05, 0.05, 0.005, 0.005])
    other = StepLR(SGD([p], lr=0.5), step_size=1)
    other.load_state_dict({k: np.array(v) for k, v in sched.state_dict().items()})
    assert (other.last_epoch, other.step_size, other.gamma) == (7, 3, 0.1)


# ---------------------------------------------------------------- learning toy problems
def two_spirals(rng, n=128):
    t = rng.uniform(0.5, 3.0, n)
    label = rng.integers(0, 2, n)
    angle = t * 2 + np.pi * label
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) + rng.normal(0, 0.05, (n, 2))
    return x.astype(np.float32), label


def bars(rng, n=64):
    """8x8 images holding one horizontal (class 0) or vertical (class 1) bar, plus noise."""
    label = rng.integers(0, 2, n)
    images = rng.normal(0, 0.1, (n, 1, 8, 8)).astype(np.float32)
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if label[i]:
            images[i, 0, :, pos[i]] += 1
        else:
            images[i, 0, pos[i], :] += 1
    return images, label


def train(model, opt, x, y, steps):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("make_opt", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.02)],
                         ids=["sgd", "adam"])
def test_a_tiny_mlp_learns_two_spirals(make_opt, rng):
    manual_seed(0)
    x, y = two_spirals(rng)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    losses = train(model, make_opt(model.parameters()), x, y, 150)
    assert losses[-1] < 0.3 * losses[0]
    assert model.eval()(x).data.argmax(axis=1).tolist().count(0) > 0
    assert np.mean(model(x).data.argmax(axis=1) == y) > 0.85


@pytest.mark.parametrize("make_opt", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.01)],
                         ids=["sgd", "adam"])
def test_a_tiny_cnn_learns_bar_orientation(make_opt, rng):
    manual_seed(0)
    x, y = bars(rng)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.1),
                          nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 2))
    losses = train(model, make_opt(model.parameters()), x, y, 40)
    assert losses[-1] < 0.2 * losses[0]
    x_test, y_test = bars(rng)
    assert np.mean(model.eval()(x_test).data.argmax(axis=1) == y_test) > 0.9


def test_loaded_options_are_python_numbers_so_float32_updates_stay_float32():
    import numpy as np

    from stn_np import Tensor
    from stn_np.optim import Adam, flatten_state_dict

    p = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = Adam([p], lr=1e-3)
    p.grad = np.ones(3, np.float32)
    opt.step()
    restored = Adam([p], lr=1e-3)
    restored.load_state_dict(flatten_state_dict(opt.state_dict()))
    beta1, beta2 = restored.param_groups[0]["betas"]
    assert type(beta1) is float and type(beta2) is float and type(restored.param_groups[0]["lr"]) is float
    restored.step()
    assert p.data.dtype == np.float32 and restored.state[0]["exp_avg"].dtype == np.float32
