"""Gradient checks of the autodiff core's ops (elementwise, reductions, shapes, matmul)."""

import numpy as np

from ..ops.shape import concatenate, stack
from . import normal_inputs, off_kink, register


def _positive(*shapes):
    return lambda rng: tuple(rng.uniform(0.5, 2.0, s) for s in shapes)


register("add", normal_inputs((3, 4), (4,)))(lambda x, y: x + y)
register("add_bias_nchw", normal_inputs((2, 3, 2, 2), (3, 1, 1)))(lambda x, b: x + b)
register("sub", normal_inputs((3, 1), (1, 4)))(lambda x, y: x - y)
register("mul", normal_inputs((2, 3), ()))(lambda x, y: x * y)
register("mul_reuse", normal_inputs((3, 4)))(lambda x: x * x * 0.5)
register("div", lambda rng: (rng.standard_normal((3, 4)), off_kink(rng, (3, 1), margin=0.5)))(lambda x, y: x / y)
register("pow", _positive((3, 4), (4,)))(lambda x, y: x**y)
register("pow_scalar", normal_inputs((3, 4)))(lambda x: x**3)
register("rpow", normal_inputs((5,)))(lambda x: 2.0**x)
register("neg", normal_inputs((3, 4)))(lambda x: -x)
register("exp", normal_inputs((3, 4)))(lambda x: x.exp())
register("log", _positive((3, 4)))(lambda x: x.log())
register("relu", lambda rng: (off_kink(rng, (3, 4)),))(lambda x: x.relu())
register("tanh", normal_inputs((3, 4)))(lambda x: x.tanh())
register("sigmoid", lambda rng: (rng.standard_normal((3, 4)) * 3,))(lambda x: x.sigmoid())
register("clip", lambda rng: (rng.choice([-1.0, 1.0], (4, 5)) * rng.uniform(0.1, 0.4, (4, 5)) + rng.choice([-1.0, 0.0, 1.0], (4, 5)),))(
    lambda x: x.clip(-0.5, 0.5)
)
register("cast", normal_inputs((3, 4)), eps=1e-3, atol=1e-4, rtol=1e-3)(
    lambda x: (x.astype(np.float32) * 3.0).astype(np.float64)
)
register("sum", normal_inputs((3, 4, 2)))(lambda x: x.sum(axis=(0, 2)))
register("sum_all", normal_inputs((3, 4)))(lambda x: x.sum())
register("mean_keepdims", normal_inputs((3, 4, 2)))(lambda x: x.mean(axis=1, keepdims=True))
register("max", normal_inputs((3, 5)))(lambda x: x.max(axis=1))
register("max_all", normal_inputs((4, 5)))(lambda x: x.max())
register("reshape", normal_inputs((3, 4)))(lambda x: x.reshape(2, 6) * np.arange(12.0).reshape(2, 6))
register("transpose", normal_inputs((2, 3, 4)))(lambda x: x.transpose(2, 0, 1) * np.arange(24.0).reshape(4, 2, 3))
register("getitem_basic", normal_inputs((4, 5)))(lambda x: x[1:3, ::2])
register("getitem_repeated", normal_inputs((4, 5)))(lambda x: x[np.array([0, 2, 0, 0]), np.array([1, 1, 1, 3])])
register("concatenate", normal_inputs((2, 3), (1, 3)))(lambda x, y: concatenate([x, y, x], axis=0))
register("stack", normal_inputs((2, 3), (2, 3)))(lambda x, y: stack([x, y], axis=1))
register("matmul", normal_inputs((3, 4), (4, 2)))(lambda x, y: x @ y)
register("matmul_batched", normal_inputs((2, 1, 3, 4), (5, 4, 2)))(lambda x, y: x @ y)
register("matmul_vector", normal_inputs((4,), (3, 4, 2)))(lambda x, y: x @ y)
