"""Regenerate ``interop_reference.npz``: torch's outputs of every zoo model converted by ``stn_np.interop.to_torch``.

Run by hand where torch is installed (it is never a dependency):
    python tests/data/make_interop_reference.py

For each case (every (model, transform) pair of ``stn_np.nn.models.zoo()``, plus one whose
transformer samples a smaller output than its input) the script builds the stn_np model,
converts it with ``to_torch``, and gives the torch module new weights drawn by torch: weights
N(0, 1/fan_in), biases N(0, 0.1^2), the regressor near the identity (weights N(0, 0.05^2/fan_in),
bias identity + N(0, 0.05^2)) so that every sample gets its own warp. Every drawn value is
rounded to float16, so that the weights are stored exactly in half the space. It stores, under
``<case>/``: ``spec`` (the builder's arguments, JSON), ``weights/<name>`` (torch's state_dict,
float16), ``input`` (float16-exact images), ``logits32`` / ``logits64`` (the module's eval-mode
output in float32 and in float64) and, for models with a transformer, ``sampled32`` (the
transformer's output V in float32).

To keep the file small the models are built with hidden width 16 on 12 x 12 (FCN family) and
18 x 18 (CNN family) images: the bridge has no width- or size-dependent code (and on inputs
this small the matched width of an ST-CNN would collapse to 1, leaving constant logits). The script
also checks every zoo model at its default size (28 x 28 and 42 x 42, default widths) against
stn_np directly and prints the worst float32 relative error (max |a - b| / max |b|).
"""

import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

import stn_np  # noqa: E402
from stn_np.interop import from_torch, to_torch  # noqa: E402
from stn_np.nn.models import MODELS, zoo  # noqa: E402
from stn_np.sampling.families import get_family  # noqa: E402

OUT = os.path.join(HERE, "interop_reference.npz")
BATCH = 4


def cases():
    """(case name, builder keyword arguments) for every zoo pair, small, plus a down-sampling one."""
    out = []
    for model, transform in zoo():
        spec = {"model": model, "input_size": 12 if "fcn" in model else 18, "hidden": 16}
        if transform is not None:
            spec["transform"] = transform
        out.append((f"{model}-{transform or 'none'}", spec))
    out.append(("st-fcn-projective-downsample",
                {"model": "st-fcn", "input_size": 12, "hidden": 16, "transform": "projective", "transformer_size": 8}))
    return out


def build(spec):
    kwargs = {k: v for k, v in spec.items() if k not in ("model", "input_size")}
    return MODELS[spec["model"]](spec["input_size"], **kwargs)


def draw_weights(module, model, generator):
    """Overwrite ``module``'s parameters with float16-exact torch draws (see the module docstring)."""
    identity = None
    if model.transformer is not None:
        identity = get_family(model.transformer.transform).identity(
            control_points=model.transformer.control_points).reshape(-1)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float64)
            if name == "transformer.regressor.weight":
                value = 0.05 * noise / np.sqrt(p.shape[1])
            elif name == "transformer.regressor.bias":
                value = torch.from_numpy(identity) + 0.05 * noise
            elif name.endswith("bias"):
                value = 0.1 * noise
            else:
                value = noise / np.sqrt(np.prod(p.shape[1:]))
            p.copy_(value.half().to(p.dtype))


def relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def main():
    generator = torch.Generator().manual_seed(2015)
    rng = np.random.default_rng(2015)
    arrays = {"torch_version": np.array(torch.__version__)}
    names = []
    for name, spec in cases():
        stn_np.manual_seed(0)
        model = build(spec)
        module = to_torch(model)
        draw_weights(module, model, generator)
        module.eval()
        size = spec["input_size"]
        x = rng.random((BATCH, 1, size, size)).astype(np.float16).astype(np.float32)
        with torch.no_grad():
            logits32 = module(torch.from_numpy(x)).numpy()
            sampled32 = None if model.transformer is None else module.transformer(torch.from_numpy(x)).numpy()
            logits64 = module.double()(torch.from_numpy(x.astype(np.float64))).numpy()
        arrays[f"{name}/spec"] = np.array(json.dumps(spec))
        arrays[f"{name}/input"] = x.astype(np.float16)
        arrays[f"{name}/logits32"] = logits32
        arrays[f"{name}/logits64"] = logits64
        if sampled32 is not None:
            arrays[f"{name}/sampled32"] = sampled32
        for key, value in module.state_dict().items():
            arrays[f"{name}/weights/{key}"] = value.numpy().astype(np.float16)
        # the stn_np side agrees before anything is stored
        from_torch(module.float(), like=model)
        model.eval()
        print(f"{name:32s} float32 relative error {relative(model(x).numpy(), logits32):.1e}")
        names.append(name)
    arrays["cases"] = np.array(names)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1024:.0f} KiB)")

    worst = 0.0
    for size in (28, 42):
        for model_name, transform in zoo():
            stn_np.manual_seed(0)
            model = MODELS[model_name](size, **({} if transform is None else {"transform": transform}))
            module = to_torch(model)
            draw_weights(module, model, generator)
            from_torch(module, like=model)
            model.eval()
            module.eval()
            x = rng.random((8, 1, size, size), dtype=np.float32)
            with torch.no_grad():
                ref = module(torch.from_numpy(x)).numpy()
            worst = max(worst, relative(model(x).numpy(), ref))
    print(f"every zoo model at 28x28 and 42x42, default widths: worst float32 relative error {worst:.1e}")


if __name__ == "__main__":
    main()
