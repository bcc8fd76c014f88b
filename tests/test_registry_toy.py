"""A new architecture needs no library change: a toy builder, loss and codec, defined in this file
alone and registered through ``zoo.models.presets``, train through ``zoo.training.tasks.train``,
evaluate through ``zoo.evaluation.evaluate_run`` and export through ``zoo.export``."""
import keras
import numpy as np
import pytest
from keras import ops

import zoo
import zoo.codecs
import zoo.evaluation
import zoo.export
from export_contract import run_export_test
from zoo.codecs import base as codec_base
from zoo.export import signatures, sources
from zoo.models import presets
from zoo.training import config as config_lib
from zoo.training import tasks

ARCHITECTURE = "toy_points"
PRESET = "toy_points_300w"


class ToyPointCodec(codec_base.Codec):
    """Landmarks <-> coordinates in [0, 1] of the crop (direct regression, no heatmap)."""

    target_keys = ("points",)
    target_ranks = (3,)

    def __init__(self, input_size, num_landmarks=None):
        self.input_size = int(input_size)
        self.num_landmarks = num_landmarks

    def encode(self, landmarks):
        tf = codec_base.tf_module()
        landmarks = codec_base.check_landmarks(landmarks, self.num_landmarks)
        return {"points": tf.clip_by_value((landmarks + 0.5) / self.input_size, 0.0, 1.0)}

    def decode(self, outputs):
        points = codec_base.check_outputs(outputs, self.target_keys, self.target_ranks,
                                          "ToyPointCodec")["points"]
        return points * self.input_size - 0.5, ops.ones_like(points[..., 0])

    def count_landmarks(self, shapes):
        return shapes["points"][-2]

    def get_config(self):
        return {"input_size": self.input_size, "num_landmarks": self.num_landmarks}


def build_toy(num_landmarks=68, input_size=32, width=8, normalization=None, name="toy"):
    """Images -> ``{"points": (B, 1, N, 2)}`` in [0, 1] (one "stack")."""
    images = keras.Input((input_size, input_size, 3), name="images")
    x = keras.layers.Rescaling(1 / 255.0)(images)
    x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(num_landmarks * 2, activation="sigmoid")(x)
    return keras.Model(images, {"points": keras.layers.Reshape((1, num_landmarks, 2))(x)},
                       name=name)


def toy_loss(y_true, y_pred):
    """Per-example L1 over landmarks and coordinates (the target broadcast over the stack)."""
    y_true = ops.cast(y_true, y_pred.dtype)[:, None]
    return ops.sum(ops.abs(y_pred - y_true), axis=(1, 2, 3))


@pytest.fixture(scope="module")
def toy_registered():
    codec_base.register_codec(ToyPointCodec)
    presets.register_architecture(presets.Architecture(
        name=ARCHITECTURE, builder=build_toy, task="image",
        losses=lambda codec: {"points": toy_loss},
        codec={"class_name": "ToyPointCodec", "config": {}},
        tiny_config={"input_size": 32, "width": 4}))
    presets.register_preset(presets.Preset(
        name=PRESET, architecture=ARCHITECTURE, config={"num_landmarks": 68, "width": 8},
        input_size=32, normalization=dict(presets.IMAGENET_NORMALIZATION), scheme="300w",
        codec={"class_name": "ToyPointCodec", "config": {"input_size": 32}},
        description="A toy direct-regression architecture of the registry test."))
    yield
    presets._PRESETS.pop(PRESET)
    presets._ARCHITECTURES.pop(ARCHITECTURE)
    codec_base._REGISTRY.pop("ToyPointCodec")


@pytest.fixture(scope="module")
def toy_run(toy_registered, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("toy_run")
    config = config_lib.TrainConfig(
        model=PRESET, dataset="synthface", output_dir=str(output_dir), steps=4, batch_size=4,
        learning_rate=1e-2, num_synthetic=8, num_val=4, log_every=1, checkpoint_every=4,
        eval_every=0, image_every=0)
    result, resolved, codec = tasks.train(config, progress=False)
    return output_dir, result, resolved, codec


def test_toy_architecture_trains_through_the_recipe_path(toy_run):
    output_dir, result, resolved, codec = toy_run
    assert result.step == 4 and all(np.isfinite(h["loss"]) for h in result.history)
    assert isinstance(codec, ToyPointCodec) and codec.input_size == 32
    # Fields the toy architecture does not take stay unset in the written config.
    assert resolved.gamma is None and resolved.heatmap_length is None
    assert (output_dir / "config.json").exists()
    assert [e["step"] for e in result.evaluations] == [0, 4]
    assert all(0 < e["nme"] < 10 for e in result.evaluations)


def test_toy_architecture_evaluates(toy_run):
    output_dir, _, _, _ = toy_run
    report = zoo.evaluation.evaluate_run(str(output_dir), num_synthetic=4)
    row = report["subsets"]["synthface"]
    assert row["count"] == 4 and 0 < row["nme"] and report["step"] == 4


def test_toy_architecture_exports(toy_run):
    output_dir, _, _, _ = toy_run
    model, codec, _, _ = zoo.evaluation.load_run(str(output_dir))
    exported, kind = sources.exportable_model(model)
    assert kind == "detector"
    io = signatures.describe(exported)
    # The codec's output goes to the heatmaps endpoint, decoded landmarks to serving_default.
    assert io.endpoints == {"serving_default": ("landmarks", "scores"),
                            "heatmaps": ("points",)}
    images, _ = sources.synthface_set(32, 3, seed=1)
    results = run_export_test(exported, [{"images": images[:1]}, {"images": images[1:]}],
                              formats=("saved_model", "onnx"))
    assert results["saved_model"].metadata["codec_config"]["class_name"] == "ToyPointCodec"
