"""Grid generators: the target-to-source maps T_theta of the paper, one differentiable op each.

A grid generator turns parameters into a sampling grid (N, H, W, 2): for every pixel centre
(x_t, y_t) of the OUTPUT image, in normalised coordinates, the source point (x_s, y_s) that
the sampler reads, last axis (x, y). The grid's H, W come from ``size`` = (N, C, H, W) of the
output and never from the input image, and its dtype is the parameters' (float32 stays
float32). Each op lives in its own small module, formula, forward and backward side by side:

=====================  ===============  =======================================================
generator              parameters       source point (x_s, y_s)
=====================  ===============  =======================================================
``affine_grid``        theta (N, 2, 3)  theta @ (x_t, y_t, 1)                 (grid_affine)
``attention_grid``     (N, 3)           (s x_t + tx, s y_t + ty)              (grid_affine)
``projective_grid``    (N, 8)           ((h0 x + h1 y + h2) / w, (h3 x + h4 y + h5) / w),
                                        w = h6 x + h7 y + 1                   (grid_projective)
``tps_grid``           (N, K, 2)        p + M @ offsets, thin plate spline    (grid_tps)
``displacement_grid``  (N, H, W, 2)     p + flow * pixel size (input pixels)  (grid_displacement)
=====================  ===============  =======================================================

Every generator gives :func:`~stn_np.sampling.coords.identity_grid` exactly for its identity
parameters (identity theta, (1, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0), zero offsets, zero flow).

``affine_grid`` and ``displacement_grid`` make volumetric grids too, (N, D, H, W, 3) with the
last axis (x, y, z): from theta (N, 3, 4) and a size (N, C, D, H, W), and from a flow
(N, D, H, W, 3) in voxels of the input volume.
"""

from .grid_affine import AffineGridFunction, AttentionGridFunction, affine_grid, attention_grid
from .grid_displacement import DisplacementGridFunction, displacement_grid
from .grid_projective import MIN_DENOMINATOR, ProjectiveGridFunction, projective_grid
from .grid_tps import TPSGridFunction, tps_control_points, tps_grid, tps_matrix, tps_transform_points

__all__ = [
    "AffineGridFunction",
    "AttentionGridFunction",
    "DisplacementGridFunction",
    "MIN_DENOMINATOR",
    "ProjectiveGridFunction",
    "TPSGridFunction",
    "affine_grid",
    "attention_grid",
    "displacement_grid",
    "projective_grid",
    "tps_control_points",
    "tps_grid",
    "tps_matrix",
    "tps_transform_points",
]
