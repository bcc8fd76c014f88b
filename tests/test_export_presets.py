"""Exports of the real model families: every registered architecture (its record's tiny config;
trackers as their streaming step model), the mobile preset at its real size (issue 7 bars), and
the mobile tracker preset streaming 30 frames in LiteRT.

The meta-test walks ``zoo.list_models()`` and shrinks each family with its architecture
record's ``tiny_config`` (``zoo.models.presets``), so no preset family skips the export checks.
"""
import numpy as np
import pytest

import zoo
import zoo.export
from export_contract import run_export_test
from zoo.export import signatures, sources
from zoo.models import presets

# Optional export-only extras on top of a record's tiny config (a new architecture needs none).
EXPORT_EXTRAS = {
    # Non-zero refinement init, so the tracker's state really changes its output.
    "aheat1d_tracker": {"refinement_initializer": "glorot_uniform"},
    "fan2d_tracker": {"refinement_initializer": "glorot_uniform"},
    # Glorot weights: the authors' N(0, 0.001) init leaves a random model's maps flat.
    "hih": {"init_stddev": None},
}
MOBILE = "aheat1d_mobile_300w"
MOBILE_TRACKER = "aheat1d_tracker_mobile_300vw"


def _inputs(io, sizes, seed):
    """uint8 images and, for step models, standard-normal states, at each batch size."""
    rng = np.random.default_rng(seed)
    batches = []
    for n in sizes:
        batch = {}
        for name in io.input_names:
            shape = (n,) + tuple(io.input_shapes[name][1:])
            batch[name] = (rng.integers(0, 256, shape, dtype=np.uint8) if name == io.image_input
                           else rng.normal(size=shape).astype("float32"))
        batches.append(batch)
    return batches


def _one_preset_per_architecture():
    chosen = {}
    for name in zoo.list_models():
        chosen.setdefault(zoo.get_preset(name).architecture, name)
    return sorted(chosen.items())


@pytest.mark.parametrize("architecture,preset", _one_preset_per_architecture())
def test_every_family_exports(architecture, preset):
    record = presets.get_architecture(architecture)
    overrides = {**record.tiny_config, **EXPORT_EXTRAS.get(architecture, {})}
    model, kind = sources.exportable_model(zoo.create(preset, **overrides))
    assert kind == ("tracker_step" if record.task == "clip" else "detector")
    run_export_test(model, _inputs(signatures.describe(model), (1, 2), seed=0))


def test_mobile_preset_bars():
    """SavedModel, float32 LiteRT and ONNX match Keras within 1e-4 (landmarks 0.01 px)."""
    model, metadata = sources.load(preset=MOBILE)
    assert metadata["preset"] == MOBILE and metadata["num_landmarks"] == 68
    assert metadata["input_size"] == 128 and metadata["scheme"] == "300w"
    # SynthFace faces, not noise, so the argmax decode sees peaked heatmaps.
    images, _ = sources.synthface_set(128, 3, seed=5)
    results = run_export_test(model, [{"images": images[:1]}, {"images": images[1:]}],
                              metadata=metadata)
    for result in results.values():  # (run_export_test read each file's metadata back)
        codec = result.metadata["codec_config"]
        preset_codec = zoo.get_preset(MOBILE).codec
        assert codec["class_name"] == preset_codec["class_name"]
        assert preset_codec["config"].items() <= codec["config"].items()
        assert result.metadata["format"] == result.format


def test_mobile_tracker_streams_30_frames_in_litert(tmp_path):
    model, kind = sources.exportable_model(
        zoo.create(MOBILE_TRACKER, refinement_initializer="glorot_uniform"))
    assert kind == "tracker_step"
    io = signatures.describe(model)
    assert set(io.endpoints["serving_default"]) == {"landmarks", "scores", "new_state_x",
                                                    "new_state_y"}
    result = zoo.export.export_tflite(model, tmp_path / "tracker.tflite")
    runner = zoo.export.StreamingRunner(result.path, num_threads=1)
    frames, _ = sources.synthface_set(128, 30, seed=6)
    state = {n: np.zeros((1,) + tuple(io.input_shapes[n][1:]), "float32")
             for n in ("state_x", "state_y")}
    worst = 0.0
    for t in range(30):
        reference = signatures.keras_reference(model, io, {"frame": frames[t:t + 1], **state})
        got = runner.step(frames[t])
        worst = max(worst, float(np.abs(got["landmarks"] - reference["landmarks"]).max()))
        np.testing.assert_allclose(got["new_state_x"], reference["new_state_x"], atol=1e-4,
                                   rtol=0, err_msg=f"frame {t}")
        state = {"state_x": reference["new_state_x"], "state_y": reference["new_state_y"]}
    assert worst <= 1e-2, f"landmarks differ by {worst} px over 30 frames"
