"""The bridge to PyTorch (stn_np.interop), tested WITHOUT torch.

``data/interop_reference.npz`` holds, for every (model, transform) pair of the zoo, the weights
of a ``to_torch`` module drawn by torch, an input batch and torch's eval-mode outputs in float32
and float64 (regenerate with ``data/make_interop_reference.py``, which also checks the default
sizes). Loading those torch-named weights into the stn_np model must reproduce torch's outputs:
this holds the parameter names, the layer order and every grid generator of the bridge to
stn_np's. The no-torch path is tested by hiding torch from the import system.
"""

import json
import os
import sys

import numpy as np
import pytest

from stn_np import interop, nn
from stn_np.nn.models import MODELS, zoo
from stn_np.sampling.families import PARAMETRIC

REFERENCE = np.load(os.path.join(os.path.dirname(__file__), "data", "interop_reference.npz"), allow_pickle=False)
CASES = [str(name) for name in REFERENCE["cases"]]


def case(name):
    spec = json.loads(str(REFERENCE[f"{name}/spec"]))
    kwargs = {k: v for k, v in spec.items() if k not in ("model", "input_size")}
    model = MODELS[spec["model"]](spec["input_size"], **kwargs)
    prefix = f"{name}/weights/"
    weights = {k[len(prefix):]: REFERENCE[k].astype(np.float32) for k in REFERENCE.files if k.startswith(prefix)}
    return spec, model, weights, REFERENCE[f"{name}/input"].astype(np.float32)


def relative(a, b):
    """max |a - b| / max |b|: the error relative to the output's scale."""
    return np.abs(a - b).max() / np.abs(b).max()


def test_the_reference_covers_every_zoo_model_and_every_family_has_a_torch_grid():
    covered = {(s["model"], s.get("transform")) for s in (json.loads(str(REFERENCE[f"{c}/spec"])) for c in CASES)}
    assert set(zoo()) <= covered
    assert set(interop.TORCH_GRIDS) == set(PARAMETRIC)
    assert str(REFERENCE["torch_version"]).startswith("2.")


@pytest.mark.parametrize("name", CASES)
def test_torch_weights_load_by_name_and_reproduce_torch_outputs(name):
    spec, model, weights, x = case(name)
    assert list(weights) == list(model.state_dict()), "torch's state_dict keys are the stn_np names, in order"
    assert interop.load_torch_state_dict(model, weights) is model
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, weights[key])
    model.eval()
    logits = model(x).numpy()
    assert logits.dtype == np.float32
    assert relative(logits, REFERENCE[f"{name}/logits32"]) <= 1e-5
    # the outputs depend on the input (a model collapsed to constant logits would test nothing)
    assert REFERENCE[f"{name}/logits32"].std(axis=0).mean() > 1e-3
    if model.transformer is not None:
        sampled = model.transformer(x).numpy()
        assert sampled.shape == REFERENCE[f"{name}/sampled32"].shape
        assert relative(sampled, REFERENCE[f"{name}/sampled32"]) <= 1e-5
        theta = model.transformer.last_theta.reshape(len(x), -1)
        assert theta.std(axis=0).max() > 1e-3, "each sample gets its own warp"
    # float64: the same arithmetic to rounding
    model.astype(np.float64)
    logits64 = model(x.astype(np.float64)).numpy()
    assert relative(logits64, REFERENCE[f"{name}/logits64"]) <= 1e-10


def test_loading_refuses_foreign_names_shapes_and_dtypes_and_loads_nothing():
    _, model, weights, _ = case("st-cnn-affine")
    before = {k: v.copy() for k, v in model.state_dict().items()}
    renamed = dict(weights)
    renamed["transformer.loc.0.weight"] = renamed.pop("transformer.localization.0.weight")
    with pytest.raises(ValueError, match="transformer.localization.0.weight"):
        interop.load_torch_state_dict(model, renamed)
    reshaped = dict(weights, **{"classifier.0.bias": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="classifier.0.bias"):
        interop.load_torch_state_dict(model, reshaped)
    doubled = {k: v.astype(np.float64) for k, v in weights.items()}
    with pytest.raises(ValueError, match="dtype"):
        interop.load_torch_state_dict(model, doubled)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(TypeError, match="load_torch_state_dict: model: expected an stn_np Module"):
        interop.load_torch_state_dict(weights, weights)


class _TensorLike:
    """What load_torch_state_dict reads from a torch tensor: detach().cpu().numpy()."""

    def __init__(self, array):
        self.array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


def test_tensors_are_read_through_detach_cpu_numpy():
    _, model, weights, _ = case("fcn-none")
    interop.load_torch_state_dict(model, {k: _TensorLike(v) for k, v in weights.items()})
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, weights[key])


@pytest.fixture
def no_torch(monkeypatch):
    """Make ``import torch`` fail as it does where torch is not installed."""
    monkeypatch.setitem(sys.modules, "torch", None)


@pytest.mark.parametrize("function", ["to_torch", "from_torch"])
def test_without_torch_both_functions_raise_one_clear_import_error(no_torch, function):
    model = MODELS["st-cnn"](28)
    with pytest.raises(ImportError) as error:
        if function == "to_torch":
            interop.to_torch(model)
        else:
            interop.from_torch(object(), model)
    message = str(error.value)
    assert message.startswith(f"stn_np.interop.{function} needs PyTorch, which is not installed")
    assert "pip install torch" in message and error.value.__cause__ is None


def test_importing_the_bridge_and_the_library_does_not_import_torch(no_torch):
    import importlib

    importlib.reload(interop)  # with torch unimportable, the module still imports
    assert callable(interop.to_torch) and isinstance(nn.models.count_params(MODELS["fcn"](28)), int)
