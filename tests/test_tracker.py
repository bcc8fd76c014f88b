"""Tests of the trackers (zoo.models.tracker) and the streaming form (zoo.streaming)."""
import keras
import numpy as np
import pytest
from keras import ops

import zoo
from tests.contract import run_model_test
from zoo.models.tracker import (FrameDetector, TrackingLoss, build_aheat1d_tracker,
                                build_fan2d_tracker, streaming)

TINY_1D = dict(num_landmarks=5, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
               heatmap_length=32, head_channels=8, compress_steps=1)
TINY_REFINEMENT = dict(refinement_filters=8, refinement_downsample=2,
                       refinement_initializer="glorot_uniform")


def _clips(batch=2, time=3, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 255.0, size=(batch, time, size, size, 3)).astype("float32")


def _tiny_2d_detector(num_landmarks=5, input_size=32, heatmap_size=8):
    """A small stand-in 2D detector with fan2d's output layout ``{"heatmap": (B, S, H, W, N)}``."""
    images = keras.Input((input_size, input_size, 3), name="images")
    x = keras.layers.Rescaling(1.0 / 255.0)(images)
    x = keras.layers.Conv2D(8, 3, strides=input_size // heatmap_size, padding="same",
                            activation="relu")(x)
    x = keras.layers.Conv2D(num_landmarks, 1)(x)
    return keras.Model(images, {"heatmap": keras.layers.Reshape((1,) + tuple(x.shape[1:]))(x)},
                       name="tiny_fan2d")


def _tiny_1d_tracker(**kwargs):
    return build_aheat1d_tracker(**TINY_1D, **{**TINY_REFINEMENT, **kwargs})


def _numpy(structure):
    return {key: ops.convert_to_numpy(value) for key, value in structure.items()}


def test_aheat1d_tracker_contract():
    tracker = _tiny_1d_tracker(clip_length=3)
    outputs = tracker(_clips())
    assert {key: tuple(value.shape) for key, value in outputs.items()} == \
        {"x": (2, 3, 5, 32), "y": (2, 3, 5, 32)}
    run_model_test(tracker, _clips(), loss={"x": TrackingLoss(), "y": TrackingLoss()})


def test_fan2d_tracker_contract():
    tracker = build_fan2d_tracker(num_landmarks=5, input_size=32, num_stacks=1, width=16,
                                  hourglass_depth=2, heatmap_size=8, clip_length=3,
                                  **TINY_REFINEMENT)
    assert tuple(tracker(_clips())["heatmap"].shape) == (2, 3, 8, 8, 5)
    run_model_test(tracker, _clips())


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_clip_model_equals_step_model(kind):
    if kind == "1d":
        tracker = _tiny_1d_tracker()
    else:
        tracker = build_fan2d_tracker(detector=_tiny_2d_detector(), **TINY_REFINEMENT)
    clips = _clips(time=5, seed=1)
    expected = _numpy(tracker(clips))
    stream = zoo.streaming(tracker)
    results, _ = stream.track(clips)
    for key, value in expected.items():
        np.testing.assert_allclose(results[key], value, atol=1e-5, rtol=0)
    # The refinement changed the detector's heatmaps (the equality is not a pass-through).
    detections = _numpy(tracker.get_layer("frame_detector")(clips))
    assert max(np.abs(expected[key] - detections[key]).max() for key in expected) > 1e-3
    assert results["landmarks"].shape == (2, 5, 5, 2)
    assert results["scores"].shape == (2, 5, 5)


def test_streaming_state_continues_a_video_and_matches_after_reload(tmp_path):
    tracker = _tiny_1d_tracker()
    clips = _clips(batch=1, time=6, seed=2)
    stream = streaming(tracker)
    whole, _ = stream.track(clips[0])  # one video without batch axis
    assert whole["x"].shape == (6, 5, 32) and whole["landmarks"].shape == (6, 5, 2)
    first, state = stream.track(clips[0, :3])
    second, _ = stream.track(clips[0, 3:], state=state)
    np.testing.assert_allclose(second["x"], whole["x"][3:], atol=1e-5, rtol=0)
    # Restarting from initial_state (a new video) forgets the past.
    restarted, _ = stream.track(clips[0, 3:], state=stream.initial_state(1))
    assert np.abs(restarted["x"] - whole["x"][3:]).max() > 1e-4
    # A reloaded tracker streams the same numbers.
    path = str(tmp_path / "tracker.keras")
    tracker.save(path)
    reloaded, _ = streaming(keras.saving.load_model(path)).track(clips[0])
    np.testing.assert_allclose(reloaded["x"], whole["x"], atol=1e-6, rtol=0)


def test_step_model_interface_and_initial_state():
    tracker = _tiny_1d_tracker()
    stream = streaming(tracker)
    state = stream.initial_state(batch_size=3)
    assert {key: value.shape for key, value in state.items()} == \
        {"state_x": (3, 16, 8), "state_y": (3, 16, 8)}
    assert all(not value.any() for value in state.values())
    model = stream.step_model
    assert sorted(model.input) == ["frame", "state_x", "state_y"]
    assert sorted(model.output) == ["landmarks", "scores", "state_x", "state_y", "x", "y"]
    # Shares the tracker's weights: changing the tracker changes the step model.
    frame = _clips(batch=1, time=1)[:, 0]
    before = ops.convert_to_numpy(model({"frame": frame, **stream.initial_state(1)})["x"])
    kernel = tracker.get_layer("refine_x").cell.output_projection.kernel
    kernel.assign(kernel * 2.0)
    after = ops.convert_to_numpy(model({"frame": frame, **stream.initial_state(1)})["x"])
    assert np.abs(after - before).max() > 1e-4
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        stream.initial_state(0)
    with pytest.raises(ValueError, match="Received: tracker="):
        streaming("aheat1d_tracker_300vw")


def test_decay_zero_tracker_has_no_memory():
    tracker = _tiny_1d_tracker(decay=0.0)
    clips = _clips(batch=1, time=4, seed=3)
    full = _numpy(tracker(clips))
    alone = _numpy(tracker(clips[:, 3:]))
    np.testing.assert_allclose(full["x"][:, 3], alone["x"][:, 0], atol=1e-5, rtol=0)
    remembering = _tiny_1d_tracker(decay=0.3)
    full = _numpy(remembering(clips))
    alone = _numpy(remembering(clips[:, 3:]))
    assert np.abs(full["x"][:, 3] - alone["x"][:, 0]).max() > 1e-4


def test_fresh_tracker_outputs_the_detector_heatmaps():
    detector = zoo.models.build_aheat1d(**TINY_1D)
    tracker = build_aheat1d_tracker(detector=detector, return_detections=True,
                                    refinement_filters=8, refinement_downsample=2)
    clips = _clips(seed=4)
    outputs = _numpy(tracker(clips))
    per_frame = ops.convert_to_numpy(detector(clips[:, 1])["x"])[:, -1]
    np.testing.assert_allclose(outputs["detector_x"][:, 1], per_frame, atol=1e-5, rtol=0)
    # Zero-initialised CNN_4 output: E_t + E'_t = E_t before training.
    np.testing.assert_allclose(outputs["x"], outputs["detector_x"], atol=0, rtol=0)
    np.testing.assert_allclose(outputs["y"], outputs["detector_y"], atol=0, rtol=0)


@pytest.mark.parametrize("freeze, checkpoint", [(True, "detector.weights.h5"),
                                                (False, "detector.keras")])
def test_detector_checkpoint_and_freezing(tmp_path, freeze, checkpoint):
    trained = zoo.models.build_aheat1d(**TINY_1D)
    path = str(tmp_path / checkpoint)
    if checkpoint.endswith(".keras"):
        trained.save(path)
    else:
        trained.save_weights(path)
    tracker = build_aheat1d_tracker(detector=zoo.models.build_aheat1d(**TINY_1D),
                                    detector_weights=path, freeze_detector=freeze,
                                    **TINY_REFINEMENT)
    detector = tracker.get_layer("frame_detector").detector
    for loaded, saved in zip(detector.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
    clips = _clips(batch=2, time=2, seed=5)
    targets = {key: np.random.default_rng(6).uniform(size=value.shape).astype("float32")
               for key, value in _numpy(tracker(clips)).items()}
    # Eager: one step does not pay for tracing the whole hourglass graph.
    tracker.compile(optimizer=keras.optimizers.Adam(1e-2),
                    loss={"x": TrackingLoss(), "y": TrackingLoss()}, run_eagerly=True)
    refinement_before = [w.copy() for w in tracker.get_layer("refine_x").get_weights()]
    detector_before = [w.copy() for w in detector.get_weights()]
    tracker.fit(clips, targets, epochs=1, batch_size=2, verbose=0)
    assert any(not np.allclose(a, b) for a, b in
               zip(refinement_before, tracker.get_layer("refine_x").get_weights()))
    detector_changed = any(not np.array_equal(a, b)
                           for a, b in zip(detector_before, detector.get_weights()))
    assert detector_changed is not freeze


def test_unrolled_fixed_length_equals_loop():
    tracker = _tiny_1d_tracker(clip_length=3, unroll=True)
    looped = _tiny_1d_tracker(clip_length=3)
    looped.set_weights(tracker.get_weights())
    clips = _clips(seed=7)
    unrolled_out, looped_out = _numpy(tracker(clips)), _numpy(looped(clips))
    for key in unrolled_out:
        np.testing.assert_allclose(unrolled_out[key], looped_out[key], atol=1e-5, rtol=0)


def test_tracking_loss_is_eq14():
    rng = np.random.default_rng(8)
    y_true = rng.uniform(size=(2, 3, 5, 32)).astype("float32")
    y_pred = rng.uniform(size=(2, 3, 5, 32)).astype("float32")
    expected = np.mean(np.sum((y_pred - y_true) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(float(TrackingLoss()(y_true, y_pred)), expected, rtol=1e-5)


def test_frame_detector_config_round_trip():
    layer = FrameDetector(zoo.models.build_aheat1d(**TINY_1D))
    clone = FrameDetector.from_config(layer.get_config())
    clone.set_weights(layer.get_weights())
    clips = _clips(seed=9)
    np.testing.assert_allclose(ops.convert_to_numpy(clone(clips)["y"]),
                               ops.convert_to_numpy(layer(clips)["y"]), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="Received: detector="):
        FrameDetector("aheat1d_300w")


@pytest.mark.parametrize("kwargs, match", [
    (dict(unroll=True), "clip_length=None"),
    (dict(clip_length=0), "clip_length=0"),
    (dict(freeze_detector="yes"), "freeze_detector='yes'"),
    (dict(decay=1.2), "decay=1.2"),
    (dict(detector_weights="detector.h5"), "detector_weights='detector.h5'"),
])
def test_bad_tracker_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Received: {match}"):
        _tiny_1d_tracker(**kwargs)


def test_detector_and_detector_arguments_are_exclusive():
    with pytest.raises(ValueError, match="Received: detector_kwargs"):
        build_aheat1d_tracker(detector=_tiny_2d_detector(), num_landmarks=5)
    with pytest.raises(ValueError, match="Received: detector outputs"):
        build_aheat1d_tracker(detector=_tiny_2d_detector())


def test_presets_registered_with_paper_settings():
    models = zoo.list_models()
    for name, detector_name in (("aheat1d_tracker_300vw", "aheat1d_300w"),
                                ("aheat1d_tracker_mobile_300vw", "aheat1d_mobile_300w"),
                                ("fan2d_tracker_300vw", "fan2d_300w")):
        assert name in models
        preset, detector = zoo.get_preset(name), zoo.get_preset(detector_name)
        assert preset.config["decay"] == 0.3  # lambda of Eq. 13 (paper, 300W cross-validation)
        assert {k: v for k, v in preset.config.items() if k in detector.config} == detector.config
        assert (preset.input_size, preset.codec, preset.scheme) == \
            (detector.input_size, detector.codec, detector.scheme)


def test_create_tracker_preset_and_stream_it():
    tracker = zoo.create("aheat1d_tracker_mobile_300vw", input_size=32, num_stacks=1, width=16,
                         hourglass_depth=2, heatmap_length=32, head_channels=8,
                         compress_steps=1, num_landmarks=5, refinement_filters=4,
                         refinement_downsample=2)
    assert tracker.name == "aheat1d_tracker_mobile_300vw"
    stream = streaming(tracker)
    # The preset's codec, with the sizes of the overridden model.
    assert stream.codec["class_name"] == "Heatmap1DCodec"
    assert {k: stream.codec["config"][k] for k in ("input_size", "heatmap_size")} == {
        "input_size": 32, "heatmap_size": 32}
    outputs, _ = stream.step(_clips(batch=1, time=1)[:, 0], stream.initial_state(1))
    assert tuple(outputs["landmarks"].shape) == (1, 5, 2)
    with pytest.raises(ValueError, match="Received: "):
        zoo.create("aheat1d_tracker_300vw", not_an_argument=1)


def test_mobile_tracker_preset_parameter_count():
    # The detector's count plus the refinement of x and y (kernel 4 = stride 4, 16 channels).
    preset = zoo.get_preset("aheat1d_tracker_mobile_300vw")
    detector = zoo.get_preset("aheat1d_mobile_300w")
    refinement = zoo.models.tracker.refinement_num_params(68, 16, 4)
    assert preset.num_params == detector.num_params + 2 * refinement
    assert zoo.create("aheat1d_tracker_mobile_300vw").count_params() == preset.num_params


@pytest.mark.slow
@pytest.mark.parametrize("name", ["aheat1d_tracker_300vw", "fan2d_tracker_300vw"])
def test_full_tracker_preset_parameter_counts(name):
    assert zoo.create(name).count_params() == zoo.get_preset(name).num_params
