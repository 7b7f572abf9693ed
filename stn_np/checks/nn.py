"""Gradient checks of the layer and loss ops: convolution, pooling, linear, log-softmax,
dropout and the losses. Pooling inputs are drawn without ties (a window's maximum is a kink)."""

import numpy as np

from .. import functional as F
from . import normal_inputs, off_kink, register


def _distinct(shape):
    """Values whose pairwise gaps are at least 0.05, so no window has a tie within eps."""
    return lambda rng: (rng.permutation(np.prod(shape)).reshape(shape) * 0.05 + rng.uniform(0, 0.01),)


_TARGET = np.array([2, 0, 3, 3, 1])

register("conv2d", normal_inputs((2, 2, 5, 6), (3, 2, 3, 2), (3,)))(lambda x, w, b: F.conv2d(x, w, b))
register("conv2d_stride_padding", normal_inputs((1, 2, 6, 5), (2, 2, 3, 3), (2,)))(
    lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2))
)
register("conv2d_no_bias_stride3", normal_inputs((2, 1, 7, 7), (2, 1, 2, 2)))(lambda x, w: F.conv2d(x, w, stride=3, padding=1))
register("conv2d_directional", normal_inputs((4, 3, 12, 12), (5, 3, 5, 5), (5,)), mode="directional", atol=1e-6, rtol=1e-6)(
    lambda x, w, b: F.conv2d(x, w, b, padding=2)
)
register("max_pool2d", _distinct((2, 2, 4, 6)))(lambda x: F.max_pool2d(x, 2))
register("max_pool2d_overlap_padding", _distinct((1, 2, 5, 6)))(lambda x: F.max_pool2d(x, 3, stride=(1, 2), padding=1))
register("avg_pool2d", normal_inputs((2, 2, 4, 5)))(lambda x: F.avg_pool2d(x, 2))
register("avg_pool2d_overlap_padding", normal_inputs((1, 2, 5, 6)))(lambda x: F.avg_pool2d(x, (3, 2), stride=1, padding=1))
register("linear", normal_inputs((4, 3), (5, 3), (5,)))(lambda x, w, b: F.linear(x, w, b))
register("linear_batched_no_bias", normal_inputs((2, 3, 4), (2, 4)))(lambda x, w: F.linear(x, w))
register("relu_functional", lambda rng: (off_kink(rng, (3, 4)),))(lambda x: F.relu(x))
register("log_softmax", normal_inputs((3, 5)))(lambda x: F.log_softmax(x))
register("log_softmax_axis0", lambda rng: (rng.standard_normal((4, 3)) * 10,))(lambda x: F.log_softmax(x, axis=0))
register("dropout", normal_inputs((4, 5)))(lambda x: F.dropout(x, 0.4, rng=np.random.default_rng(7)))
register("dropout2d", normal_inputs((3, 4, 2, 2)))(lambda x: F.dropout2d(x, 0.5, rng=np.random.default_rng(7)))
for _reduction in ("mean", "sum", "none"):
    register(f"cross_entropy_{_reduction}", normal_inputs((5, 4)))(
        lambda x, r=_reduction: F.cross_entropy(x, _TARGET, reduction=r)
    )
    register(f"nll_loss_{_reduction}", normal_inputs((5, 4)))(lambda x, r=_reduction: F.nll_loss(x, _TARGET, reduction=r))
    register(f"mse_loss_{_reduction}", normal_inputs((3, 4), (3, 4)))(lambda x, y, r=_reduction: F.mse_loss(x, y, reduction=r))
