"""The displacement (dense flow) grid generator, for dense registration.

A flow gives, per output pixel, a displacement (dx, dy) in PIXELS OF THE INPUT IMAGE (the
image the sampler will read, of size H_in x W_in). A pixel step is a fixed step in
normalised coordinates, the slope of :func:`~stn_np.sampling.coords.pixel_to_normalized` (:func:`~stn_np.sampling.coords.pixel_size`):

    s_x = 2 / W_in   (align_corners=False)        s_x = 2 / (W_in - 1)   (align_corners=True)

and likewise s_y with H_in. The grid is the identity grid of the flow's own H x W plus the
scaled flow, so when H x W = H_in x W_in, output pixel (i, j) reads input pixel
(j + dx, i + dy) exactly.

One-pixel axis with align_corners=True: every normalised coordinate then maps to the single
pixel 0 (-1 and +1 are both its centre), so no displacement along that axis can be
expressed; the rule is s = 0 there, consistent with ``pixel_to_normalized``: the flow's
component along that axis is ignored and receives zero gradient. (With align_corners=False a
one-pixel axis is ordinary: s = 2.)
"""

import numpy as np

from ..autograd.function import Function
from .coords import pixel_size
from ..validation import check_bool, check_size, fail
from .grid_common import as_parameter, base_points

__all__ = ["DisplacementGridFunction", "displacement_grid"]


class DisplacementGridFunction(Function):
    """grid = p + flow * (s_x, s_y), p the identity grid of the flow's H x W.

        forward:   grid[n, i, j] = p[i, j] + (s_x dx[n, i, j], s_y dy[n, i, j])
        backward:  dL/dflow = g * (s_x, s_y)
    """

    @staticmethod
    def forward(ctx, flow, scale, align_corners):
        n, h, w, _ = flow.shape
        scale = np.asarray(scale, dtype=flow.dtype)
        ctx.save_for_backward(scale)
        return base_points(h, w, align_corners, flow.dtype).reshape(h, w, 2) + flow * scale

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_arrays
        return g * scale


def displacement_grid(flow, input_size=None, align_corners=False):
    """Sampling grid from a dense displacement field given in input-image pixels.

    Parameters
    ----------
    flow : Tensor or ndarray, shape (N, H, W, 2)
        Per output pixel, the displacement (dx, dy) in pixels of the INPUT image; zeros give
        the identity grid. float32 or float64.
    input_size : tuple of 4 ints, optional
        (N, C, H_in, W_in): the size of the input image that will be sampled, which sets the
        pixel -> normalised scale 2 / W_in, 2 / H_in (align_corners=False) or 2 / (W_in - 1),
        2 / (H_in - 1) (True; 0 for a one-pixel axis, where no displacement is expressible).
        Default: the flow's own (N, -, H, W). C is not used.
    align_corners : bool
        Whether -1 and +1 are the corner pixel centres (True) or the image edges (False).

    Returns
    -------
    Tensor, shape (N, H, W, 2)
        ``identity_grid(H, W) + flow * (s_x, s_y)``, flow's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> flow = np.zeros((1, 1, 2, 2)); flow[..., 0] = 1.0  # read one pixel to the right
    >>> displacement_grid(flow).data[0, 0, :, 0]
    array([0.5, 1.5])
    """
    align_corners = check_bool(align_corners, "displacement_grid", "align_corners")
    if input_size is None:
        flow = as_parameter(flow, "displacement_grid", "flow", (None, None, None, 2), "(N, H, W, 2)")
        n, h_in, w_in = flow.shape[0], max(flow.shape[1], 1), max(flow.shape[2], 1)  # an empty flow scales nothing
    else:
        n, _, h_in, w_in = check_size(input_size, "displacement_grid", "input_size", minimum=0)
        if min(h_in, w_in) < 1:
            fail("displacement_grid", "input_size", "(N, C, H_in, W_in) with H_in, W_in >= 1 (the image to sample)",
                 input_size)
        flow = as_parameter(flow, "displacement_grid", "flow", (n, None, None, 2), f"(N, H, W, 2) with N = input_size[0] = {n}")
    scale = (pixel_size(w_in, align_corners), pixel_size(h_in, align_corners))
    return DisplacementGridFunction.apply(flow, scale=scale, align_corners=align_corners)
