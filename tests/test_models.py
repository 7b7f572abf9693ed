"""The model zoo: FCN, CNN, ST-FCN and ST-CNN, layer by layer, counts worked out by hand, matched counts.

The CNN (the design of PyTorch's spatial transformer tutorial) on 42 x 42 inputs:
conv1 1->10 k5 (10*1*25 + 10 = 260), conv2 10->20 k5 (20*10*25 + 20 = 5020), fc1 980->50
(980*50 + 50 = 49050; 980 = 20 * 7 * 7 since 42 -conv5-> 38 -pool-> 19 -conv5-> 15 -pool-> 7),
fc2 50->10 (510): 54840 parameters.

The affine ST-CNN on 42 x 42: localisation conv 1->8 k7 (8*49 + 8 = 400), conv 8->10 k5
(10*8*25 + 10 = 2010), fc 490->32 (490*32 + 32 = 15712; 490 = 10 * 7 * 7 since 42 -conv7-> 36
-pool-> 18 -conv5-> 14 -pool-> 7), regressor 32->6 (198): 18320; classifier on 28 x 28 with
h hidden units: 260 + 5020 + (320 + 1) h + (h + 1) 10 (320 = 20 * 4 * 4 since 28 -> 24 -> 12 ->
8 -> 4). h = 94 gives 36404 and 54724 in all, 116 (0.21%) below the CNN; h = 95 would be 215 above.

The FCN on 28 x 28: 784*128 + 128 + 128*128 + 128 + 128*10 + 10 = 118282.
"""

import math

import numpy as np
import pytest

import stn_np
from stn_np import nn
from stn_np.nn import models
from stn_np.sampling.families import PARAMETRIC, get_family

CNN_42 = [
    ("classifier.0.weight", (10, 1, 5, 5)), ("classifier.0.bias", (10,)),
    ("classifier.3.weight", (20, 10, 5, 5)), ("classifier.3.bias", (20,)),
    ("classifier.8.weight", (50, 980)), ("classifier.8.bias", (50,)),
    ("classifier.11.weight", (10, 50)), ("classifier.11.bias", (10,)),
]
ST_CNN_42 = [
    ("transformer.localization.0.weight", (8, 1, 7, 7)), ("transformer.localization.0.bias", (8,)),
    ("transformer.localization.3.weight", (10, 8, 5, 5)), ("transformer.localization.3.bias", (10,)),
    ("transformer.localization.7.weight", (32, 490)), ("transformer.localization.7.bias", (32,)),
    ("transformer.regressor.weight", (6, 32)), ("transformer.regressor.bias", (6,)),
    ("classifier.0.weight", (10, 1, 5, 5)), ("classifier.0.bias", (10,)),
    ("classifier.3.weight", (20, 10, 5, 5)), ("classifier.3.bias", (20,)),
    ("classifier.8.weight", (94, 320)), ("classifier.8.bias", (94,)),
    ("classifier.11.weight", (10, 94)), ("classifier.11.bias", (10,)),
]
FCN_28 = [
    ("classifier.1.weight", (128, 784)), ("classifier.1.bias", (128,)),
    ("classifier.3.weight", (128, 128)), ("classifier.3.bias", (128,)),
    ("classifier.5.weight", (10, 128)), ("classifier.5.bias", (10,)),
]
CNN_LAYERS = ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "Dropout2d", "MaxPool2d", "ReLU", "Flatten", "Linear", "ReLU",
              "Dropout", "Linear"]
FCN_LAYERS = ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"]


def shapes(model):
    return [(name, p.shape) for name, p in model.named_parameters()]


def count(model):
    return sum(p.size for p in model.parameters())


def test_cnn_on_42_matches_the_reference_layer_by_layer():
    model = models.cnn(42)
    assert shapes(model) == CNN_42
    assert count(model) == models.count_params(model) == 260 + 5020 + 49050 + 510 == 54840
    assert [type(m).__name__ for m in model.classifier] == CNN_LAYERS
    assert model.classifier[4].p == 0.5 and model.classifier[10].p == 0.5
    assert model.classifier[1].kernel_size == (2, 2) and model.classifier[5].kernel_size == (2, 2)
    assert model.transformer is None and model.hidden == 50


def test_st_cnn_on_42_matches_the_reference_layer_by_layer():
    model = models.st_cnn(42)
    assert shapes(model) == ST_CNN_42
    assert count(model) == 18320 + 260 + 5020 + 321 * 94 + 95 * 10 == 54724
    st = model.transformer
    assert isinstance(st, nn.SpatialTransformer) and st.transform == "affine" and st.out_size == (28, 28)
    assert [type(m).__name__ for m in st.localization] == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "MaxPool2d",
                                                           "ReLU", "Flatten", "Linear", "ReLU"]
    assert [type(m).__name__ for m in model.classifier] == CNN_LAYERS
    np.testing.assert_array_equal(st.regressor.weight.data, 0)
    np.testing.assert_array_equal(st.regressor.bias.data, [1, 0, 0, 0, 1, 0])
    # the ST-CNN before the zoo matched counts: the CNN's 50 hidden units, 40160 parameters
    assert count(models.st_cnn(42, hidden=50)) == 18320 + 21840 == 40160


def test_fcn_and_st_fcn_layer_by_layer():
    model = models.fcn(28)
    assert shapes(model) == FCN_28 and count(model) == 118282
    assert [type(m).__name__ for m in model.classifier] == FCN_LAYERS
    st = models.st_fcn(28, transform="tps")
    assert [type(m).__name__ for m in st.transformer.localization] == ["Flatten", "Linear", "ReLU", "Linear", "ReLU"]
    assert st.transformer.localization[1].weight.shape == (32, 784)
    assert st.transformer.regressor.weight.shape == (32, 32)  # 16 control points x (dx, dy)
    assert [type(m).__name__ for m in st.classifier] == FCN_LAYERS
    assert st.classifier[1].weight.shape == (st.hidden, 784) and st.classifier[3].weight.shape == (st.hidden,) * 2


@pytest.mark.parametrize("kind", models.KINDS)
@pytest.mark.parametrize("size, hidden", [(28, 1), (28, 50), (42, 94), (60, 7)])
def test_closed_form_counts_equal_the_built_layers(kind, size, hidden):
    build = models.fcn if kind == "fcn" else models.cnn
    assert models.classifier_params(kind, size, hidden) == count(build(size, hidden=hidden))


@pytest.mark.parametrize("size", [28, 42, 60])  # R, P, E; RTS; TC
@pytest.mark.parametrize("name, transform", [pair for pair in models.zoo() if pair[1] is not None])
def test_every_st_model_has_its_baselines_count_within_one_percent(name, transform, size):
    model = models.build_model(name, size, transform)
    baseline = count(models.build_model(name.removeprefix("st-"), size))
    assert abs(count(model) - baseline) <= 0.01 * baseline
    # and no other width comes closer
    for other in (model.hidden - 1, model.hidden + 1):
        if other >= 1:
            kwargs = {"transform": transform, "hidden": other}
            assert abs(count(models.MODELS[name](size, **kwargs)) - baseline) >= abs(count(model) - baseline)


def test_matched_hidden_searches_the_closed_form():
    # classifier_params("cnn", 28, h) = 5290 + 331 h: the target 5290 + 331 * 10 + 100 is nearest h = 10
    assert models.matched_hidden("cnn", 5290 + 3310 + 100, 0, 28) == 10
    assert models.matched_hidden("cnn", 5290 + 3310 + 200, 0, 28) == 11
    assert models.matched_hidden("cnn", 10, 0, 28) == 1  # nothing small enough: the smallest width


@pytest.mark.parametrize("name, transform", [pair for pair in models.zoo() if pair[1] is not None])
def test_every_st_model_starts_at_the_identity_of_its_family(name, transform):
    model = models.build_model(name, 28, transform)
    st = model.transformer
    assert st.transform == transform
    np.testing.assert_array_equal(st.regressor.weight.data, 0)
    np.testing.assert_array_equal(st.regressor.bias.data, get_family(transform).identity(
        control_points=st.control_points).reshape(-1))
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    # 28 -> 28: the identity grid samples the input, up to float32 rounding of PyTorch's own identity grid and
    # unnormalisation (a few ulps of a pixel, as in tests/test_spatial_transformer.py's IDENTITY_ATOL)
    np.testing.assert_allclose(st(x).numpy(), x, atol=4e-6)
    assert model(x).shape == (3, 10)


def test_zoo_lists_the_baselines_then_every_registered_family():
    assert models.zoo() == ([("fcn", None), ("cnn", None)] + [("st-fcn", t) for t in PARAMETRIC]
                            + [("st-cnn", t) for t in PARAMETRIC])
    assert models.zoo(("tps",)) == [("fcn", None), ("cnn", None), ("st-fcn", "tps"), ("st-cnn", "tps")]
    with pytest.raises(ValueError, match="zoo: transform: expected one of"):
        models.zoo(("dense",))  # not parametric: no regressor can predict a dense field


@pytest.mark.parametrize("size, cls_features, loc_features, st_size", [
    (28, 20 * 4 * 4, 10 * 3 * 3, 28),      # R, P, E: 28 -> 24 -> 12 -> 8 -> 4;  28 -> 22 -> 11 -> 7 -> 3
    (42, 20 * 7 * 7, 10 * 7 * 7, 28),      # RTS
    (60, 20 * 12 * 12, 10 * 11 * 11, 28),  # TC: 60 -> 56 -> 28 -> 24 -> 12;  60 -> 54 -> 27 -> 23 -> 11
])
def test_other_canvases_follow_the_flatten_sizes(size, cls_features, loc_features, st_size):
    assert models.classifier_features(size) == cls_features
    assert models.localization_features(size) == loc_features
    x = np.zeros((2, 1, size, size), np.float32)
    cnn = models.cnn(size)
    assert cnn.classifier[8].in_features == cls_features and cnn(x).shape == (2, 10)
    st = models.st_cnn(size)
    assert st.transformer.localization[7].in_features == loc_features
    assert st.transformer.out_size == (st_size, st_size)
    assert st.classifier[8].in_features == models.classifier_features(st_size)
    assert st(x).shape == (2, 10)
    assert models.st_fcn(size)(x).shape == (2, 10) and models.fcn(size)(x).shape == (2, 10)


def test_localization_output_size_and_lr_mult_stay_configurable():
    model = models.st_cnn(42, transformer_size=36)
    assert model.transformer.out_size == (36, 36) and model.classifier[8].in_features == 20 * 6 * 6
    assert models.st_cnn(20).transformer.out_size == (20, 20)  # never up-samples by default
    loc = nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(21 * 21, 8), nn.ReLU())
    custom = models.st_fcn(42, transform="attention", localization=loc, loc_features=8, lr_mult=0.1)
    assert custom.transformer.localization is loc and custom.transformer.regressor.weight.shape == (3, 8)
    baseline = count(models.fcn(42))
    assert abs(count(custom) - baseline) <= 0.01 * baseline  # matched around the given localisation too
    groups = custom.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)] and len(groups[1]["params"]) == 4
    with pytest.raises(ValueError, match="st_fcn: loc_features: expected the number of features"):
        models.st_fcn(42, localization=loc)
    with pytest.raises(ValueError, match="st_cnn: loc_features: expected None unless a localization"):
        models.st_cnn(42, loc_features=8)


def test_small_inputs_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="input_size"):
        models.cnn(12)
    with pytest.raises(ValueError, match="input_size"):
        models.st_cnn(16)
    with pytest.raises(ValueError, match="transformer_size"):
        models.st_cnn(42, transformer_size=0)
    with pytest.raises(ValueError, match="st_cnn: transform: expected one of 'affine'"):
        models.st_cnn(42, transform="dense")
    with pytest.raises(ValueError, match="fcn: hidden: expected"):
        models.fcn(28, hidden=0)
    with pytest.raises(TypeError):
        models.st_cnn(42, None)  # everything after input_size is keyword-only


def test_pytorch_default_initialisation_bounds_and_seeding():
    stn_np.manual_seed(5)
    a = models.st_cnn(42)
    for name, p in a.named_parameters():
        if name.startswith("transformer.regressor"):
            continue
        fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else None
        if fan_in is None:  # a bias: the bound of its layer's weight
            weight = dict(a.named_parameters())[name.replace("bias", "weight")]
            fan_in = int(np.prod(weight.shape[1:]))
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.5 * bound, name
        assert p.dtype == np.float32
    stn_np.manual_seed(5)
    b = models.st_cnn(42)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_dtype_option_and_forward_modes():
    model = models.st_cnn(28, dtype=np.float64)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    x = np.random.default_rng(0).random((3, 1, 28, 28))
    model.eval()
    first, second = model(x).numpy(), model(x).numpy()
    np.testing.assert_array_equal(first, second)  # no dropout in eval mode
    model.train()
    assert not np.array_equal(model(x).numpy(), first)  # dropout is active in training


def test_build_model_names_transforms_and_param_groups():
    model = models.build_model("st-cnn", 42, lr_mult=0.1)
    assert model.transformer.transform == "affine"  # the default transform
    groups = model.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    assert [len(g["params"]) for g in groups] == [8, 8]
    assert len(models.build_model("cnn", 28).param_groups(0.5)) == 1
    assert set(models.MODELS) == {"fcn", "cnn", "st-fcn", "st-cnn"}
    assert models.build_model("st-fcn", 28, "projective").transformer.regressor.weight.shape == (8, 32)
    assert [models.has_transformer(name) for name in models.MODELS] == [False, False, True, True]
    with pytest.raises(ValueError, match="build_model: model: expected one of"):
        models.build_model("resnet", 42)
    with pytest.raises(ValueError, match="build_model: transform: expected no transform for model 'cnn'"):
        models.build_model("cnn", 42, "tps")
    assert models.check_model("st-cnn") == "affine" and models.check_model("fcn") is None


def test_build_model_rebuilds_the_width_a_state_dict_holds():
    old = models.st_cnn(42, hidden=50)  # the ST-CNN of checkpoints written before the zoo
    rebuilt = models.build_model("st-cnn", 42, state=old.state_dict())
    assert rebuilt.hidden == 50 and shapes(rebuilt) == shapes(old)
    rebuilt.load_state_dict(old.state_dict())
    assert models.build_model("fcn", 28, state=models.fcn(28, hidden=7).state_dict()).hidden == 7
    with pytest.raises(ValueError, match="build_model: state: expected the weights of a 'cnn' model"):
        models.build_model("cnn", 28, state={})


def test_parameter_table_prints_every_zoo_model_and_the_readme_states_it():
    table = models.parameter_table()
    lines = table.splitlines()
    assert lines[0] == "| model | transform | 28 x 28 | 42 x 42 |" and len(lines) == 2 + len(models.zoo())
    assert "| st-cnn | affine | 21,733 (hidden 33, -0.49%) | 54,724 (hidden 94, -0.21%) |" in lines
    assert "| cnn | — | 21,840 (hidden 50) | 54,840 (hidden 50) |" in lines
    with open(__file__.replace("tests/test_models.py", "README.md"), encoding="utf-8") as f:
        assert table in f.read(), "README's table of parameter counts is parameter_table()'s output"
