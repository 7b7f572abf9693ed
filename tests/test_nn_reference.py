"""Layer, loss and optimizer results against PyTorch's, to 1e-10 in float64.

The PyTorch numbers are stored in ``data/nn_reference.npz`` (regenerate with
``data/make_nn_reference.py``), so these comparisons run without torch installed.
"""

import os

import numpy as np
import pytest

import stn_np.functional as F
from stn_np import Tensor
from stn_np.optim import SGD, Adam, StepLR

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "data", "nn_reference.npz"), allow_pickle=False)
TOL = dict(rtol=1e-10, atol=1e-12)


def _cases(op):
    return sorted({k.split("/")[1] for k in REFERENCE.files if k.startswith(op + "/")})


def _pair(prefix, name):
    return tuple(int(v) for v in REFERENCE[f"{prefix}/{name}"])


OPS = {
    "conv2d": lambda p: lambda *t: F.conv2d(*t, stride=_pair(p, "stride"), padding=_pair(p, "padding")),
    "max_pool2d": lambda p: lambda t: F.max_pool2d(t, _pair(p, "kernel"), _pair(p, "stride"), _pair(p, "padding")),
    "avg_pool2d": lambda p: lambda t: F.avg_pool2d(t, _pair(p, "kernel"), _pair(p, "stride"), _pair(p, "padding")),
    "linear": lambda p: F.linear,
    "log_softmax": lambda p: lambda t: F.log_softmax(t, axis=int(REFERENCE[f"{p}/axis"])),
    "cross_entropy": lambda p: lambda t: F.cross_entropy(t, REFERENCE[f"{p}/target"], str(REFERENCE[f"{p}/reduction"])),
    "nll_loss": lambda p: lambda t: F.nll_loss(t, REFERENCE[f"{p}/target"], str(REFERENCE[f"{p}/reduction"])),
    "mse_loss": lambda p: lambda x, y: F.mse_loss(x, y, str(REFERENCE[f"{p}/reduction"])),
}
OP_CASES = [(op, case) for op in OPS for case in _cases(op)]


def test_reference_covers_every_op_and_the_tie_cases():
    assert all(_cases(op) for op in OPS)
    assert {"ties_k2", "ties_k3_s1_p1", "ties_k3_s2"} <= set(_cases("max_pool2d"))
    assert str(REFERENCE["torch_version"]).startswith("2.")


@pytest.mark.parametrize("op, case", OP_CASES, ids=[f"{o}-{c}" for o, c in OP_CASES])
def test_op_matches_pytorch(op, case):
    prefix = f"{op}/{case}"
    n_inputs = len([k for k in REFERENCE.files if k.startswith(prefix + "/input")])
    tensors = [Tensor(REFERENCE[f"{prefix}/input{i}"], requires_grad=True) for i in range(n_inputs)]
    out = OPS[op](prefix)(*tensors)
    np.testing.assert_allclose(out.data, REFERENCE[f"{prefix}/output"], **TOL)
    out.backward(REFERENCE[f"{prefix}/upstream"])
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad, REFERENCE[f"{prefix}/grad{i}"], **TOL, err_msg=f"gradient of input {i}")


def _options(prefix):
    options = {}
    for key in REFERENCE.files:
        if key.startswith(prefix + "/opt/"):
            value = REFERENCE[key]
            options[key.rsplit("/", 1)[1]] = tuple(value.tolist()) if value.ndim else value.item()
    return options


def _replay(prefix, make_optimizer, after_step=None):
    """Feed the stored gradients step by step and compare the parameters after every step."""
    n_params = len([k for k in REFERENCE.files if k.startswith(prefix + "/") and k.endswith("/initial")])
    params = [Tensor(REFERENCE[f"{prefix}/param{i}/initial"], requires_grad=True) for i in range(n_params)]
    opt = make_optimizer(params)
    step = 0
    while f"{prefix}/param0/grad{step}" in REFERENCE.files:
        for i, p in enumerate(params):
            p.grad = REFERENCE[f"{prefix}/param{i}/grad{step}"].copy()
        opt.step()
        if after_step is not None:
            after_step(step)
        for i, p in enumerate(params):
            np.testing.assert_allclose(p.data, REFERENCE[f"{prefix}/param{i}/after{step}"], **TOL,
                                       err_msg=f"parameter {i} after step {step}")
        step += 1
    assert step == 5


OPTIM_CASES = sorted({k.split("/")[1] for k in REFERENCE.files if k.startswith("optim/")})


@pytest.mark.parametrize("case", OPTIM_CASES)
def test_optimizer_steps_match_pytorch(case):
    prefix = f"optim/{case}"
    kind = {"SGD": SGD, "Adam": Adam}[str(REFERENCE[f"{prefix}/kind"])]
    _replay(prefix, lambda params: kind(params, **_options(prefix)))


def test_parameter_groups_and_steplr_match_pytorch():
    holder = {}

    def make(params):
        holder["opt"] = Adam([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]]}], lr=0.01)
        holder["sched"] = StepLR(holder["opt"], step_size=2, gamma=0.5)
        return holder["opt"]

    def after(step):
        holder["sched"].step()
        np.testing.assert_allclose(holder["sched"].get_last_lr(), REFERENCE[f"groups_steplr/lr{step}"], rtol=1e-15)

    _replay("groups_steplr", make, after)
