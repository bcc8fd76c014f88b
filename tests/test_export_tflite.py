"""LiteRT export: the four variants, NME-judged quantisation, metadata, streaming tracker."""
import os

import numpy as np
import pytest

import zoo.export
from export_contract import tiny_detector, tiny_step_model
from zoo.export import signatures


@pytest.fixture(scope="module")
def model():
    return tiny_detector()


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def test_float32_parity_and_metadata(model, tmp_path):
    result = zoo.export.export_tflite(model, tmp_path / "m.tflite")
    assert max(result.parity["batch2"].values()) < 1e-4
    metadata = zoo.export.read_metadata(result.path)
    assert metadata["quantization"] == "float32"
    assert metadata["input_size"] == 32 and metadata["num_landmarks"] == 5
    # Named signature with a uint8 image input, run with ai_edge_litert.
    interpreter = zoo.export.tflite.make_interpreter(result.path)
    runner = interpreter.get_signature_runner("serving_default")
    assert runner.get_input_details()["images"]["dtype"] == np.uint8
    assert sorted(runner.get_output_details()) == ["landmarks", "scores"]


@pytest.mark.parametrize("quantization", ["float16", "dynamic_int8", "int8"])
def test_quantized_variants_are_judged_by_nme(model, tmp_path, quantization):
    calibration = [{"images": _images(1, 100 + i)} for i in range(16)]
    eval_inputs = {"images": _images(8, 7)}
    io = signatures.describe(model)
    # Ground truth for the NME check: a fixed perturbation of the Keras predictions.
    target = signatures.keras_reference(model, io, eval_inputs)["landmarks"] + 0.5
    result = zoo.export.export_tflite(
        model, tmp_path / f"{quantization}.tflite", quantization=quantization,
        representative_data=calibration if quantization == "int8" else None,
        eval_data=(eval_inputs, target), max_nme_increase=0.05)
    nme = result.parity["nme"]
    assert nme["nme_reference"] > 0
    assert nme["nme_increase"] == pytest.approx(nme["nme_candidate"] - nme["nme_reference"])
    assert zoo.export.read_metadata(result.path)["quantization"] == quantization


def test_int8_refused_when_nme_bar_fails(model, tmp_path):
    calibration = [{"images": _images(1, 200 + i)} for i in range(8)]
    with pytest.raises(zoo.export.ParityError, match="NME points"):
        zoo.export.export_tflite(model, tmp_path / "bad.tflite", quantization="int8",
                                 representative_data=calibration, max_nme_increase=-1.0)
    assert os.listdir(tmp_path) == []


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="Received: quantization="):
        zoo.export.export_tflite(model, tmp_path / "a.tflite", quantization="int4")
    with pytest.raises(ValueError, match="Received: representative_data=None"):
        zoo.export.export_tflite(model, tmp_path / "a.tflite", quantization="int8")
    (tmp_path / "exists.tflite").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        zoo.export.export_tflite(model, tmp_path / "exists.tflite")
    assert (tmp_path / "exists.tflite").read_bytes() == b"x"


def test_streaming_step_model_tracks_30_frames_like_keras(tmp_path):
    step = tiny_step_model()
    result = zoo.export.export_tflite(step, tmp_path / "tracker.tflite")
    assert zoo.export.read_metadata(result.path)["kind"] == "tracker_step"
    runner = zoo.export.StreamingRunner(result.path, num_threads=1)
    assert sorted(runner.pairs.items()) == [("state_x", "new_state_x"),
                                            ("state_y", "new_state_y")]
    io = signatures.describe(step)
    frames = _images(30, 9)
    state = {"state_x": np.zeros((1, 5, 16), "float32"), "state_y": np.zeros((1, 5, 16), "float32")}
    for t in range(30):
        reference = signatures.keras_reference(step, io, {"frame": frames[t:t + 1], **state})
        got = runner.step(frames[t])
        np.testing.assert_allclose(got["landmarks"], reference["landmarks"], atol=1e-2, rtol=0)
        np.testing.assert_allclose(got["new_state_x"], reference["new_state_x"], atol=1e-4, rtol=0)
        state = {"state_x": reference["new_state_x"], "state_y": reference["new_state_y"]}
    # The state really carries over: a reset changes the next prediction.
    before = runner.step(frames[0])["landmarks"]
    runner.reset()
    after = runner.step(frames[0])["landmarks"]
    assert np.abs(before - after).max() > 1e-3


def _decoder_model():
    """A tiny detector whose landmarks come from the real ``zoo.layers.HeatmapDecoder``."""
    import keras

    import zoo.codecs
    import zoo.layers

    keras.utils.set_random_seed(3)
    images = keras.Input((32, 32, 3), name="images")
    h = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(images)
    h = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    heatmaps = {k: keras.layers.Reshape((5, 64))(keras.layers.Dense(5 * 64, activation="sigmoid")(h))
                for k in ("x", "y")}
    codec = zoo.codecs.Heatmap1DCodec(input_size=32, heatmap_size=64, sigma=2.0)
    decoded = zoo.layers.HeatmapDecoder(codec, name="decoder")(heatmaps)
    return keras.Model(images, {"landmarks": decoded["landmarks"], "scores": decoded["scores"],
                                **heatmaps})


def _op_dtypes(data, pattern):
    """Output dtypes of the ops whose output tensor name matches ``pattern`` (and the rest)."""
    import re

    interpreter = zoo.export.tflite.make_interpreter(data)
    matched, other = set(), set()
    for op in interpreter._get_ops_details():
        for index in op["outputs"]:
            detail = interpreter._get_tensor_details(index, 0)
            (matched if re.search(pattern, detail["name"]) else other).add(
                np.dtype(detail["dtype"]).name)
    return matched, other


def test_int8_keeps_heatmap_decode_in_float32(tmp_path):
    model = _decoder_model()
    assert zoo.export.tflite.decode_float_layers(model) == ["decoder"]
    calibration = [{"images": _images(1, 300 + i)} for i in range(16)]
    mixed = zoo.export.tflite.convert(model, "int8", calibration)
    decode, body = _op_dtypes(mixed, r"/decoder(_\d+)?/")
    # The whole decode is in the file, computed in float32 (no int8 tensor), while the
    # network body stays int8.
    assert decode and "int8" not in decode and "float32" in decode
    assert "int8" in body
    everything = zoo.export.tflite.convert(model, "int8", calibration, float_layers=())
    decode, _ = _op_dtypes(everything, r"/decoder(_\d+)?/")
    assert "int8" in decode
    # The mixed file's landmarks follow Keras (same decode, only the heatmaps quantised).
    inputs = {"images": _images(8, 11)}
    reference = signatures.keras_reference(model, signatures.describe(model), inputs)
    got = zoo.export.run_tflite(mixed, inputs)
    assert np.isfinite(got["landmarks"]).all()
    assert np.abs(got["landmarks"] - reference["landmarks"]).mean() < 2.0


def test_float_layers_arguments(tmp_path):
    model = _decoder_model()
    calibration = [{"images": _images(1, 400 + i)} for i in range(4)]
    with pytest.raises(ValueError, match="Received: float_layers='decoder'"):
        zoo.export.tflite.convert(model, "int8", calibration, float_layers="decoder")
    with pytest.raises(ValueError, match="Received: float_layers=\\['no_such_layer'\\]"):
        zoo.export.tflite.convert(model, "int8", calibration, float_layers=["no_such_layer"])
