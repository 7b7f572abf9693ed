"""The pieces around the training loop: config validation, progress line, runtime settings, figures."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from stn_np.plotting.training import curves_figure, transformed_figure
from stn_np.training import (
    DEFAULT_DIGITS_SIZES,
    ProgressBar,
    TrainConfig,
    format_duration,
    get_blas_threads,
    keep_heap,
    set_blas_threads,
)


@pytest.mark.parametrize("field, value", [
    ("data", "cifar"), ("distortion", "RST"), ("model", "mlp"), ("optimizer", "rmsprop"),
    ("epochs", 0), ("epochs", 2.5), ("batch_size", -1), ("lr", 0), ("lr", float("nan")), ("loc_lr_mult", -1),
    ("momentum", -0.5), ("seed", -3), ("train_size", 0), ("test_size", True),
])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"^TrainConfig: {field}: expected "):
        TrainConfig(**{field: value})


def test_config_data_dir_rules_and_resolution(tmp_path):
    with pytest.raises(ValueError, match="^TrainConfig: data_dir: expected a folder with the four MNIST-layout "
                                         "files for data 'mnist', got None"):
        TrainConfig(data="mnist")
    with pytest.raises(ValueError, match="^TrainConfig: data_dir: expected None with data 'digits'"):
        TrainConfig(data_dir=str(tmp_path))
    files = TrainConfig(data="fashion-mnist", data_dir=tmp_path)
    assert files.data_dir == str(tmp_path) and files.resolved().train_size is None
    digits = TrainConfig(test_size=50).resolved()
    assert (digits.train_size, digits.test_size) == (DEFAULT_DIGITS_SIZES[0], 50)


def test_config_round_trip_and_differences():
    config = TrainConfig(lr=0.01, epochs=2)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown fields colour"):
        TrainConfig.from_dict(dict(config.to_dict(), colour="red"))
    other = TrainConfig(lr=0.02, epochs=9, seed=1)
    assert config.differences(other) == ["lr", "seed"]  # epochs may differ on resume


def test_progress_line_contents_and_plain_mode():
    stream = io.StringIO()
    bar = ProgressBar(8, "epoch 1/2", stream, tty=False)
    for done in range(1, 9):
        bar.update(done, 32, 1.5 / done, 0.1 * done)
    lines = stream.getvalue().splitlines()
    assert [line.split()[3] for line in lines] == ["2/8", "4/8", "6/8", "8/8"]
    assert lines[-1].startswith("epoch 1/2  batch 8/8  loss 0.1875  acc  80.0%") and lines[-1].endswith("ETA 0:00")
    assert "img/s" in lines[0]


def test_progress_rewrites_one_line_on_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(3, "epoch 1/1", stream, tty=True, min_interval=0.0)
    for done in range(1, 4):
        bar.update(done, 10, 1.0, 0.5)
    bar.close()
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") == 3 + 2 and "batch 3/3" in text  # 3 updates, 1 clearing
    assert text.endswith("\r")  # cleared, ready for the summary


def test_progress_of_a_resumed_epoch_starts_at_its_position():
    stream = io.StringIO()
    bar = ProgressBar(8, "epoch 2/2", stream, tty=False, start=5)
    for done in (6, 7, 8):
        bar.update(done, 32, 1.0, 0.5)
    assert [line.split()[3] for line in stream.getvalue().splitlines()] == ["6/8", "8/8"]


def test_format_duration():
    assert [format_duration(s) for s in (0, 59.6, 61, 3600, 7322)] == ["0:00", "1:00", "1:01", "1:00:00", "2:02:02"]


def test_runtime_settings():
    assert isinstance(keep_heap(), bool)
    with pytest.raises(ValueError, match="blas_threads"):
        set_blas_threads(0)
    before = get_blas_threads()
    if before is None:  # no OpenBLAS in this process: nothing to set, and the setter says so
        assert set_blas_threads(1) == 0
        return
    try:
        assert set_blas_threads(1) >= 1 and get_blas_threads() == 1
    finally:
        set_blas_threads(before)
    assert get_blas_threads() == before


def test_figures():
    history = [{"epoch": e, "train_loss": 2.0 / e, "train_accuracy": 0.3 * e, "test_accuracy": 0.31 * e, "seconds": 1.0}
               for e in (1, 2, 3)]
    figure = curves_figure(history, title="demo")
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    np.testing.assert_allclose(figure.axes[1].lines[1].get_ydata(), [31, 62, 93])
    inputs = np.random.default_rng(0).random((4, 1, 42, 42))
    figure = transformed_figure(inputs, inputs[:, :, :28, :28])
    assert len(figure.axes) == 8 and figure.axes[4].images[0].get_array().shape == (28, 28)
    for call, error, message in [
        (lambda: curves_figure([]), ValueError, "curves_figure: history: expected at least one epoch record, got none"),
        (lambda: curves_figure([{"epoch": 1}]), ValueError,
         "curves_figure: history: expected records with epoch, train_loss, train_accuracy, test_accuracy, got "
         "{'epoch': 1} at 0"),
        (lambda: curves_figure(None), TypeError, "curves_figure: history: expected a list of epoch records (dicts), got None"),
        (lambda: transformed_figure(inputs, inputs[:3]), ValueError,
         "transformed_figure: outputs: expected 4 images, one per input, got 3"),
        (lambda: transformed_figure(inputs[0, 0], inputs), ValueError,
         "transformed_figure: inputs: expected (N, 1, H, W) or (N, H, W) single-channel images, N >= 1, got shape (42, 42)"),
        (lambda: transformed_figure("abc", inputs), TypeError,
         "transformed_figure: inputs: expected real (integer or float) values, got dtype <U3"),
    ]:
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message
    # a metric written as null (a non-finite number in strict JSON) is a gap in the curve, not an error
    gap = [dict(history[0], train_loss=None)] + history[1:]
    assert np.isnan(curves_figure(gap).axes[0].lines[0].get_ydata()[0])
