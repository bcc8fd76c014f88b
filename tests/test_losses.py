"""Eq. 11: squared error summed over landmarks, bins and stacks, averaged over the batch."""
import keras
import numpy as np
import pytest

import zoo
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
