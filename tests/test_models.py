"""Model builders: the benchmark's CNN and ST-CNN, layer by layer, against counts worked out by hand.

The reference architecture (PyTorch's, as in the benchmark protocol) on 42 x 42 inputs:

CNN: conv1 1->10 k5 (10*1*25 + 10 = 260), conv2 10->20 k5 (20*10*25 + 20 = 5020),
fc1 980->50 (980*50 + 50 = 49050; 980 = 20 * 7 * 7 since 42 -conv5-> 38 -pool-> 19 -conv5-> 15
-pool-> 7), fc2 50->10 (510): 54840 parameters.

ST-CNN: localisation conv 1->8 k7 (8*49 + 8 = 400), conv 8->10 k5 (10*8*25 + 10 = 2010),
fc 490->32 (490*32 + 32 = 15712; 490 = 10 * 7 * 7 since 42 -conv7-> 36 -pool-> 18 -conv5-> 14
-pool-> 7), regressor 32->6 (198); classifier on 28 x 28: 260 + 5020 + (320*50 + 50 = 16050) + 510
(320 = 20 * 4 * 4 since 28 -> 24 -> 12 -> 8 -> 4): 18320 + 21840 = 40160 parameters.
"""

import math

import numpy as np
import pytest

import stn_np
from stn_np import nn
from stn_np.nn import models

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
    ("classifier.8.weight", (50, 320)), ("classifier.8.bias", (50,)),
    ("classifier.11.weight", (10, 50)), ("classifier.11.bias", (10,)),
]


def shapes(model):
    return [(name, p.shape) for name, p in model.named_parameters()]


def count(model):
    return sum(p.size for p in model.parameters())


def test_cnn_on_42_matches_the_reference_layer_by_layer():
    model = models.cnn(42)
    assert shapes(model) == CNN_42
    assert count(model) == 260 + 5020 + 49050 + 510 == 54840
    layers = [type(m).__name__ for m in model.classifier]
    assert layers == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "Dropout2d", "MaxPool2d", "ReLU",
                      "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert model.classifier[4].p == 0.5 and model.classifier[10].p == 0.5
    assert model.classifier[1].kernel_size == (2, 2) and model.classifier[5].kernel_size == (2, 2)


def test_st_cnn_on_42_matches_the_reference_layer_by_layer():
    model = models.st_cnn(42)
    assert shapes(model) == ST_CNN_42
    assert count(model) == 400 + 2010 + 15712 + 198 + 260 + 5020 + 16050 + 510 == 40160
    st = model.transformer
    assert isinstance(st, nn.SpatialTransformer) and st.transform == "affine" and st.out_size == (28, 28)
    assert [type(m).__name__ for m in st.localization] == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "MaxPool2d",
                                                           "ReLU", "Flatten", "Linear", "ReLU"]
    np.testing.assert_array_equal(st.regressor.weight.data, 0)
    np.testing.assert_array_equal(st.regressor.bias.data, [1, 0, 0, 0, 1, 0])


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


def test_transformer_size_and_small_inputs():
    model = models.st_cnn(42, transformer_size=36)
    assert model.transformer.out_size == (36, 36) and model.classifier[8].in_features == 20 * 6 * 6
    assert models.st_cnn(20).transformer.out_size == (20, 20)  # never up-samples by default
    with pytest.raises(ValueError, match="input_size"):
        models.cnn(12)
    with pytest.raises(ValueError, match="input_size"):
        models.st_cnn(16)
    with pytest.raises(ValueError, match="transformer_size"):
        models.st_cnn(42, transformer_size=0)


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


def test_param_groups_and_build_model():
    model = models.build_model("st-cnn", 42, lr_mult=0.1)
    groups = model.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    assert [len(g["params"]) for g in groups] == [8, 8]
    assert len(models.build_model("cnn", 28).param_groups(0.5)) == 1
    assert set(models.MODELS) == {"cnn", "st-cnn"}
    with pytest.raises(ValueError, match="model"):
        models.build_model("resnet", 42)
