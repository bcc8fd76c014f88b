"""What the export CLIs start from: presets, .keras files, SynthFace calibration/eval data."""
import subprocess
import sys

import numpy as np
import pytest

import zoo
import zoo.losses
from zoo.export import sources

TINY = dict(input_size=32, num_stacks=1, width=16, hourglass_depth=2, heatmap_length=64,
            head_channels=8, compress_steps=1)


def test_keras_file_becomes_inference_model_with_preset_metadata(tmp_path):
    path = str(tmp_path / "model.keras")
    zoo.create("aheat1d_mobile_300w", **TINY).save(path)
    model, metadata = sources.load(keras_file=path)
    assert sorted(model.output) == ["landmarks", "scores", "x", "y"]
    # The model keeps the preset's name, so its scheme/codec/normalisation travel along.
    assert metadata["preset"] == "aheat1d_mobile_300w" and metadata["scheme"] == "300w"
    assert metadata["input_size"] == 32 and metadata["kind"] == "detector"
    assert metadata["codec_config"]["config"]["input_size"] == 32  # the decoder in the model
    assert metadata["normalization"] == zoo.get_preset("aheat1d_mobile_300w").normalization


def test_keras_file_loads_in_a_fresh_process(tmp_path):
    # The export CLI starts from a .keras file in a process that has built no zoo model yet,
    # so the zoo's layers must be registered by the loader itself, and a trained model's
    # compiled zoo loss must not be needed.
    path = str(tmp_path / "model.keras")
    model = zoo.create("aheat1d_mobile_300w", **TINY)
    model.compile(optimizer="adam", loss=zoo.losses.detector_losses(model))
    model.save(path)
    code = ("import sys; from zoo.export import sources; "
            "model, metadata = sources.load(keras_file=sys.argv[1]); "
            "print(sorted(model.output), metadata['preset'])")
    result = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['landmarks', 'scores', 'x', 'y'] aheat1d_mobile_300w" in result.stdout


def test_load_needs_exactly_one_source():
    with pytest.raises(ValueError, match="Received: preset=None, keras_file=None"):
        sources.load()
    with pytest.raises(ValueError, match="Received: preset='a'"):
        sources.load(preset="a", keras_file="b.keras")


def test_quantization_data_is_held_out():
    model, metadata = sources.exportable_model(zoo.create("aheat1d_mobile_300w", **TINY))[0], None
    metadata = {"num_landmarks": 68}
    data = sources.quantization_data(model, metadata, "int8", num_calibration=3, num_eval=2)
    calibration = np.concatenate([d["images"] for d in data["representative_data"]])
    (inputs, landmarks) = data["eval_data"]
    assert calibration.shape == (3, 32, 32, 3) and inputs["images"].shape == (2, 32, 32, 3)
    assert landmarks.shape == (2, 68, 2)
    # Different seeds: no evaluation face is a calibration face.
    assert not any(np.array_equal(c, e) for c in calibration for e in inputs["images"])
    assert sources.quantization_data(model, metadata, "float32") == {}
