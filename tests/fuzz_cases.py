"""The table of bad inputs behind ``tests/test_fuzz_api.py`` and ``benchmarks/fuzz_api.py``.

Every public function of ``stn_np``, ``stn_np.functional``, ``stn_np.nn`` (layers, ``init``,
``models``), ``stn_np.optim``, ``stn_np.data``, ``stn_np.registration``, ``stn_np.io`` and the
training entry points is a :class:`Target`: a callable, a factory of *good* keyword arguments
(a call with them succeeds) and, per argument, a list of *bad* values. A case replaces one
good argument by one bad value; it is handled cleanly when the call raises ``ValueError`` or
``TypeError`` (``OSError`` for missing files) whose message follows the library's convention
``"function: argument: expected ..., got ..."`` and names the replaced argument, without a
warning, and without changing any array it was given.

The bad values come from a catalogue per kind of argument (:func:`integer`, :func:`number`,
:func:`choice`, :func:`array`, ...) plus hand-written cases (corrupt files, decompression
bombs, sizes beyond the memory budget, hyperparameters restored from a state dict). This file
is a helper, not a test module (pytest does not collect it); the benchmark script imports it
to print the figure.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import re
import tempfile
import types
import warnings
import zipfile
from dataclasses import dataclass, field

import numpy as np

import stn_np
import stn_np.functional as F
from stn_np import data as D
from stn_np import io as sio
from stn_np import nn, optim
from stn_np import registration as R
from stn_np import training as T
from stn_np.nn import init, models

__all__ = ["Target", "Case", "KNOWN", "targets", "cases", "run_case", "Outcome"]

HUGE = 10**6  # a side that makes any output far larger than the memory budget

#: (target, argument) -> the area whose code still lets these bad inputs through. Everything else
#: in the table is refused cleanly.
KNOWN = {}


# --------------------------------------------------------------------------- catalogues
def integer(minimum=1, huge=False, allow_none=False):
    """Bad values for an int argument that must be >= ``minimum``."""
    bad = [("below minimum", minimum - 1), ("float", minimum + 0.5), ("str", str(minimum)), ("bool", True),
           ("nan", float("nan")), ("list", [minimum])]
    if not allow_none:
        bad.append(("None", None))
    if huge:
        bad.append(("huge", 10**12))
    return bad


def number(minimum=None, maximum=None, strict=False, allow_none=False):
    """Bad values for a finite real argument within the bounds."""
    bad = [("nan", float("nan")), ("inf", float("inf")), ("str", "0.5"), ("list", [0.5]), ("complex", 1j)]
    if minimum is not None:
        bad.append(("below minimum", minimum - 1.0))
        if strict:
            bad.append(("at the strict minimum", float(minimum)))
    if maximum is not None:
        bad.append(("above maximum", maximum + 1.0))
    if not allow_none:
        bad.append(("None", None))
    return bad


def choice(valid):
    """Bad values for a string chosen from a list (``valid`` is one good value)."""
    return [("unknown", "no-such-" + valid), ("None", None), ("int", 3), ("list", [valid])]


BOOL = [("str", "yes"), ("None", None), ("int 2", 2), ("list", [True])]
RNG = [("int", 3), ("str", "rng"), ("legacy RandomState", lambda: np.random.RandomState(0))]
SIZE4 = [("3 ints", (1, 1, 4)), ("negative", (1, 1, -2, 4)),
         ("float", (1, 1, 4.5, 4)), ("str", "1144"), ("None", None),
         ("beyond the memory budget", (2, 1, HUGE, HUGE))]
PAIR = [("zero", 0), ("three ints", (1, 2, 3)), ("str", "2"), ("float", 2.5), ("pair with 0", (1, 0)), ("None", None)]
STRIDE = PAIR[:-1]  # None means "the kernel size" for pooling
FLOAT_DTYPE = [("int dtype", np.int32), ("unknown name", "no-such-dtype"), ("complex", np.complex128)]
PATH = [("None", None), ("int", 3), ("list", ["a"])]


def array(shape, dtype=np.float64, ndim_ok=None, extra=(), ints_ok=False):
    """Bad values for a float array argument whose good value has ``shape``.

    Wrong types (None, str, dict, object arrays), wrong dtypes (complex, bool, and int unless
    ``ints_ok``: functions documented to take any real values), a wrong number of axes, and
    ``extra`` hand-written ones.
    """
    shape = tuple(shape)
    bad = [
        ("None", None),
        ("str", "abc"),
        ("dict", {"a": 1}),
        ("object array", lambda: np.array([None] * int(np.prod(shape)), dtype=object).reshape(shape)),
        ("complex dtype", lambda: np.ones(shape, dtype=np.complex128)),
        ("bool dtype", lambda: np.ones(shape, dtype=bool)),
        ("strings", lambda: np.full(shape, "x")),
    ]
    if not ints_ok:
        bad.append(("int dtype", lambda: np.ones(shape, dtype=np.int64)))
    if ndim_ok is None or len(shape) - 1 not in ndim_ok:
        bad.append(("an axis fewer", lambda: np.ones(shape[1:], dtype=dtype)))
    if ndim_ok is None or len(shape) + 1 not in ndim_ok:
        bad.append(("an axis more", lambda: np.ones((1,) + shape, dtype=dtype)))
    return bad + list(extra)


# --------------------------------------------------------------------------- targets
@dataclass
class Target:
    """A public callable, good keyword arguments and bad values per argument.

    ``call(**kwargs)`` is the function under test (a lambda for methods and layers' forward);
    ``good()`` returns fresh good keyword arguments; ``bad`` maps an argument to its bad
    values, each ``(label, value)`` where ``value`` may be a zero-argument factory.
    ``argument`` gives the names a message may use for an argument when another is just as right
    (``{"x": ("x", "weight")}`` where a mismatch between the two may be blamed on either).
    """

    name: str
    call: object
    good: object
    bad: dict
    argument: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)  # argument -> accepted exception types, when not (ValueError, TypeError)


@dataclass
class Case:
    target: Target
    argument: str
    label: str
    value: object

    @property
    def id(self):
        return f"{self.target.name}[{self.argument}={self.label}]"


class _Files:
    """Files the path cases read, made once in a temporary folder."""

    @functools.cached_property
    def folder(self):
        return tempfile.mkdtemp(prefix="stn-np-fuzz-")

    def path(self, name, content):
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(content() if callable(content) else content)
        return path

    def npz(self, name, **arrays):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return self.path(name, buffer.getvalue())


FILES = _Files()


def _idx_header(code, dims):
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


def _gzip_bomb():
    # declares 100000 x 1000 x 1000 bytes (~93 GiB): the header alone must be enough to refuse it
    body = gzip.compress(_idx_header(0x08, (100000, 1000, 1000)) + bytes(1 << 20))
    return body


def _npz_bomb():
    # a member whose .npy header declares (100000, 100000) float64 (~75 GiB) in a small file
    header = {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    data = buffer.getvalue() + bytes(1 << 16)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", data)
    return out.getvalue()


def _zip_with(name, data, method=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        archive.writestr(name, data)
    raw = bytearray(out.getvalue())
    return bytes(raw)


def _unsupported_compression():
    # a valid zip whose member claims compression method 99 (AES): zipfile raises NotImplementedError
    raw = bytearray(_zip_with("meta.npy", b"\x93NUMPY" + bytes(50)))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = raw.find(signature)
        raw[start + offset:start + offset + 2] = (99).to_bytes(2, "little")
    return bytes(raw)


def _corrupt_npy_header():
    # the header dict does not tokenize (an unterminated string): ast/tokenize errors
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, \x27"
    header += b" " * (118 - len(header)) + b"\n"
    return _zip_with("meta.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(16))


def _checkpoint_with(meta_change):
    """A real checkpoint's arrays with its meta record edited by ``meta_change(dict)``."""
    model = models.build_model("cnn", 28)
    optimizer = optim.Adam(model.param_groups(1e-3))
    path = os.path.join(FILES.folder, "good-checkpoint.npz")
    if not os.path.exists(path):
        meta = {"status": "running", "position": {"epoch": 0, "batch": 0, "step": 0},
                "rng_state": np.random.default_rng(0).bit_generator.state,
                "sums": {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}, "history": [], "input_size": 28}
        T.save_checkpoint(path, model, optimizer, T.TrainConfig(distortion="none", model="cnn"), meta)
    arrays = sio.load_npz(path)
    meta = json.loads(str(arrays["meta"]))
    changed = meta_change(meta)
    meta = meta if changed is None else changed
    arrays["meta"] = np.array(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _drop(key):
    def change(meta):
        del meta[key]
    return change


def _set(key, value):
    def change(meta):
        meta[key] = value
    return change


_DEFAULT = object()  # "no path given": the writer targets write into FILES.folder


def _out(path, name):
    return os.path.join(FILES.folder, name) if path is _DEFAULT else path


def _x(shape=(2, 3, 8, 8), dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _grid(n=2, h=5, w=6, seed=1):
    return np.random.default_rng(seed).uniform(-1.1, 1.1, (n, h, w, 2))


def _theta(n=2):
    return np.tile(np.eye(2, 3), (n, 1, 1)) + 0.05


def _params_tensor():
    return [stn_np.Tensor(np.zeros(3), requires_grad=True)]


def _sgd():
    return optim.SGD(_params_tensor(), lr=0.1, momentum=0.9)


def _adam():
    return optim.Adam(_params_tensor(), lr=0.1)


def _state_with(make, key, value):
    """``make()``'s state dict with group 0's option ``key`` set to ``value``."""
    state = make().state_dict()
    state["param_groups"][0][key] = value
    return state


def _mnist_dir(name, train_labels=None, images_shape=(3, 28, 28), test_images_shape=(2, 28, 28)):
    """A folder in the MNIST layout; ``train_labels`` overrides the training labels."""
    folder = os.path.join(FILES.folder, name)
    if not os.path.isdir(folder):
        os.makedirs(folder)
        train_labels = np.zeros(images_shape[0], np.uint8) if train_labels is None else train_labels
        D.save_idx(os.path.join(folder, "train-images-idx3-ubyte"), np.zeros(images_shape, np.uint8))
        D.save_idx(os.path.join(folder, "train-labels-idx1-ubyte"), np.asarray(train_labels, np.uint8))
        D.save_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), np.zeros(test_images_shape, np.uint8))
        D.save_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), np.zeros(test_images_shape[0], np.uint8))
    return folder


def _family_call(method):
    family = F.get_family("affine")
    return lambda **kw: getattr(family, method)(**kw)


def _layer_forward(make):
    return lambda x: make()(x)


def _result():
    y, x = np.mgrid[0:16, 0:16] / 16.0
    image = np.sin(6 * x) * np.cos(5 * y) + x
    return R.register(image, image, levels=1, steps=2)


_RESULT = functools.lru_cache(maxsize=1)(_result)
_MODEL = functools.lru_cache(maxsize=1)(lambda: models.build_model("cnn", 28))


def _targets():
    img = lambda: _x()  # noqa: E731
    return [
        # ------------------------------------------------------------------ stn_np
        Target("Tensor", stn_np.Tensor, lambda: dict(data=np.ones(3)),
               {"data": [("object array", lambda: np.array([None, 1], dtype=object)), ("str", "abc"),
                         ("dict", {"a": 1}), ("ragged", [[1, 2], [3]])],
                "requires_grad": BOOL, "dtype": [("unknown name", "no-such-dtype")]}),
        Target("concatenate", stn_np.concatenate, lambda: dict(tensors=[np.ones((2, 3)), np.ones((1, 3))], axis=0),
               {"tensors": [("empty", []), ("None", None), ("int", 3), ("with a str", lambda: [np.ones(2), "a"]),
                            ("mismatched shapes", lambda: [np.ones((2, 3)), np.ones((2, 4))])],
                "axis": [("out of range", 5), ("str", "0"), ("float", 0.5), ("None", None)]}),
        Target("stack", stn_np.stack, lambda: dict(tensors=[np.ones(3), np.ones(3)], axis=0),
               {"tensors": [("empty", []), ("None", None), ("int", 3),
                            ("mismatched shapes", lambda: [np.ones(3), np.ones(4)])],
                "axis": [("out of range", 5), ("str", "0"), ("float", 0.5)]}),
        Target("manual_seed", stn_np.manual_seed, lambda: dict(seed=0), {"seed": integer(0)}),
        Target("gradcheck", stn_np.gradcheck,
               lambda: dict(fn=lambda t: t * t, inputs=(stn_np.Tensor(np.ones(2), requires_grad=True),)),
               {"fn": [("int", 3), ("None", None)], "inputs": [("str", "abc"), ("None", None)],
                "eps": number(0, strict=True), "atol": [("negative", -1.0), ("nan", float("nan"))],
                "rtol": [("negative", -1.0), ("nan", float("nan"))], "mode": choice("full")}),
        Target("numerical_jacobian", stn_np.numerical_jacobian,
               lambda: dict(fn=lambda t: t * t, inputs=(stn_np.Tensor(np.ones(2), requires_grad=True),)),
               {"fn": [("int", 3)], "inputs": [("str", "abc"), ("None", None)],
                "eps": [("zero", 0.0), ("nan", float("nan")), ("str", "x")]}),
        # ------------------------------------------------------------------ sampling
        Target("affine_grid", F.affine_grid, lambda: dict(theta=_theta(), size=(2, 1, 5, 6)),
               {"theta": array((2, 2, 3), extra=[("wrong N", lambda: _theta(3)), ("3x3", lambda: np.ones((2, 3, 3)))]),
                "size": SIZE4, "align_corners": BOOL}),
        Target("attention_grid", F.attention_grid, lambda: dict(params=np.ones((2, 3)), size=(2, 1, 5, 6)),
               {"params": array((2, 3), extra=[("4 params", lambda: np.ones((2, 4)))]), "size": SIZE4,
                "align_corners": BOOL}),
        Target("projective_grid", F.projective_grid,
               lambda: dict(params=np.tile([1.0, 0, 0, 0, 1, 0, 0, 0], (2, 1)), size=(2, 1, 5, 6)),
               {"params": array((2, 8), extra=[("6 params", lambda: np.ones((2, 6)))]), "size": SIZE4,
                "align_corners": BOOL}),
        Target("tps_grid", F.tps_grid, lambda: dict(offsets=np.zeros((2, 16, 2)), size=(2, 1, 5, 6)),
               {"offsets": array((2, 16, 2), extra=[("K mismatch", lambda: np.zeros((2, 9, 2)))]), "size": SIZE4,
                "control_points": [("one row", (1, 4)), ("str", "44"), ("float", (4.5, 4)), ("None", None),
                                   ("huge", (HUGE, HUGE))],
                "align_corners": BOOL}),
        Target("displacement_grid", F.displacement_grid, lambda: dict(flow=np.zeros((2, 5, 6, 2))),
               {"flow": array((2, 5, 6, 2), extra=[("last axis 3", lambda: np.zeros((2, 5, 6, 3)))]),
                "input_size": [("3 ints", (2, 1, 5)), ("zero side", (2, 1, 0, 5)), ("str", "2156"),
                               ("wrong N", (3, 1, 5, 6))],
                "align_corners": BOOL}, argument={"input_size": ("input_size", "flow")}),
        Target("tps_transform_points", F.tps_transform_points,
               lambda: dict(offsets=np.zeros((1, 16, 2)), points=np.zeros((5, 2))),
               {"offsets": array((1, 16, 2)),
                "points": array((5, 2), ints_ok=True, extra=[("3 coordinates", lambda: np.zeros((5, 3)))]),
                "control_points": [("one row", (1, 4)), ("str", "44"), ("None", None)]}),
        Target("tps_control_points", F.tps_control_points, lambda: dict(control_points=(4, 4)),
               {"control_points": [("one row", (1, 4)), ("str", "44"), ("None", None), ("float", (4.5, 4)),
                                   ("three", (2, 2, 2)), ("huge", (HUGE, HUGE))],
                "dtype": FLOAT_DTYPE}),
        Target("identity_grid", F.identity_grid, lambda: dict(height=3, width=4),
               {"height": integer(0, huge=True), "width": integer(0, huge=True), "align_corners": BOOL,
                "dtype": FLOAT_DTYPE, "depth": integer(0, huge=True, allow_none=True)}),
        Target("axis_sizes", F.axis_sizes, lambda: dict(spatial_shape=(3, 4, 5)),
               {"spatial_shape": [("one int", (3,)), ("four ints", (1, 2, 3, 4)), ("str", "345"), ("None", None),
                                  ("float", (3, 4.5)), ("negative", (3, -1))]}),
        Target("coordinate_scale", F.coordinate_scale, lambda: dict(size=5),
               {"size": integer(1), "align_corners": BOOL}),
        Target("pixel_size", F.pixel_size, lambda: dict(size=5), {"size": integer(1), "align_corners": BOOL}),
        Target("normalized_to_pixel", F.normalized_to_pixel, lambda: dict(coord=np.zeros(3), size=5),
               {"coord": [("str", "abc"), ("None", None), ("object array", lambda: np.array([None], dtype=object)),
                          ("complex", lambda: np.ones(3, dtype=complex))],
                "size": integer(1), "align_corners": BOOL}),
        Target("pixel_to_normalized", F.pixel_to_normalized, lambda: dict(pixel=np.zeros(3), size=5),
               {"pixel": [("str", "abc"), ("None", None), ("object array", lambda: np.array([None], dtype=object)),
                          ("complex", lambda: np.ones(3, dtype=complex))],
                "size": integer(1), "align_corners": BOOL}),
        Target("get_family", F.get_family, lambda: dict(name="affine"),
               {"name": choice("affine"), "parametric": BOOL}, argument={"name": "transform"}),
        Target("TransformFamily.identity", _family_call("identity"), lambda: dict(batch=2),
               {"batch": [("negative", -1), ("str", "2"), ("float", 1.5), ("huge", 10**12)], "dtype": FLOAT_DTYPE}),
        Target("TransformFamily.grid", _family_call("grid"), lambda: dict(params=_theta(), size=(2, 1, 5, 6)),
               {"params": array((2, 2, 3)), "size": SIZE4, "align_corners": BOOL},
               argument={"params": ("params", "theta")}),
        Target("grid_sample", F.grid_sample, lambda: dict(input=img(), grid=_grid()),
               {"input": array((2, 3, 8, 8), extra=[("zero height", lambda: np.ones((2, 3, 0, 8))),
                                                    ("float32 with a float64 grid", lambda: _x(dtype=np.float32))]),
                "grid": array((2, 5, 6, 2), extra=[("last axis 3", lambda: np.zeros((2, 5, 6, 3))),
                                                   ("wrong N", lambda: _grid(n=3)),
                                                   ("beyond the memory budget",
                                                    lambda: np.broadcast_to(np.zeros(2), (2, 40000, 40000, 2)))]),
                "mode": choice("bilinear"), "padding_mode": choice("zeros"), "align_corners": BOOL},
               argument={"input": ("input", "grid")}),
        Target("reference_sample", F.reference_sample, lambda: dict(U=_x((1, 1, 4, 4)), grid=_grid(1, 2, 2)),
               {"U": array((1, 1, 4, 4)), "grid": array((1, 2, 2, 2)), "mode": choice("bilinear"),
                "padding_mode": choice("zeros"), "align_corners": BOOL}, argument={"U": ("U", "input", "grid")}),
        Target("sampling_matrix", F.sampling_matrix, lambda: dict(grid=_grid(), input_size=(8, 8)),
               {"grid": array((2, 5, 6, 2)),
                "input_size": [("zero side", (0, 8)), ("str", "88"), ("None", None), ("one int", (8,)),
                               ("float", (8.5, 8))],
                "mode": choice("bilinear"), "padding_mode": choice("zeros"), "align_corners": BOOL}),
        Target("sample_points", F.sample_points,
               lambda: dict(rng=np.random.default_rng(0), N=1, H=4, W=5, H_out=3, W_out=3),
               {"rng": RNG, "N": integer(1), "H": integer(1), "W": integer(1), "H_out": integer(1),
                "W_out": integer(1, huge=True), "align_corners": BOOL, "margin": integer(0)}),
        Target("Kernel", F.Kernel, lambda: dict(name="box", k=lambda d: (np.abs(d) < 0.5) * 1.0,
                                                dk=lambda d: 0 * d, radius=1.0),
               {"name": [("None", None), ("int", 3)], "k": [("not callable", 3), ("None", None)],
                "dk": [("not callable", 3)], "radius": number(0, 64, strict=True)}),
        # ------------------------------------------------------------------ layers' functions
        Target("conv2d", F.conv2d, lambda: dict(x=img(), weight=_x((4, 3, 3, 3), seed=2)),
               {"x": array((2, 3, 8, 8), extra=[("too small", lambda: np.ones((2, 3, 2, 2)))]),
                "weight": array((4, 3, 3, 3), extra=[("0 x 0 kernel", lambda: np.ones((4, 3, 0, 0))),
                                                     ("channel mismatch", lambda: np.ones((4, 2, 3, 3)))]),
                "bias": [("wrong length", lambda: np.ones(3)), ("str", "abc"), ("int dtype", lambda: np.ones(4, int))],
                "stride": PAIR, "padding": [("negative", -1), ("str", "1"), ("float", 0.5),
                                            ("beyond the memory budget", HUGE)]},
               argument={"x": ("x", "weight"), "padding": ("padding", "x")}),
        Target("max_pool2d", F.max_pool2d, lambda: dict(x=img(), kernel_size=2),
               {"x": array((2, 3, 8, 8)), "kernel_size": PAIR, "stride": STRIDE,
                "padding": [("negative", -1), ("str", "1"), ("more than half the kernel", 2)]}),
        Target("avg_pool2d", F.avg_pool2d, lambda: dict(x=img(), kernel_size=2),
               {"x": array((2, 3, 8, 8)), "kernel_size": PAIR, "stride": STRIDE,
                "padding": [("negative", -1), ("str", "1"), ("more than half the kernel", 2)]}),
        Target("linear", F.linear, lambda: dict(x=_x((2, 4)), weight=_x((3, 4), seed=1)),
               {"x": array((2, 4), ndim_ok=(1, 3), extra=[("feature mismatch", lambda: np.ones((2, 5)))]),
                "weight": array((3, 4), extra=[("feature mismatch", lambda: np.ones((3, 5)))]),
                "bias": [("wrong length", lambda: np.ones(4)), ("str", "abc")]}, argument={"weight": ("weight", "x")}),
        Target("relu", F.relu, lambda: dict(x=_x((2, 3))),
               {"x": [("None", None), ("str", "abc"), ("object", lambda: np.array([None], dtype=object)),
                      ("complex", lambda: np.ones(2, complex))]}),
        Target("log_softmax", F.log_softmax, lambda: dict(x=_x((2, 3))),
               {"x": [("None", None), ("str", "abc"), ("complex", lambda: np.ones((2, 3), complex)),
                      ("int dtype", lambda: np.ones((2, 3), int))],
                "axis": [("out of range", 5), ("str", "1"), ("float", 0.5)]}),
        Target("cross_entropy", F.cross_entropy, lambda: dict(logits=_x((4, 3)), target=np.array([0, 1, 2, 0])),
               {"logits": array((4, 3), extra=[("1-D", lambda: np.ones(4))]),
                "target": [("out of range", lambda: np.array([0, 1, 3, 0])), ("negative", lambda: np.array([0, -1, 2, 0])),
                           ("float", lambda: np.zeros(4)), ("wrong length", lambda: np.zeros(3, int)), ("None", None),
                           ("str", "abc")],
                "reduction": choice("mean")}),
        Target("nll_loss", F.nll_loss, lambda: dict(log_probs=_x((4, 3)), target=np.array([0, 1, 2, 0])),
               {"log_probs": array((4, 3)),
                "target": [("out of range", lambda: np.array([0, 1, 3, 0])), ("float", lambda: np.zeros(4)),
                           ("wrong length", lambda: np.zeros(5, int))],
                "reduction": choice("mean")}),
        Target("mse_loss", F.mse_loss, lambda: dict(input=_x((2, 3)), target=_x((2, 3), seed=1)),
               {"input": array((2, 3), ndim_ok=(1, 3)), "target": array((2, 3), ndim_ok=(1, 3)),
                "reduction": choice("mean")}),
        Target("dropout", F.dropout, lambda: dict(x=_x((2, 3))),
               {"x": [("None", None), ("str", "abc"), ("int dtype", lambda: np.ones(3, int)),
                      ("complex", lambda: np.ones(3, complex))],
                "p": number(0, 1), "training": BOOL, "rng": RNG}),
        Target("dropout2d", F.dropout2d, lambda: dict(x=img()),
               {"x": array((2, 3, 8, 8)), "p": number(0, 1), "training": BOOL, "rng": RNG}),
        # ------------------------------------------------------------------ nn
        Target("Conv2d", nn.Conv2d, lambda: dict(in_channels=3, out_channels=4, kernel_size=3),
               {"in_channels": integer(1, huge=True), "out_channels": integer(1, huge=True), "kernel_size": PAIR,
                "stride": PAIR, "padding": [("negative", -1), ("str", "1")], "bias": [("str", "yes")],
                "dtype": FLOAT_DTYPE, "rng": RNG}),
        Target("Conv2d.forward", _layer_forward(lambda: nn.Conv2d(3, 4, 3, dtype=np.float64)), lambda: dict(x=img()),
               {"x": array((2, 3, 8, 8))}),
        Target("Linear", nn.Linear, lambda: dict(in_features=4, out_features=3),
               {"in_features": integer(1, huge=True), "out_features": integer(1, huge=True), "bias": [("str", "yes")],
                "dtype": FLOAT_DTYPE, "rng": RNG}),
        Target("Linear.forward", _layer_forward(lambda: nn.Linear(4, 3, dtype=np.float64)), lambda: dict(x=_x((2, 4))),
               {"x": array((2, 4), ndim_ok=(1, 3))}),
        Target("MaxPool2d", nn.MaxPool2d, lambda: dict(kernel_size=2),
               {"kernel_size": PAIR, "stride": STRIDE, "padding": [("negative", -1), ("str", "1")]}),
        Target("AvgPool2d", nn.AvgPool2d, lambda: dict(kernel_size=2),
               {"kernel_size": PAIR, "stride": STRIDE, "padding": [("negative", -1), ("str", "1")]}),
        Target("Dropout", nn.Dropout, lambda: dict(p=0.5), {"p": number(0, 1), "rng": RNG}),
        Target("Dropout2d", nn.Dropout2d, lambda: dict(p=0.5), {"p": number(0, 1), "rng": RNG}),
        Target("Flatten", nn.Flatten, lambda: dict(), {"start_dim": [("str", "1"), ("float", 1.5), ("None", None)],
                                                        "end_dim": [("str", "1"), ("float", 1.5), ("None", None)]}),
        Target("Flatten.forward", lambda x, start_dim=1: nn.Flatten(start_dim)(x), lambda: dict(x=img()),
               {"start_dim": [("beyond the last axis", 4), ("before the first axis", -5), ("far", 10)],
                "x": [("None", None), ("str", "abc")]}),
        Target("Parameter", nn.Parameter, lambda: dict(data=np.ones(3)),
               {"data": [("object array", lambda: np.array([None], dtype=object)), ("str", "abc"), ("dict", {"a": 1})],
                "requires_grad": BOOL}),
        Target("ModuleList", nn.ModuleList, lambda: dict(modules=[nn.ReLU()]),
               {"modules": [("int", 3), ("list of ints", [1, 2]), ("None", None)]}),
        Target("SpatialTransformer", nn.SpatialTransformer,
               lambda: dict(localization=nn.Sequential(nn.Flatten(), nn.Linear(64, 8)), loc_features=8),
               {"localization": [("int", 3), ("None", None), ("function", lambda: (lambda x: x))],
                "loc_features": integer(1, huge=True), "transform": choice("affine"),
                "out_size": [("zero", 0), ("str", "8"), ("three", (1, 2, 3))],
                "mode": choice("bilinear"), "padding_mode": choice("zeros"), "align_corners": BOOL,
                "lr_mult": number(0), "dtype": FLOAT_DTYPE, "rng": RNG}),
        Target("param_groups", nn.param_groups, lambda: dict(model=nn.Linear(2, 2), lr=0.1),
               {"model": [("int", 3), ("None", None)], "lr": number(0)}),
        Target("Module.load_state_dict", lambda state_dict, strict=True: nn.Linear(2, 2).load_state_dict(state_dict, strict),
               lambda: dict(state_dict=nn.Linear(2, 2).state_dict()),
               {"state_dict": [("None", None), ("list", [1, 2]), ("int", 3),
                               ("wrong shape", lambda: {"weight": np.ones((3, 2), np.float32), "bias": np.ones(2, np.float32)}),
                               ("str values", lambda: {"weight": "a", "bias": "b"})],
                "strict": [("str", "yes"), ("None", None)]}),
        Target("Module.astype", lambda dtype: nn.Linear(2, 2).astype(dtype), lambda: dict(dtype=np.float64),
               {"dtype": FLOAT_DTYPE}),
        Target("Module.train", lambda mode: nn.Linear(2, 2).train(mode), lambda: dict(mode=True),
               {"mode": [("str", "yes"), ("None", None), ("int 2", 2)]}),
        Target("build_model", models.build_model, lambda: dict(name="cnn", input_size=28),
               {"name": choice("cnn"), "input_size": integer(1, huge=True), "lr_mult": number(0),
                "dtype": FLOAT_DTYPE, "rng": RNG}, argument={"name": ("name", "model")}),
        Target("classifier_features", models.classifier_features, lambda: dict(input_size=28),
               {"input_size": integer(1)}),
        Target("init.calculate_gain", init.calculate_gain, lambda: dict(nonlinearity="relu"),
               {"nonlinearity": choice("relu"), "param": [("str", "x"), ("nan", float("nan")), ("list", [1])]}),
        Target("init.fan_in_and_fan_out", init.fan_in_and_fan_out, lambda: dict(shape=(3, 4)),
               {"shape": [("1-D", (3,)), ("None", None), ("str", "ab"), ("negative", (3, -4))]}),
        Target("init.uniform_", init.uniform_, lambda: dict(tensor=nn.Parameter(np.zeros(3))),
               {"tensor": [("ndarray", lambda: np.zeros(3)), ("None", None), ("int", 3)],
                "a": number(), "b": [("nan", float("nan")), ("below a", -1.0), ("str", "1")], "rng": RNG}),
        Target("init.normal_", init.normal_, lambda: dict(tensor=nn.Parameter(np.zeros(3))),
               {"tensor": [("None", None), ("int", 3)], "mean": number(), "std": number(0), "rng": RNG}),
        Target("init.constant_", init.constant_, lambda: dict(tensor=nn.Parameter(np.zeros(3)), value=1.0),
               {"tensor": [("None", None), ("int", 3)],
                "value": [("str", "a"), ("None", None), ("wrong shape", lambda: np.ones(4))]}),
        Target("init.zeros_", init.zeros_, lambda: dict(tensor=nn.Parameter(np.zeros(3))),
               {"tensor": [("None", None), ("int", 3), ("list", [1.0])]}),
        Target("init.kaiming_uniform_", init.kaiming_uniform_, lambda: dict(tensor=nn.Parameter(np.zeros((3, 4)))),
               {"tensor": [("1-D", lambda: nn.Parameter(np.zeros(3))), ("None", None)], "a": number(),
                "mode": choice("fan_in"), "nonlinearity": choice("relu"), "rng": RNG}),
        Target("init.kaiming_normal_", init.kaiming_normal_, lambda: dict(tensor=nn.Parameter(np.zeros((3, 4)))),
               {"tensor": [("1-D", lambda: nn.Parameter(np.zeros(3)))], "mode": choice("fan_in"),
                "nonlinearity": choice("relu")}),
        Target("init.xavier_uniform_", init.xavier_uniform_, lambda: dict(tensor=nn.Parameter(np.zeros((3, 4)))),
               {"tensor": [("1-D", lambda: nn.Parameter(np.zeros(3))), ("None", None)], "gain": number(0)}),
        Target("init.xavier_normal_", init.xavier_normal_, lambda: dict(tensor=nn.Parameter(np.zeros((3, 4)))),
               {"tensor": [("1-D", lambda: nn.Parameter(np.zeros(3)))], "gain": number(0)}),
        Target("init.default_init_", init.default_init_, lambda: dict(weight=nn.Parameter(np.zeros((3, 4)))),
               {"weight": [("1-D", lambda: nn.Parameter(np.zeros(3))), ("None", None)],
                "bias": [("ndarray", lambda: np.zeros(3)), ("int", 3)], "rng": RNG}),
        # ------------------------------------------------------------------ optim
        Target("SGD", optim.SGD, lambda: dict(params=_params_tensor(), lr=0.1),
               {"params": [("single tensor", lambda: stn_np.Tensor(np.zeros(2), requires_grad=True)), ("empty", []),
                           ("ints", [1, 2]), ("no grad", lambda: [stn_np.Tensor(np.zeros(2))]), ("None", None),
                           ("group without params", [{"lr": 0.1}])],
                "lr": number(0), "momentum": number(0), "dampening": number(0), "weight_decay": number(0),
                "nesterov": [("str", "yes"), ("without momentum", True)]}),
        Target("Adam", optim.Adam, lambda: dict(params=_params_tensor()),
               {"params": [("empty", []), ("ints", [1, 2]), ("None", None)],
                "lr": number(0), "betas": [("one value", (0.9,)), ("above 1", (0.9, 1.5)), ("nan", (float("nan"), 0.9)),
                                           ("str", "ab"), ("None", None), ("negative", (-0.1, 0.9))],
                "eps": number(0), "weight_decay": number(0)}),
        Target("StepLR", optim.StepLR, lambda: dict(optimizer=_sgd(), step_size=2),
               {"optimizer": [("int", 3), ("None", None)], "step_size": integer(1), "gamma": number(0, strict=True)}),
        Target("Optimizer.load_state_dict", lambda state_dict, make=_sgd: make().load_state_dict(state_dict),
               lambda: dict(state_dict=_sgd().state_dict()),
               {"state_dict": [("lr nan", lambda: _state_with(_sgd, "lr", float("nan"))),
                               ("lr negative", lambda: _state_with(_sgd, "lr", -1.0)),
                               ("lr str", lambda: _state_with(_sgd, "lr", "0.1")),
                               ("momentum inf", lambda: _state_with(_sgd, "momentum", float("inf"))),
                               ("Adam eps nan", lambda: _state_with(_adam, "eps", float("nan"))),
                               ("None", None), ("int", 3), ("no groups", lambda: {"state": {}}),
                               ("two groups", lambda: {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}] * 2}),
                               ("state of a missing parameter",
                                lambda: {"state": {5: {"momentum_buffer": np.zeros(3)}},
                                         "param_groups": _sgd().state_dict()["param_groups"]}),
                               ("wrong state shape",
                                lambda: {"state": {0: {"momentum_buffer": np.zeros(4)}},
                                         "param_groups": _sgd().state_dict()["param_groups"]})]}),
        Target("StepLR.load_state_dict", lambda state_dict: optim.StepLR(_sgd(), 2).load_state_dict(state_dict),
               lambda: dict(state_dict=optim.StepLR(_sgd(), 2).state_dict()),
               {"state_dict": [("gamma nan", lambda: dict(optim.StepLR(_sgd(), 2).state_dict(), gamma=float("nan"))),
                               ("gamma negative", lambda: dict(optim.StepLR(_sgd(), 2).state_dict(), gamma=-1.0)),
                               ("step_size 0", lambda: dict(optim.StepLR(_sgd(), 2).state_dict(), step_size=0)),
                               ("missing keys", lambda: {"gamma": 0.5}), ("None", None)]}),
        Target("flatten_state_dict", optim.flatten_state_dict, lambda: dict(state_dict={"a": 1.0}),
               {"state_dict": [("None", None), ("list", [1, 2]), ("int", 3)], "prefix": [("int", 3), ("None", None)]}),
        Target("unflatten_state_dict", optim.unflatten_state_dict, lambda: dict(flat={"param_groups.0.lr": np.array(0.1)}),
               {"flat": [("None", None), ("list", [1, 2]), ("int keys", {1: np.zeros(2)})]}),
        # ------------------------------------------------------------------ data
        Target("batches", lambda **kw: next(iter(D.batches(**kw))),
               lambda: dict(images=np.zeros((5, 4, 4), np.uint8), labels=np.arange(5), batch_size=2),
               {"images": [("float", lambda: np.zeros((5, 4, 4))), ("2-D", lambda: np.zeros((5, 4), np.uint8)),
                           ("None", None), ("str", "abc")],
                "labels": [("float", lambda: np.zeros(5)), ("wrong length", lambda: np.arange(4)), ("None", None),
                           ("2-D", lambda: np.zeros((5, 1), int))],
                "batch_size": integer(1), "seed": integer(0), "shuffle": BOOL, "drop_last": BOOL}),
        Target("to_float", D.to_float, lambda: dict(images=np.zeros((2, 3, 3), np.uint8)),
               {"images": [("float", lambda: np.zeros((2, 3, 3))), ("2-D", lambda: np.zeros((3, 3), np.uint8)),
                           ("None", None), ("str", "abc")]}),
        Target("digit_params", D.digit_params, lambda: dict(n=3), {"n": integer(0, huge=True), "seed": integer(0)}),
        Target("synthetic_digits", D.synthetic_digits, lambda: dict(n=2),
               {"n": integer(0, huge=True), "seed": integer(0)}),
        Target("distortion_params", D.distortion_params, lambda: dict(kind="RTS", n=2),
               {"kind": choice("RTS"), "n": integer(0, huge=True), "seed": integer(0)}),
        Target("distort", D.distort, lambda: dict(images=np.zeros((2, 28, 28), np.uint8), kind="R"),
               {"images": [("float", lambda: np.zeros((2, 28, 28))), ("20 x 20", lambda: np.zeros((2, 20, 20), np.uint8)),
                           ("2-D", lambda: np.zeros((28, 28), np.uint8)), ("None", None)],
                "kind": choice("R"), "seed": integer(0), "chunk_size": integer(1)}),
        Target("make_dataset", D.make_dataset, lambda: dict(name="digits", train_size=2, test_size=2),
               {"name": choice("digits"), "distortion": choice("none"),
                "train_size": integer(1, allow_none=True) + [("huge", 10**12)],
                "test_size": integer(1, allow_none=True), "seed": integer(0),
                "data_dir": [("with digits", "somewhere"), ("int", 3)]}),
        Target("make_dataset(mnist)", D.make_dataset,
               lambda: dict(name="mnist", data_dir=_mnist_dir("mnist-ok")),
               {"data_dir": [("empty training split", lambda: _mnist_dir("mnist-empty", images_shape=(0, 28, 28))),
                             ("labels out of range", lambda: _mnist_dir("mnist-labels", train_labels=[0, 200, 1])),
                             ("None", None)],
                "train_size": [("more than the file has", 10)]}),
        Target("make_dataset(mnist, R)", D.make_dataset,
               lambda: dict(name="mnist", data_dir=_mnist_dir("mnist-ok"), distortion="R"),
               {"data_dir": [("20 x 20 images", lambda: _mnist_dir("mnist-20", images_shape=(3, 20, 20),
                                                                  test_images_shape=(2, 20, 20)))]},
               argument={"data_dir": ("data_dir", "distortion")}),
        Target("load_mnist_like", D.load_mnist_like, lambda: dict(directory=_mnist_dir("mnist-ok")),
               {"directory": [("labels out of range", lambda: _mnist_dir("mnist-labels", train_labels=[0, 200, 1])),
                              ("None", None), ("int", 3)],
                "split": choice("train")}),
        Target("load_idx", D.load_idx,
               lambda: dict(path=FILES.path("ok-idx1-ubyte", _idx_header(0x08, (2,)) + b"\x01\x02")),
               {"path": [("gzip bomb", lambda: FILES.path("bomb.gz", _gzip_bomb)),
                         ("raw file declaring 93 GiB", lambda: FILES.path("bomb-raw", _idx_header(0x08, (100000, 1000, 1000)))),
                         ("truncated", lambda: FILES.path("short", _idx_header(0x08, (4,)) + b"\x01")),
                         ("bad magic", lambda: FILES.path("magic", b"\x01\x02\x08\x01" + bytes(8))),
                         ("corrupt gzip", lambda: FILES.path("corrupt.gz", b"\x1f\x8b" + bytes(30))),
                         ("empty", lambda: FILES.path("empty", b"")),
                         ("directory", lambda: FILES.folder)] + PATH,
                "max_bytes": [("negative", -1), ("str", "1"), ("nan", float("nan")), ("below the file", 1)]},
               argument={"max_bytes": ("max_bytes", "path")}, errors={"path": (ValueError, TypeError, OSError)}),
        Target("save_idx", lambda array, path=_DEFAULT: D.save_idx(_out(path, "out-idx"), array),
               lambda: dict(array=np.zeros((2, 2), np.uint8)),
               {"array": [("bool", lambda: np.zeros(2, bool)), ("complex", lambda: np.zeros(2, complex)),
                          ("0-D", lambda: np.array(3, np.uint8)), ("None", None), ("str", "abc")],
                "path": [("missing folder", lambda: os.path.join(FILES.folder, "no", "such", "dir", "x")), ("int", 3)]},
               errors={"path": (ValueError, TypeError, FileNotFoundError)}),
        Target("rotation_matrix", D.rotation_matrix, lambda: dict(degrees=[0.0, 90.0]),
               {"degrees": [("str", "abc"), ("None", None), ("complex", lambda: np.ones(2, complex))]}),
        Target("similarity_theta", D.similarity_theta,
               lambda: dict(angle=[0.0], scale=[1.0], position=[[21.0, 21.0]], out_size=42),
               {"angle": [("str", "abc"), ("wrong length", [0.0, 1.0])], "scale": [("str", "x"), ("zero", [0.0])],
                "position": [("1-D", [21.0, 21.0]), ("str", "x")], "out_size": integer(1)},
               argument={"angle": ("angle", "scale")}),
        Target("theta_from_pixel_map", D.theta_from_pixel_map,
               lambda: dict(matrix=np.eye(2)[None], offset=np.zeros((1, 2)), in_hw=(28, 28), out_hw=(42, 42)),
               {"matrix": array((1, 2, 2), ints_ok=True), "offset": array((1, 2), ints_ok=True),
                "in_hw": [("zero", (0, 28)), ("str", "ab"), ("one int", (28,)), ("None", None)],
                "out_hw": [("zero", (0, 28)), ("str", "ab"), ("None", None)]}),
        # ------------------------------------------------------------------ registration
        Target("register", R.register,
               lambda: dict(fixed=_x((16, 16)), moving=_x((16, 16), seed=1), levels=1, steps=1),
               {"fixed": array((16, 16), ndim_ok=(3,), ints_ok=True),
                "moving": array((16, 16), ndim_ok=(3,), ints_ok=True), "transform": choice("affine"), "loss": choice("mse"),
                "levels": integer(1), "steps": [("negative", -1), ("str", "3"), ("wrong count", [1, 2]), ("float", 1.5)],
                "lr": number(0, strict=True, allow_none=True), "padding_mode": choice("zeros"),
                "smoothness": [("with a parametric transform", 0.5)], "patience": integer(1, allow_none=True),
                "tol": number(0), "control_points": [("one row", (1, 4)), ("str", "44")],
                "init": [("wrong shape", lambda: np.zeros((3, 3))), ("nan", lambda: np.full((2, 3), np.nan)),
                         ("str", "abc")]}),
        Target("RegistrationResult.apply", lambda image, mode="bilinear": _RESULT().apply(image, mode),
               lambda: dict(image=_x((16, 16))),
               {"image": [("None", None), ("str", "abc"), ("4-D", lambda: np.zeros((1, 1, 16, 16))),
                          ("complex", lambda: np.zeros((16, 16), complex))],
                "mode": choice("bilinear")}),
        Target("compose_affine", R.compose_affine, lambda: dict(outer=np.eye(2, 3), inner=np.eye(2, 3)),
               {"outer": array((2, 3), ndim_ok=(3,), ints_ok=True, extra=[("3x3", lambda: np.eye(3))]),
                "inner": array((2, 3), ndim_ok=(3,), ints_ok=True)}),
        Target("invert_affine", R.invert_affine, lambda: dict(affine=np.eye(2, 3)),
               {"affine": array((2, 3), ndim_ok=(3,), ints_ok=True, extra=[("singular", lambda: np.zeros((2, 3)))])}),
        Target("theta_to_pixel", R.theta_to_pixel, lambda: dict(theta=np.eye(2, 3), in_size=(4, 8)),
               {"theta": array((2, 3), ndim_ok=(3,), ints_ok=True), "in_size": [("zero", (0, 8)), ("str", "48"), ("None", None)],
                "out_size": [("zero", (0, 8)), ("str", "48")], "align_corners": BOOL}),
        Target("pixel_to_theta", R.pixel_to_theta, lambda: dict(matrix=np.eye(2, 3), in_size=(4, 8)),
               {"matrix": array((2, 3), ndim_ok=(3,), ints_ok=True), "in_size": [("zero", (0, 8)), ("str", "48"), ("None", None)],
                "align_corners": BOOL}),
        Target("diffusion_penalty", R.diffusion_penalty, lambda: dict(field=np.zeros((1, 4, 4, 2))),
               {"field": array((1, 4, 4, 2), extra=[("last axis 3", lambda: np.zeros((1, 4, 4, 3)))])}),
        Target("flow_to_grid", R.flow_to_grid, lambda: dict(flow=np.zeros((4, 4, 2))),
               {"flow": array((4, 4, 2), ndim_ok=(4,), ints_ok=True), "input_size": [("zero", (0, 4)), ("str", "44")],
                "align_corners": BOOL}),
        Target("jacobian_determinant", R.jacobian_determinant, lambda: dict(field=np.zeros((4, 4, 2))),
               {"field": array((4, 4, 2), ndim_ok=(4,), ints_ok=True), "kind": choice("grid"),
                "input_size": [("zero", (0, 4)), ("str", "44")], "align_corners": BOOL}),
        Target("ncc_loss", R.ncc_loss, lambda: dict(x=_x((1, 1, 4, 4)), y=_x((1, 1, 4, 4), seed=1)),
               {"x": array((1, 1, 4, 4)), "y": array((1, 1, 4, 4)), "eps": number(0)}, argument={"x": ("x", "y")}),
        # ------------------------------------------------------------------ io
        Target("save_json", lambda obj, path=_DEFAULT: sio.save_json(_out(path, "x.json"), obj),
               lambda: dict(obj={"a": 1.0}),
               {"obj": [("a set", lambda: {"a": {1, 2}}), ("an object", lambda: {"a": object()}),
                        ("non-str keys", lambda: {(1, 2): 3})],
                "path": PATH + [("missing folder", lambda: os.path.join(FILES.folder, "no", "such", "x.json"))]},
               errors={"path": (ValueError, TypeError, FileNotFoundError)}),
        Target("save_npz", lambda arrays, path=_DEFAULT, compressed=False: sio.save_npz(
            _out(path, "x.npz"), arrays, compressed),
               lambda: dict(arrays={"a": np.zeros(2)}),
               {"arrays": [("object array", lambda: {"a": np.array([None], dtype=object)}), ("None", None),
                           ("list", [1, 2]), ("non-str names", lambda: {3: np.zeros(2)})],
                "path": PATH, "compressed": [("str", "yes")]}),
        Target("load_npz", sio.load_npz, lambda: dict(path=FILES.npz("ok.npz", a=np.zeros(2))),
               {"path": [("not a zip", lambda: FILES.path("not.npz", b"hello")),
                         ("npz bomb", lambda: FILES.path("bomb.npz", _npz_bomb)),
                         ("unsupported compression", lambda: FILES.path("aes.npz", _unsupported_compression)),
                         ("corrupt npy header", lambda: FILES.path("header.npz", _corrupt_npy_header)),
                         ("pickled object array", lambda: FILES.path(
                             "pickle.npz", lambda: _zip_with("a.npy", _pickled_npy()))),
                         ("truncated zip", lambda: FILES.path("cut.npz", FILES_bytes("ok.npz")[:-30])),
                         ("directory", lambda: FILES.folder)] + PATH,
                "max_bytes": [("negative", -1), ("str", "1"), ("below the file", 1)]},
               argument={"max_bytes": ("max_bytes", "path")}, errors={"path": (ValueError, TypeError, OSError)}),
        Target("atomic_write", lambda path, mode="wb": _write_nothing(sio.atomic_write(path, mode)),
               lambda: dict(path=os.path.join(FILES.folder, "aw.bin")),
               {"mode": [("append", "a"), ("read", "rb"), ("None", None), ("int", 3)], "path": PATH}),
        Target("save_figure", lambda figure, path=_DEFAULT, dpi=50: sio.save_figure(
            figure, _out(path, "f.png"), dpi),
               lambda: dict(figure=_figure()),
               {"figure": [("None", None), ("int", 3), ("ndarray", lambda: np.zeros((2, 2)))],
                "dpi": number(0, strict=True), "path": PATH}),
        # ------------------------------------------------------------------ training
        Target("TrainConfig", T.TrainConfig, lambda: dict(),
               {"epochs": integer(1), "batch_size": integer(1), "lr": number(0, strict=True),
                "momentum": number(0), "loc_lr_mult": number(0), "seed": integer(0),
                "optimizer": choice("adam"), "model": choice("cnn"), "data": choice("digits"),
                "distortion": choice("RTS"), "train_size": [("zero", 0), ("str", "3")]}),
        Target("load_checkpoint", T.load_checkpoint,
               lambda: dict(path=FILES.path("checkpoint-ok.npz", lambda: _checkpoint_with(lambda m: None))),
               {"path": [("not a zip", lambda: FILES.path("not-a-checkpoint.npz", b"hello")),
                         ("unsupported compression", lambda: FILES.path("aes.npz", _unsupported_compression)),
                         ("corrupt npy header", lambda: FILES.path("header.npz", _corrupt_npy_header)),
                         ("no config", lambda: FILES.path("c-noconfig.npz", lambda: _checkpoint_with(_drop("config")))),
                         ("config not a dict", lambda: FILES.path("c-config.npz", lambda: _checkpoint_with(_set("config", 3)))),
                         ("config field unknown", lambda: FILES.path(
                             "c-field.npz", lambda: _checkpoint_with(lambda m: m["config"].update(colour="red")))),
                         ("config lr nan", lambda: FILES.path(
                             "c-lr.npz", lambda: _checkpoint_with(lambda m: m["config"].update(lr=float("nan"))))),
                         ("no position", lambda: FILES.path("c-pos.npz", lambda: _checkpoint_with(_drop("position")))),
                         ("position a str", lambda: FILES.path("c-pos2.npz", lambda: _checkpoint_with(_set("position", "x")))),
                         ("no rng state", lambda: FILES.path("c-rng.npz", lambda: _checkpoint_with(_drop("rng_state")))),
                         ("history not a list", lambda: FILES.path("c-hist.npz", lambda: _checkpoint_with(_set("history", 3)))),
                         ("input size a str", lambda: FILES.path("c-size.npz", lambda: _checkpoint_with(_set("input_size", "x")))),
                         ("meta not a dict", lambda: FILES.path("c-list.npz", lambda: _checkpoint_with(lambda m: [1, 2]))),
                         ("directory", lambda: FILES.folder)] + PATH},
               errors={"path": (ValueError, TypeError, OSError)}),
        Target("evaluate", T.evaluate,
               lambda: dict(model=_MODEL(), images=np.zeros((3, 28, 28), np.uint8), labels=np.zeros(3, int)),
               {"images": [("float", lambda: np.zeros((3, 28, 28))), ("None", None), ("empty", lambda: np.zeros((0, 28, 28), np.uint8))],
                "labels": [("wrong length", lambda: np.zeros(2, int)), ("float", lambda: np.zeros(3)),
                           ("out of range", lambda: np.array([0, 10, 1]))],
                "model": [("None", None), ("int", 3)], "batch_size": integer(1)}),
    ]


def _write_nothing(manager):
    with manager:
        pass


def _pickled_npy():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def FILES_bytes(name):  # noqa: N802 - reads a file FILES made
    with open(os.path.join(FILES.folder, name), "rb") as f:
        return f.read()


def _figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.subplots().plot([0, 1])
    return figure


@functools.lru_cache(maxsize=1)
def targets():
    return tuple(_targets())


def cases():
    """Every (target, argument, bad value) case, in table order."""
    return [Case(target, argument, label, value)
            for target in targets() for argument, values in target.bad.items() for label, value in values]


# --------------------------------------------------------------------------- running a case
@dataclass
class Outcome:
    case: Case
    clean: bool
    why: str  # "" when clean


_CONVENTION = re.compile(r"^(?P<function>[^:\n]+): (?P<argument>[^\n]+?): expected .+, got .+", re.S)


def _snapshot(kwargs):
    copies = {}
    for name, value in kwargs.items():
        data = getattr(value, "data", value)
        if isinstance(data, np.ndarray) and data.dtype != object:
            copies[name] = (data, data.copy())
    return copies


def run_case(case):
    """Call ``case``'s target with its bad value; an :class:`Outcome` says whether it was clean."""
    target = case.target
    kwargs = target.good()
    # a lambda is a factory of the bad value (fresh arrays, files made on first use)
    kwargs[case.argument] = case.value() if getattr(case.value, "__name__", "") == "<lambda>" else case.value
    copies = _snapshot(kwargs)
    expected = target.errors.get(case.argument, (ValueError, TypeError))
    names = target.argument.get(case.argument, case.argument)
    names = (names,) if isinstance(names, str) else tuple(names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = target.call(**kwargs)
            if isinstance(result, types.GeneratorType):
                next(result)
        except Exception as error:  # noqa: BLE001 - classifying every failure is the point
            why = _judge(error, expected, names)
        else:
            why = "accepted silently"
    mutated = [n for n, (value, copy) in copies.items() if not np.array_equal(value, copy, equal_nan=True)]
    if mutated:
        why = (why + "; " if why else "") + f"mutated {', '.join(mutated)}"
    noisy = [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning, DeprecationWarning))]
    if noisy and not why:
        why = f"warned: {noisy[0].category.__name__}: {noisy[0].message}"
    return Outcome(case, not why, why)


def _judge(error, expected, names):
    text = str(error)
    if not isinstance(error, expected):
        return f"{type(error).__name__}: {text[:160]}"
    match = _CONVENTION.match(text)
    if not match:
        return f"{type(error).__name__} off the convention: {text[:160]}"
    if not any(re.search(rf"(^|\W){re.escape(name)}(\W|$)", match["argument"]) for name in names):
        return f"names {match['argument']!r}, not {' or '.join(map(repr, names))}: {text[:160]}"
    return ""
