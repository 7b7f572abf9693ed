"""The displacement (dense flow) grid generator, for dense registration.

A flow gives, per output pixel, a displacement (dx, dy) in PIXELS OF THE INPUT IMAGE (the
image the sampler will read, of size H_in x W_in; a volumetric flow (N, D, H, W, 3) gives
(dx, dy, dz) in voxels of a D_in x H_in x W_in volume, z along the depth, and everything below
holds axis by axis). A pixel step is a fixed step in normalised coordinates, the slope of
:func:`~stn_np.sampling.coords.pixel_to_normalized` (:func:`~stn_np.sampling.coords.pixel_size`):

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
from ..validation import check_bool, check_size, fail, shape_of
from .coords import axis_sizes, pixel_size
from .grid_common import as_parameter, base_points

__all__ = ["DisplacementGridFunction", "displacement_grid"]


class DisplacementGridFunction(Function):
    """grid = p + flow * (s_x, s_y), p the identity grid of the flow's H x W.

        forward:   grid[n, i, j] = p[i, j] + (s_x dx[n, i, j], s_y dy[n, i, j])
        backward:  dL/dflow = g * (s_x, s_y)

    A volume alike, with (s_x, s_y, s_z) and p the identity grid of the flow's D x H x W.
    """

    @staticmethod
    def forward(ctx, flow, scale, align_corners):
        spatial = flow.shape[1:-1]
        scale = np.asarray(scale, dtype=flow.dtype)
        ctx.save_for_backward(scale)
        return base_points(spatial, align_corners, flow.dtype).reshape(spatial + (len(spatial),)) + flow * scale

    @staticmethod
    def backward(ctx, g):
        (scale,) = ctx.saved_arrays
        return g * scale


def displacement_grid(flow, input_size=None, align_corners=False):
    """Sampling grid from a dense displacement field given in input-image pixels (or volume voxels).

    Parameters
    ----------
    flow : Tensor or ndarray, shape (N, H, W, 2) or (N, D, H, W, 3)
        Per output pixel, the displacement (dx, dy) in pixels of the INPUT image (a volume:
        (dx, dy, dz) in voxels, z along the depth); zeros give the identity grid. float32 or
        float64.
    input_size : tuple of 4 (5) ints, optional
        (N, C, H_in, W_in) (a volume: (N, C, D_in, H_in, W_in)): the size of the input that
        will be sampled, which sets the pixel -> normalised scale 2 / W_in, 2 / H_in
        (align_corners=False) or 2 / (W_in - 1), 2 / (H_in - 1) (True; 0 for a one-pixel axis,
        where no displacement is expressible), and alike 2 / D_in. Default: the flow's own
        (N, -, H, W). C is not used.
    align_corners : bool
        Whether -1 and +1 are the corner pixel centres (True) or the image edges (False).

    Returns
    -------
    Tensor, shape (N, H, W, 2) or (N, D, H, W, 3)
        ``identity_grid(H, W) + flow * (s_x, s_y)`` (a volume: ``identity_grid(H, W,
        depth=D) + flow * (s_x, s_y, s_z)``), flow's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> flow = np.zeros((1, 1, 2, 2)); flow[..., 0] = 1.0  # read one pixel to the right
    >>> displacement_grid(flow).data[0, 0, :, 0]
    array([0.5, 1.5])
    >>> flow = np.zeros((1, 2, 1, 1, 3)); flow[..., 2] = 1.0  # one voxel deeper
    >>> displacement_grid(flow).data[0, :, 0, 0, 2]
    array([0.5, 1.5])
    """
    align_corners = check_bool(align_corners, "displacement_grid", "align_corners")
    d = _flow_dims(flow)  # the flow decides: (N, H, W, 2) or (N, D, H, W, 3)
    layout, layout_in, sides = {2: ("(N, H, W, 2)", "(N, C, H_in, W_in)", "H_in, W_in"),
                                3: ("(N, D, H, W, 3)", "(N, C, D_in, H_in, W_in)", "D_in, H_in, W_in")}[d]
    if input_size is None:
        flow = as_parameter(flow, "displacement_grid", "flow", (None,) * (d + 1) + (d,), layout)
        n, spatial_in = flow.shape[0], tuple(max(s, 1) for s in flow.shape[1:-1])  # an empty flow scales nothing
    else:
        n, _, *spatial_in = check_size(input_size, "displacement_grid", "input_size", length=d + 2, layout=layout_in,
                                       minimum=0)
        if min(spatial_in) < 1:
            fail("displacement_grid", "input_size", f"{layout_in} with {sides} >= 1 (the image to sample)", input_size)
        flow = as_parameter(flow, "displacement_grid", "flow", (n,) + (None,) * d + (d,),
                            f"{layout} with N = input_size[0] = {n}")
    scale = tuple(pixel_size(s, align_corners) for s in axis_sizes(spatial_in))
    return DisplacementGridFunction.apply(flow, scale=scale, align_corners=align_corners)


def _flow_dims(flow):
    """3 for a volumetric flow (N, D, H, W, 3), else 2 (``as_parameter`` then says what is wrong)."""
    try:
        return 3 if len(shape_of(flow)) == 5 else 2
    except (TypeError, ValueError):
        return 2
