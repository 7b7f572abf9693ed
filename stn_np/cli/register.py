"""``stn-np register FIXED MOVING --out DIR``: align MOVING to FIXED and write what came out.

Options beyond the family and the schedule: ``--loss mse|ncc|mi`` (mi: Mattes mutual
information, for images of different modalities), ``--init auto|identity|FILE.npy`` (the
global start, none, or starting parameters), ``--no-mask`` (the zero-padded objective) and
``--spatial-dims 3`` (volumes).

Inputs. PNG/JPEG (any format matplotlib's ``imread`` reads) or ``.npy`` (read with
``allow_pickle=False``). Image files are registered on their luminance (RGB ->
0.299 R + 0.587 G + 0.114 B, alpha dropped, 8-bit values scaled to [0, 1]), so a colour
image can be registered to a grayscale one; the warped output keeps the moving image's
colour channels, warped with the fitted grid. ``.npy`` arrays (2-D, or (C, H, W) with
matching C) are registered as they are.

Outputs in DIR (created if missing; every file written atomically):
``warped.npy`` (the warped moving image, float64), ``warped.png``, ``params.json`` (the
transform, its parameters, and the OpenCV pixel matrix for ``affine``), ``flow.npy`` (dense
only: the displacement field, too large for JSON), ``registration.png`` (checkerboards and
overlays before and after) and ``loss.png`` (the loss curve; not written when no step ran).

Volumes (``--spatial-dims 3``). FIXED and MOVING are ``.npy`` arrays, (D, H, W) or
(C, D, H, W) with matching C; ``affine`` (theta 3 x 4) and ``dense`` (a voxel flow) are the
families with a volumetric form. Outputs: ``warped.npy`` (the warped volume), ``params.json``
(with the 3 x 4 voxel matrix for ``affine``), ``flow.npy`` (dense, (D, H, W, 3)),
``registration.png`` (three orthogonal planes of fixed, moving and warped, and the absolute
differences before and after) and ``loss.png``; no ``warped.png``, as a volume is no picture.
"""

from __future__ import annotations

import io
import os

import numpy as np

from ..io import (
    check_input_size,
    check_path,
    dumps_json,
    figure_bytes,
    load_npy,
    lock_directory,
    remove_temporaries,
    save_files,
)
from ..plotting.registration import loss_curve_figure, orthogonal_slices_figure, registration_figure
from ..registration import TRANSFORMS, jacobian_determinant, register
from ..registration.losses import LOSSES
from ..registration.pyramid import resample
from ..sampling.coords import SPATIAL_DIMS
from ..validation import check_choice, fail
from . import UsageError

__all__ = ["add_parser", "run", "read_image"]

_LUMA = np.array([0.299, 0.587, 0.114])


def add_parser(subparsers):
    p = subparsers.add_parser(
        "register", help="align a moving image to a fixed one (affine, attention, projective, tps, dense)",
        description="Register MOVING onto FIXED by gradient descent through the sampler, coarse to fine; writes "
                    "warped.png, warped.npy, params.json, registration.png and loss.png to --out.")
    p.add_argument("fixed", metavar="FIXED", help="the reference image: PNG/JPEG or .npy")
    p.add_argument("moving", metavar="MOVING", help="the image to align: PNG/JPEG or .npy")
    p.add_argument("--out", metavar="DIR", required=True, help="output folder (created if missing)")
    p.add_argument("--transform", default="affine", help=f"{' | '.join(TRANSFORMS)} (default: affine)")
    p.add_argument("--loss", default="mse", help=f"{' | '.join(LOSSES)} (default: mse)")
    p.add_argument("--levels", type=int, default=3, help="pyramid levels (default: 3)")
    p.add_argument("--steps", metavar="N[,N...]",
                   help="maximum Adam steps: one number for every level, or one per level, coarsest first "
                        "(default: per transform)")
    p.add_argument("--lr", type=float, help="Adam step at the coarsest level (default: per transform)")
    p.add_argument("--smoothness", type=float, help="dense only: weight of the diffusion penalty (default: 0.2)")
    p.add_argument("--init", default="auto", metavar="auto|identity|FILE.npy",
                   help="where the descent starts: auto (a global search over rotation, scale and translation; the "
                        "default), identity, or a .npy file holding starting parameters (the params layout of "
                        "params.json; for affine the normalised theta (2, 3))")
    p.add_argument("--no-mask", dest="masked", action="store_false",
                   help="count every fixed pixel, reading zeros outside the moving image (the biased objective); "
                        "default: only the overlap counts")
    p.add_argument("--spatial-dims", dest="spatial_dims", type=int, default=2, metavar="2|3",
                   help="2 (default): images; 3: volumes, .npy arrays (D, H, W) or (C, D, H, W), with transform "
                        "affine or dense; the figure shows three orthogonal planes")
    p.set_defaults(run=run)


#: How each PIL mode becomes grey values (and colour channels): integers are scaled by their
#: type's largest value, so every integer image lies in [0, 1] (negative values of the signed
#: 32-bit mode "I" below 0); floats ("F") are taken as they are.
_INTEGER_SCALE = {"1": 1.0, "L": 255.0, "LA": 255.0, "La": 255.0, "P": 255.0, "PA": 255.0, "RGB": 255.0,
                  "RGBA": 255.0, "RGBX": 255.0, "RGBa": 255.0, "CMYK": 255.0, "YCbCr": 255.0, "I;16": 65535.0,
                  "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 2.0**31 - 1, "F": 1.0}
#: Modes whose channels are not a colour that has a luminance: refused rather than guessed.
_REFUSED = {"HSV": "hue, saturation, value", "LAB": "CIE L*a*b*"}


def read_image(path, label, spatial_dims=2):
    """Read ``path`` (an image file or .npy) as float64; returns (image for registration, image to warp).

    Image files give their luminance (2-D) to register and their colour channels (C, H, W), or
    the 2-D image itself, to warp; ``.npy`` arrays are returned as they are, twice. With
    ``spatial_dims=3`` only ``.npy`` volumes, (D, H, W) or (C, D, H, W), are read.

    Every PIL mode is read with its own scale (see ``_INTEGER_SCALE``): 8-bit modes / 255,
    16-bit / 65535, PIL's signed 32-bit "I" / (2**31 - 1), 32-bit float "F" as it is, bilevel
    "1" as 0 and 1; palettes are expanded, premultiplied alpha ("La", "RGBa") undone, alpha
    dropped, CMYK and YCbCr converted to RGB. HSV and LAB images, multi-frame files and images
    larger than :data:`stn_np.io.MAX_INPUT_BYTES` are refused with a ``ValueError``. ``label``
    ("FIXED" or "MOVING") names the argument in messages.
    """
    argument = label.lower()
    path = check_path(path, "register", argument)
    if not os.path.exists(path):
        raise FileNotFoundError(f"register: {argument}: expected an existing file, got {path!r}, which does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"register: {argument}: expected an image file, got the folder {path!r}")
    layout = "2-D or (C, H, W)" if spatial_dims == 2 else "(D, H, W) or (C, D, H, W)"
    if path.lower().endswith(".npy"):
        array = load_npy(path, function="register", argument=argument)
        if array.dtype.kind not in "fiu" or array.ndim not in (spatial_dims, spatial_dims + 1):
            fail("register", argument, f"a .npy file holding a real {layout} array",
                 f"{array.dtype} of shape {array.shape}")
        array = array.astype(np.float64)
        return array, array
    if spatial_dims == 3:
        fail("register", argument, f"a .npy file holding a {layout} volume for spatial_dims=3",
             f"{os.path.basename(path)!r}, which is not .npy")
    return _read_picture(path, argument)


def _read_picture(path, argument):
    from PIL import Image, UnidentifiedImageError

    bad = lambda why: fail("register", argument, "an image file (PNG, JPEG, TIFF, ...) or .npy", why)  # noqa: E731
    try:
        image = Image.open(path)  # reads the header only
    except (UnidentifiedImageError, OSError, ValueError) as error:
        bad(f"a file PIL cannot read as an image ({type(error).__name__})")
    with image:
        width, height = image.size
        bands = len(image.getbands())
        bits = {"1": 1, "I": 32, "F": 32}.get(image.mode, 16 if image.mode.startswith("I;16") else 8)
        check_input_size(width * height * bands * max(bits, 8) // 8, "register", path,
                         what=f"{width} x {height} {image.mode} pixels", argument=argument)
        if getattr(image, "n_frames", 1) > 1:
            bad(f"an image of {image.n_frames} frames (only single images are registered)")
        if image.mode in _REFUSED:
            bad(f"a {image.mode} ({_REFUSED[image.mode]}) image, which has no luminance to register on; convert it "
                "to RGB or grayscale first")
        if image.mode not in _INTEGER_SCALE:
            bad(f"an image in PIL mode {image.mode!r}, which stn_np does not read")
        try:
            image.load()
            if image.mode in ("P", "PA", "RGBa", "CMYK", "YCbCr"):
                image = image.convert("RGBA" if image.mode in ("P", "PA", "RGBa") else "RGB")
            array = np.asarray(image)
        except (OSError, ValueError, SyntaxError) as error:  # a truncated or corrupt file
            bad(f"a damaged image whose pixels cannot be read ({type(error).__name__})")
    scale = _INTEGER_SCALE[image.mode]
    array = array.astype(np.float64)
    if image.mode == "La":  # premultiplied: grey = stored grey / alpha (0 where fully transparent)
        alpha = array[..., 1]
        array = np.divide(array[..., 0], alpha, out=np.zeros_like(alpha), where=alpha > 0) * 255.0
    array = array / scale
    if not np.all(np.isfinite(array)):
        bad("an image with NaN or infinite pixel values")
    if array.ndim == 2:
        return array, array
    if array.shape[2] <= 2:  # gray + alpha
        gray = array[..., 0]
        return gray, gray
    colour = array[..., :3]
    return colour @ _LUMA, np.ascontiguousarray(colour.transpose(2, 0, 1))


def _parse_steps(text, levels):
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--steps: expected N or N,N,... (ints), got {text!r}") from None
    return values[0] if len(values) == 1 else values


def _check_writable(folder):
    """Refuse an --out folder this process cannot create or write into (without creating it)."""
    existing = folder
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(os.path.abspath(existing)) if existing != os.path.dirname(existing) else ""
    if existing and not os.access(existing, os.W_OK | os.X_OK):
        fail("register", "out", "a folder this process can write", f"{folder} ({existing} is not writable)")


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _read_init(text):
    """``auto``/``identity`` as they are; anything else is a .npy file of starting parameters."""
    if text in ("auto", "identity"):
        return text
    if not text.lower().endswith(".npy") or not os.path.isfile(text):
        raise UsageError(f"--init: expected auto, identity or an existing .npy file, got {text!r}")
    try:
        return np.load(text, allow_pickle=False)
    except Exception as error:  # noqa: BLE001 - any failure means "not a readable .npy"
        raise UsageError(f"--init: cannot read {text} as .npy ({type(error).__name__})") from None


def _png_bytes(image, reference):
    """``image`` (2-D or (C, H, W)) as PNG bytes, scaled to [0, 1] like ``reference``."""
    from matplotlib import image as mpimg

    low, high = float(reference.min()), float(reference.max())
    if low < 0 or high > 1:  # not already an image in [0, 1]: stretch the reference's range
        image = (image - low) / (high - low if high > low else 1.0)
    image = np.clip(image, 0, 1)
    if image.ndim == 3:
        image = image.transpose(1, 2, 0) if image.shape[0] == 3 else image.mean(axis=0)
    buffer = io.BytesIO()
    mpimg.imsave(buffer, image, cmap="gray", vmin=0, vmax=1, format="png")
    return buffer.getvalue()


def run(args):
    spatial_dims = check_choice(args.spatial_dims, SPATIAL_DIMS, "register", "spatial_dims")
    fixed, _ = read_image(args.fixed, "FIXED", spatial_dims)
    moving, moving_colour = read_image(args.moving, "MOVING", spatial_dims)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out: {args.out} exists and is not a directory")
    _check_writable(args.out)  # before the work, not after it
    result = register(fixed, moving, transform=args.transform, loss=args.loss, levels=args.levels,
                      steps=_parse_steps(args.steps, args.levels), lr=args.lr, smoothness=args.smoothness,
                      init=_read_init(args.init), masked=args.masked, spatial_dims=spatial_dims)
    out = lambda name: os.path.join(args.out, name)  # noqa: E731
    files = {}  # every output is made in memory first, then written as one set (all or nothing)

    warped = result.apply(moving_colour) if moving_colour is not moving else result.warped
    files[out("warped.npy")] = _npy_bytes(warped)
    written = ["warped.npy", "params.json"]
    if spatial_dims == 2:
        files[out("warped.png")] = _png_bytes(warped, moving_colour)
        written.insert(0, "warped.png")

    summary = {
        "fixed": args.fixed, "moving": args.moving, "transform": result.transform, "loss": result.loss,
        "levels": len(result.level_sizes), "steps_run": result.steps_run,
        "level_sizes": [{"fixed": list(f), "moving": list(m)} for f, m in result.level_sizes],
        "loss_before": result.loss_before, "loss_after": result.loss_after, "seconds": result.seconds,
        "init": result.init, "masked": result.masked, "overlap": result.overlap,
        "refinement_steps": len(result.refinement_history),
        "convention": "grid_sample(moving, grid(params)) ~ fixed; normalised coordinates, align_corners=False",
        "spatial_dims": spatial_dims,
    }
    if result.transform == "dense":
        files[out("flow.npy")] = _npy_bytes(result.params)
        _, folded = jacobian_determinant(result.params, kind="flow", input_size=result.moving_size)
        layout = ("flow.npy (H, W, 2): per fixed pixel, (dx, dy) in moving-image pixels" if spatial_dims == 2 else
                  "flow.npy (D, H, W, 3): per fixed voxel, (dx, dy, dz) in moving-volume voxels")
        summary.update(params=layout, folded_fraction=folded)
        written.append("flow.npy")
    else:
        summary["params"] = result.params.tolist()
    if result.transform == "affine":
        summary["pixel_matrix"] = result.pixel_matrix().tolist()
        summary["pixel_matrix_convention"] = (
            "OpenCV WARP_INVERSE_MAP: fixed pixel (x, y) reads moving pixel M @ (x, y, 1); integer pixel centres"
            if spatial_dims == 2 else
            "fixed voxel (x, y, z) reads moving voxel M @ (x, y, z, 1); integer voxel centres, z along the depth")
    files[out("params.json")] = dumps_json(summary, "register").encode()

    spatial = moving.shape[-spatial_dims:]
    before = resample(np.asarray(moving, dtype=np.float64).reshape(-1, *spatial)[None], fixed.shape[-spatial_dims:])[0]
    before = before[0] if moving.ndim == spatial_dims else before
    name = f"{result.transform}, {result.loss}"
    figure = registration_figure if spatial_dims == 2 else orthogonal_slices_figure
    files[out("registration.png")] = figure_bytes(figure(fixed, before, result.warped, title=name))
    written.append("registration.png")
    if any(len(h) for h in result.loss_history) or len(result.refinement_history):
        files[out("loss.png")] = figure_bytes(loss_curve_figure(
            result.loss_history, result.level_sizes, title=f"registration loss ({name})",
            refinement=result.refinement_history, refinement_mode="bicubic" if spatial_dims == 2 else "trilinear"))
        written.append("loss.png")
    with lock_directory(args.out, "register", "out"):
        remove_temporaries(args.out)
        save_files(files, "register")

    mode = "bicubic" if spatial_dims == 2 else "trilinear"
    refined = f" + {len(result.refinement_history)} {mode} refinement steps" if len(result.refinement_history) else ""
    print(f"registered {args.moving} onto {args.fixed}: {result.transform}, {result.loss} loss, start {result.init}, "
          f"{len(result.level_sizes)} levels, {'+'.join(map(str, result.steps_run))} steps{refined} in "
          f"{result.seconds:.2f} s")
    print(f"overlap at the end: {100 * result.overlap:.1f}% of the fixed {'image' if spatial_dims == 2 else 'volume'}")
    print(f"loss at full resolution: {result.loss_before:.4g} -> {result.loss_after:.4g}")
    if result.transform == "affine":
        print("theta: " + np.array2string(result.params, precision=4, separator=", ").replace("\n", ""))
    elif result.transform == "dense":
        print(f"folded {'pixels' if spatial_dims == 2 else 'voxels'}: {100 * summary['folded_fraction']:.3f}%")
    else:
        print("params: " + np.array2string(result.params.ravel(), precision=4, separator=", ", threshold=12).replace("\n", ""))
    print(f"wrote {', '.join(written)} to {args.out}")
    return 0
