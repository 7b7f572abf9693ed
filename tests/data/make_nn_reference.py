"""Regenerate ``nn_reference.npz``: PyTorch's values and gradients of the layer and loss ops,
and parameter trajectories of its optimizers, in float64.

Run by hand where torch is installed (it is never a dependency):
    python tests/data/make_nn_reference.py

Each op case stores its inputs, its options (as small int arrays), a random upstream gradient,
the output and the gradient of every floating input, under ``<op>/<case>/<name>``. Each
optimizer case stores its options under ``optim/<case>/opt/<name>``, the initial parameters,
the gradient fed at every step and the parameters after every step.
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# (case, x shape, weight shape, bias?, stride, padding)
CONV = [
    ("plain", (2, 3, 6, 7), (4, 3, 3, 3), True, (1, 1), (0, 0)),
    ("stride2_pad1_nonsquare", (2, 2, 7, 9), (3, 2, 3, 2), True, (2, 2), (1, 1)),
    ("stride21_pad02_nobias", (1, 3, 8, 6), (2, 3, 2, 4), False, (2, 1), (0, 2)),
    ("stride3_k5", (2, 1, 11, 12), (2, 1, 5, 5), True, (3, 3), (2, 1)),
]
# (case, x shape, kernel, stride, padding, integer-valued input with ties?)
POOL = [
    ("k2", (2, 3, 6, 8), (2, 2), (2, 2), (0, 0), False),
    ("k2_odd_size", (1, 2, 7, 5), (2, 2), (2, 2), (0, 0), False),
    ("k3_s2_p1", (2, 2, 7, 8), (3, 3), (2, 2), (1, 1), False),
    ("k3_s1_overlap", (1, 2, 6, 6), (3, 3), (1, 1), (0, 0), False),
    ("k23_s12_p11", (2, 1, 6, 7), (2, 3), (1, 2), (1, 1), False),
    ("ties_k2", (2, 2, 6, 6), (2, 2), (2, 2), (0, 0), True),
    ("ties_k3_s1_p1", (1, 2, 6, 7), (3, 3), (1, 1), (1, 1), True),
    ("ties_k3_s2", (2, 1, 7, 7), (3, 3), (2, 2), (0, 0), True),
]

OPTIM = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov_wd", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_dampening_wd", "SGD", dict(lr=0.2, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    ("adam", "Adam", dict(lr=1e-2)),
    ("adam_betas_eps_wd", "Adam", dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]
PARAM_SHAPES = [(3, 4), (4,)]
STEPS = 5


def store_op(arrays, prefix, fn, inputs, options, rng):
    tensors = [torch.tensor(x, requires_grad=True) for x in inputs]
    out = fn(*tensors)
    upstream = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(upstream))
    for k, v in options.items():
        arrays[f"{prefix}/{k}"] = np.asarray(v)
    for i, (x, t) in enumerate(zip(inputs, tensors)):
        arrays[f"{prefix}/input{i}"] = x
        arrays[f"{prefix}/grad{i}"] = t.grad.numpy()
    arrays[f"{prefix}/upstream"] = upstream
    arrays[f"{prefix}/output"] = out.detach().numpy()


def main():
    rng = np.random.default_rng(2015)
    arrays = {}
    for name, xs, ws, bias, stride, padding in CONV:
        inputs = [rng.standard_normal(xs), rng.standard_normal(ws)] + ([rng.standard_normal(ws[0])] if bias else [])
        store_op(arrays, f"conv2d/{name}", lambda *t: F.conv2d(*t, stride=stride, padding=padding), inputs,
                 dict(stride=stride, padding=padding), rng)
    for name, xs, kernel, stride, padding, ties in POOL:
        x = rng.integers(0, 3, xs).astype(np.float64) if ties else rng.standard_normal(xs)
        options = dict(kernel=kernel, stride=stride, padding=padding)
        store_op(arrays, f"max_pool2d/{name}", lambda t: F.max_pool2d(t, kernel, stride, padding), [x], options, rng)
        if not ties:
            store_op(arrays, f"avg_pool2d/{name}", lambda t: F.avg_pool2d(t, kernel, stride, padding), [x], options, rng)
    store_op(arrays, "linear/bias", F.linear, [rng.standard_normal(s) for s in [(5, 3), (4, 3), (4,)]], {}, rng)
    store_op(arrays, "linear/batched_no_bias", F.linear, [rng.standard_normal(s) for s in [(2, 5, 3), (4, 3)]], {}, rng)
    for axis in (-1, 0):
        store_op(arrays, f"log_softmax/axis{axis}", lambda t: F.log_softmax(t, dim=axis),
                 [rng.standard_normal((4, 6)) * 5], dict(axis=axis), rng)
    for reduction in ("mean", "sum", "none"):
        target = rng.integers(0, 5, 7)
        t = torch.tensor(target)
        store_op(arrays, f"cross_entropy/{reduction}", lambda x: F.cross_entropy(x, t, reduction=reduction),
                 [rng.standard_normal((7, 5)) * 3], dict(target=target, reduction=reduction), rng)
        store_op(arrays, f"nll_loss/{reduction}", lambda x: F.nll_loss(x, t, reduction=reduction),
                 [rng.standard_normal((7, 5))], dict(target=target, reduction=reduction), rng)
        store_op(arrays, f"mse_loss/{reduction}", lambda x, y: F.mse_loss(x, y, reduction=reduction),
                 [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))], dict(reduction=reduction), rng)

    for name, kind, options in OPTIM:
        params0 = [rng.standard_normal(s) for s in PARAM_SHAPES]
        grads = [[rng.standard_normal(s) for s in PARAM_SHAPES] for _ in range(STEPS)]
        params = [torch.tensor(p, requires_grad=True) for p in params0]
        opt = getattr(torch.optim, kind)(params, **options)
        prefix = f"optim/{name}"
        arrays[f"{prefix}/kind"] = np.array(kind)
        for k, v in options.items():
            arrays[f"{prefix}/opt/{k}"] = np.asarray(v)
        for i, p in enumerate(params0):
            arrays[f"{prefix}/param{i}/initial"] = p
        for step, step_grads in enumerate(grads):
            for i, (p, g) in enumerate(zip(params, step_grads)):
                p.grad = torch.tensor(g)
                arrays[f"{prefix}/param{i}/grad{step}"] = g
            opt.step()
            for i, p in enumerate(params):
                arrays[f"{prefix}/param{i}/after{step}"] = p.detach().numpy().copy()

    # Two groups with their own learning rates, decayed by StepLR(step_size=2, gamma=0.5).
    params0 = [rng.standard_normal(s) for s in PARAM_SHAPES]
    params = [torch.tensor(p, requires_grad=True) for p in params0]
    opt = torch.optim.Adam([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]]}], lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for i, p in enumerate(params0):
        arrays[f"groups_steplr/param{i}/initial"] = p
    for step in range(STEPS):
        for i, p in enumerate(params):
            g = rng.standard_normal(p.shape)
            p.grad = torch.tensor(g)
            arrays[f"groups_steplr/param{i}/grad{step}"] = g
        opt.step()
        sched.step()
        arrays[f"groups_steplr/lr{step}"] = np.array(sched.get_last_lr())
        for i, p in enumerate(params):
            arrays[f"groups_steplr/param{i}/after{step}"] = p.detach().numpy().copy()

    arrays["torch_version"] = np.array(torch.__version__)
    path = os.path.join(HERE, "nn_reference.npz")
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes) with torch {torch.__version__}")


if __name__ == "__main__":
    main()
