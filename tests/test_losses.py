"""Eq. 11: squared error summed over landmarks, bins and stacks, averaged over the batch."""
import keras
import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.losses


def _numpy_eq_11(target, prediction):
    # sum_s sum_n ||h_sn - h*_n||^2 per sample; the target is shared by the S stacks.
    return ((prediction - target[:, None]) ** 2).reshape(len(target), -1).sum(axis=1)


def test_broadcasts_target_over_stacks_and_sums():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(3, 4, 10)).astype("float32")
    prediction = rng.normal(size=(3, 2, 4, 10)).astype("float32")
    got = np.asarray(zoo.losses.heatmap_regression_loss(target, prediction))
    np.testing.assert_allclose(got, _numpy_eq_11(target, prediction), rtol=1e-5)
    # 2D layout (B, H, W, N) with stacks (B, S, H, W, N).
    target_2d = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    prediction_2d = rng.normal(size=(2, 4, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(zoo.losses.heatmap_regression_loss(target_2d, prediction_2d)),
        _numpy_eq_11(target_2d, prediction_2d), rtol=1e-5)


def test_same_rank_targets_and_bad_rank():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5))
    np.testing.assert_allclose(np.asarray(zoo.losses.heatmap_regression_loss(a, b)),
                               ((a - b) ** 2).sum(axis=(1, 2, 3)), rtol=1e-5)
    with pytest.raises(ValueError, match="Received: y_true.shape="):
        zoo.losses.heatmap_regression_loss(np.zeros((2, 3)), np.zeros((2, 1, 1, 3)))


def test_model_loss_is_eq_11_summed_over_axes_and_averaged_over_batch():
    model = zoo.models.build_aheat1d(num_landmarks=3, input_size=32, num_stacks=2, width=16,
                                     hourglass_depth=1, heatmap_length=16, head_channels=8,
                                     compress_steps=1)
    model.compile(optimizer="adam", loss=zoo.losses.detector_losses(model), jit_compile=False)
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    targets = {"x": rng.uniform(size=(4, 3, 16)).astype("float32"),
               "y": rng.uniform(size=(4, 3, 16)).astype("float32")}
    result = model.evaluate(images, targets, batch_size=4, verbose=0, return_dict=True)
    outputs = {k: np.asarray(v) for k, v in model(images, training=False).items()}
    want = sum(_numpy_eq_11(targets[k], outputs[k]).mean() for k in ("x", "y"))
    np.testing.assert_allclose(result["loss"], want, rtol=1e-4)


def test_loss_serialises_and_detector_losses_names():
    loss = zoo.losses.HeatmapRegressionLoss(name="x_loss")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, zoo.losses.HeatmapRegressionLoss) and restored.name == "x_loss"
    assert sorted(zoo.losses.detector_losses(["x", "y"])) == ["x", "y"]
    with pytest.raises(ValueError, match="Received: model_or_outputs="):
        zoo.losses.detector_losses([])


# ----------------------------------------------------------------------------- zoo.losses


def test_tracking_loss_is_eq_14_and_lives_in_zoo_losses():
    import zoo.models.tracker

    rng = np.random.default_rng(3)
    target = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    prediction = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    # Eq. 14: sum over frames t, landmarks n and bins, one value per clip.
    want = ((prediction - target) ** 2).reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(np.asarray(zoo.losses.tracking_loss(target, prediction)), want,
                               rtol=1e-5)
    np.testing.assert_allclose(float(zoo.losses.TrackingLoss()(target, prediction)), want.mean(),
                               rtol=1e-5)
    assert zoo.models.tracker.TrackingLoss is zoo.losses.TrackingLoss  # older import path
    with pytest.raises(ValueError, match="Received: y_true.shape="):
        zoo.losses.tracking_loss(target[0], prediction)


def test_per_example_loss_sums_the_outputs_and_checks_keys():
    rng = np.random.default_rng(4)
    targets = {k: rng.normal(size=(2, 3, 8)).astype("float32") for k in "xy"}
    outputs = {k: rng.normal(size=(2, 2, 3, 8)).astype("float32") for k in "xy"}
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    loss_fn = zoo.losses.per_example_loss(zoo.losses.heatmap_losses(codec))
    want = sum(_numpy_eq_11(targets[k], outputs[k]) for k in "xy")
    np.testing.assert_allclose(np.asarray(loss_fn(targets, outputs)), want, rtol=1e-5)
    with pytest.raises(ValueError, match=r"Allowed: \['x', 'y'\]\. Received: targets.keys\(\)="
                                         r"\['x'\]"):
        loss_fn({"x": targets["x"]}, outputs)
    with pytest.raises(ValueError, match="Received: losses="):
        zoo.losses.per_example_loss({"x": "not callable"})
    assert sorted(zoo.losses.tracking_losses(zoo.codecs.Heatmap2DCodec(64, 16))) == ["heatmap"]


def test_keras_losses_train_with_targets_without_the_stack_axis():
    model = zoo.models.build_fan2d(num_landmarks=3, input_size=32, num_stacks=2, width=16,
                                   hourglass_depth=1, heatmap_size=8)
    codec = zoo.codecs.Heatmap2DCodec(32, 8)
    model.compile(optimizer="adam", jit_compile=False,
                  loss=zoo.losses.keras_losses(zoo.losses.heatmap_losses(codec)))
    rng = np.random.default_rng(5)
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    targets = {"heatmap": rng.uniform(size=(4, 8, 8, 3)).astype("float32")}
    result = model.evaluate(images, targets, batch_size=4, verbose=0, return_dict=True)
    outputs = np.asarray(model(images, training=False)["heatmap"])
    np.testing.assert_allclose(result["loss"], _numpy_eq_11(targets["heatmap"], outputs).mean(),
                               rtol=1e-4)
    loss = zoo.losses.PerExampleLoss(zoo.losses.heatmap_regression_loss, name="h")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, zoo.losses.PerExampleLoss) and restored.name == "h"
    assert restored.fn is zoo.losses.heatmap_regression_loss
