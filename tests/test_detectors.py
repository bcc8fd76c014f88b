"""The aheat1d and fan2d detector builders and the inference model."""
import keras
import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.losses
from contract import run_model_test
from zoo.models.inference import make_inference_model

TINY_1D = {"num_landmarks": 5, "input_size": 32, "num_stacks": 1, "width": 16,
           "hourglass_depth": 1, "heatmap_length": 32, "head_channels": 8, "compress_steps": 1}
TINY_2D = {"num_landmarks": 5, "input_size": 32, "num_stacks": 1, "width": 16,
           "hourglass_depth": 1, "heatmap_size": 16}


def _images(batch, size, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_aheat1d_contract_with_eq_11_loss():
    model = zoo.models.build_aheat1d(**TINY_1D)
    run_model_test(model, _images(2, 32), loss=zoo.losses.detector_losses(model))


def test_fan2d_contract():
    model = zoo.models.build_fan2d(**TINY_2D)
    assert tuple(model.output["heatmap"].shape) == (None, 1, 16, 16, 5)
    run_model_test(model, _images(2, 32), loss=zoo.losses.detector_losses(model))


def test_every_stack_has_its_own_heads():
    model = zoo.models.build_aheat1d(**{**TINY_1D, "num_stacks": 3})
    outputs = model(_images(2, 32))
    assert tuple(outputs["x"].shape) == (2, 3, 5, 32) and tuple(outputs["y"].shape) == (2, 3, 5, 32)
    heads = [layer for layer in model.layers if isinstance(layer, zoo.layers.Heatmap1DHeads)]
    assert len(heads) == 3
    x = np.asarray(outputs["x"])
    assert np.abs(x[:, 0] - x[:, 1]).max() > 0 and np.abs(x[:, 1] - x[:, 2]).max() > 0
    # The 2D baseline stacks the same way.
    heatmap = zoo.models.build_fan2d(**{**TINY_2D, "num_stacks": 2})(_images(1, 32))["heatmap"]
    assert tuple(heatmap.shape) == (1, 2, 16, 16, 5)


def test_normalisation_happens_inside():
    model = zoo.models.build_aheat1d(**TINY_1D, normalization={"mean": [0.5] * 3,
                                                               "std": [0.25] * 3})
    layer = model.get_layer("normalize")
    out = np.asarray(layer(np.full((1, 2, 2, 3), 255.0, "float32")))
    np.testing.assert_allclose(out, 2.0, atol=1e-5)  # (1 - 0.5) / 0.25


def test_inference_model_decodes_the_last_stack():
    model = zoo.models.build_aheat1d(**{**TINY_1D, "num_stacks": 2})
    codec = zoo.codecs.Heatmap1DCodec(input_size=32, heatmap_size=32)
    inference = make_inference_model(model, codec=codec)
    images = _images(3, 32, seed=1)
    out = inference(images)
    assert tuple(out["landmarks"].shape) == (3, 5, 2) and tuple(out["scores"].shape) == (3, 5)
    training = model(images, training=False)
    np.testing.assert_allclose(np.asarray(out["x"]), np.asarray(training["x"])[:, -1], atol=1e-5)
    coords, scores = codec.decode({"x": training["x"][:, -1], "y": training["y"][:, -1]})
    np.testing.assert_allclose(np.asarray(out["landmarks"]), np.asarray(coords), atol=1e-4)
    np.testing.assert_allclose(np.asarray(out["scores"]), np.asarray(scores), atol=1e-5)


def test_inference_model_of_2d_detector_round_trips():
    model = zoo.models.build_fan2d(**TINY_2D)
    inference = make_inference_model(
        model, codec={"class_name": "Heatmap2DCodec",
                      "config": {"input_size": 32, "heatmap_size": 16}})
    run_model_test(inference, _images(2, 32), run_training=False, atol=1e-5)
    assert sorted(inference.output) == ["heatmap", "landmarks", "scores"]


def test_inference_model_of_non_preset_models_takes_the_registered_codec_of_its_outputs():
    # No preset or architecture of that name: the registry's codec of outputs {x, y}.
    inference = make_inference_model(zoo.models.build_aheat1d(**TINY_1D, name="not_a_preset"))
    codec = inference.get_layer("decoder").codec
    assert codec["class_name"] == "Heatmap1DCodec"
    assert codec["config"]["heatmap_size"] == TINY_1D["heatmap_length"]
    images = keras.Input((32, 32, 3))
    unknown = keras.Model(images, {"points": keras.layers.Conv2D(2, 1)(images)}, name="odd")
    with pytest.raises(ValueError, match=r"pass codec=\.\.\. .*Received: output_names=\[\]"):
        make_inference_model(unknown)


@pytest.mark.parametrize("override, match", [
    ({"heatmap_length": 20}, "Received: heatmap_length=20"),  # not a multiple of W = 8
    ({"gamma": -0.5}, "Received: gamma=-0.5"),
    ({"width": 20}, "Received: width=20"),
    ({"input_size": 36}, "Received: input_size=36"),
    ({"num_stacks": 0}, "Received: num_stacks=0"),
    ({"compress_steps": 4}, "Received: compress_steps=4"),
    ({"normalization": {"mean": [0.5]}}, "Received: normalization="),
])
def test_bad_aheat1d_config_raises(override, match):
    with pytest.raises(ValueError, match=match):
        zoo.models.build_aheat1d(**{**TINY_1D, **override})


def test_bad_fan2d_heatmap_size_raises():
    with pytest.raises(ValueError, match="Received: heatmap_size=12"):
        zoo.models.build_fan2d(**{**TINY_2D, "heatmap_size": 12})


def test_fan2d_heatmaps_come_from_full_width_features_at_heatmap_resolution():
    # L = 2 * F/4: the stack features are carried to L x L and FAN's head conv runs there.
    model = zoo.models.build_fan2d(**TINY_2D)
    assert tuple(model.get_layer("head0_upsample").output.shape) == (None, 16, 16, 16)
    assert tuple(model.get_layer("head0_relu").output.shape) == (None, 16, 16, 16)
    assert model.get_layer("heatmap_0").kernel.shape == (1, 1, 16, 5)
    # Bilinear carrying: the heatmap varies inside every 2x2 cell of the 8x8 feature grid
    # (a nearest-neighbour or per-cell head would repeat values there).
    heatmap = np.asarray(model(_images(1, 32), training=False)["heatmap"])[0, 0]
    cells = heatmap.reshape(8, 2, 8, 2, 5)
    assert np.abs(cells[:, 0] - cells[:, 1]).max() > 1e-6
    assert np.abs(cells[:, :, :, 0] - cells[:, :, :, 1]).max() > 1e-6


def test_fan2d_at_feature_resolution_is_fan_exactly():
    # L = F/4 (fan2d_300w): each stack adds only the 1x1 convolution to N heatmaps.
    model = zoo.models.build_fan2d(**{**TINY_2D, "heatmap_size": 8, "num_stacks": 2})
    names = [layer.name for layer in model.layers]
    assert not [n for n in names if n.startswith("head")]
    larger = zoo.models.build_fan2d(**{**TINY_2D, "num_stacks": 2})
    # The head conv (width x width, no bias) + BN (4 x width) per stack, nothing else.
    assert larger.count_params() - model.count_params() == 2 * (16 * 16 + 4 * 16)
