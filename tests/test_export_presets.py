"""Exports of the real model families: every registered architecture (tiny configs; trackers
as their streaming step model), the mobile preset at its real size (issue 7 bars), and the
mobile tracker preset streaming 30 frames in LiteRT.

The meta-test walks ``zoo.list_models()``: a new architecture without an entry in
``TINY_OVERRIDES`` fails here, so no preset family skips the export checks.
"""
import numpy as np
import pytest

import zoo
import zoo.export
from export_contract import run_export_test
from zoo.export import signatures, sources

TINY_BACKBONE = dict(input_size=32, num_stacks=1, width=16, hourglass_depth=2)
TINY_1D = dict(TINY_BACKBONE, heatmap_length=64, head_channels=8, compress_steps=1)
# Non-zero refinement init, so the tracker's state really changes its output.
TINY_REFINEMENT = dict(refinement_filters=8, refinement_downsample=2,
                       refinement_initializer="glorot_uniform")
TINY_OVERRIDES = {
    "aheat1d": TINY_1D,
    "fan2d": dict(TINY_BACKBONE, heatmap_size=8),
    "aheat1d_tracker": dict(TINY_1D, **TINY_REFINEMENT),
    "fan2d_tracker": dict(TINY_BACKBONE, heatmap_size=8, **TINY_REFINEMENT),
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
    assert architecture in TINY_OVERRIDES, f"add tiny export overrides for {architecture!r}"
    model, kind = sources.exportable_model(zoo.create(preset, **TINY_OVERRIDES[architecture]))
    assert kind == ("tracker_step" if "tracker" in architecture else "detector")
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
