r"""Landmark jitter on a still face: the tracker (streaming, with state) against per-frame detection.

A still SynthFace image gets fresh Gaussian pixel noise on every frame, so every landmark motion
is flicker. Both methods see the same fixed face crop (the true landmarks' box, margin 0.25), so
the figure measures the landmark model, not the face finder. Flicker is
``mean_t,n ||p_t - p_{t-1}|| / inter-ocular distance`` (``zoo.track.flicker``), printed in
percent with the NME against the exact landmarks, as one markdown table that names the weights.

    python benchmarks/jitter.py --model=aheat1d_mobile_300w --frames=100 --clips=4 --noise=8 \
        --detector_weights=runs/mobile/best.weights.h5 --tracker_weights=runs/tracker/best.keras

Meaningful only with trained weights (none are published): without them both models are random
and the tracker's zero-initialised refinement makes it output exactly the detector's heatmaps.
"""
import time
import warnings

import numpy as np
from absl import app, flags

_MODEL = flags.DEFINE_string("model", "aheat1d_mobile_300w",
                             "Detector preset (the tracker wraps it) or a tracker preset.")
_DETECTOR_WEIGHTS = flags.DEFINE_string("detector_weights", None,
                                        "Detector checkpoint (.weights.h5/.keras); None: random.")
_TRACKER_WEIGHTS = flags.DEFINE_string("tracker_weights", None,
                                       "Tracker checkpoint; None: the detector's weights with a "
                                       "zero refinement.")
_FRAMES = flags.DEFINE_integer("frames", 100, "Frames per clip.")
_CLIPS = flags.DEFINE_integer("clips", 4, "Still SynthFace faces (one clip each).")
_NOISE = flags.DEFINE_float("noise", 8.0, "Std of the per-frame Gaussian pixel noise (0-255).")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "SynthFace image size.")
_SEED = flags.DEFINE_integer("seed", 0, "SynthFace and noise seed.")


def noisy_clips(num_clips, num_frames, noise, image_size, seed, crop_size):
    """Crops of still faces with per-frame noise: (B, T, F, F, 3) uint8, matrices, truth."""
    from zoo import faces
    from zoo.data.synthface import SynthFace

    generator = SynthFace(image_size=image_size, seed=seed, occlusion_probability=0.0,
                          blur_probability=0.0)
    rng = np.random.default_rng(seed)
    clips, matrices, truth = [], [], []
    for index in range(num_clips):
        sample = generator.sample(index)
        matrix = faces.crop_matrix(sample.box, crop_size, margin=0.25)
        frames = []
        for _ in range(num_frames):
            noisy = np.clip(sample.image + rng.normal(0, noise, sample.image.shape), 0, 255)
            frames.append(faces.crop_face(noisy.round().astype(np.uint8), sample.box,
                                          crop_size, margin=0.25)[0])
        clips.append(np.stack(frames))
        matrices.append(matrix)
        truth.append(sample.landmarks)
    return np.stack(clips), np.stack(matrices), np.stack(truth)


def to_image(points, matrices):
    """(B, T, N, 2) crop points -> image points with each clip's crop matrix."""
    from zoo import faces

    return np.stack([faces.to_image_coordinates(p, m) for p, m in zip(points, matrices)])


def main(argv):
    del argv
    import zoo.inference
    import zoo.schemes
    import zoo.track

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-weights warning: the table says it
        detector = zoo.inference.load(_MODEL.value, weights=_DETECTOR_WEIGHTS.value)
        stream, info = zoo.inference.load_tracker(_MODEL.value, weights=_TRACKER_WEIGHTS.value,
                                                  detector_weights=_DETECTOR_WEIGHTS.value)
    if _DETECTOR_WEIGHTS.value is None and _TRACKER_WEIGHTS.value is None:
        # Two random initialisations would differ: give the tracker the detector's weights
        # (the inference model holds the training model's layers in the same order).
        frame_detector = stream.tracker.get_layer("frame_detector").detector
        frame_detector.set_weights(detector.keras_model.get_weights())
    size = detector.input_size
    clips, matrices, truth = noisy_clips(_CLIPS.value, _FRAMES.value, _NOISE.value,
                                         _IMAGE_SIZE.value, _SEED.value, size)
    num_clips, num_frames = clips.shape[:2]
    left, right = zoo.schemes.get_scheme(detector.scheme or "300w").normalizer_indices
    interocular = np.linalg.norm(truth[:, left] - truth[:, right], axis=-1)

    start = time.perf_counter()
    detected = detector.predict(clips.reshape((-1,) + clips.shape[2:]))["landmarks"]
    detect_seconds = time.perf_counter() - start
    detected = to_image(detected.reshape(num_clips, num_frames, -1, 2), matrices)

    state = stream.initial_state(num_clips)
    tracked = []
    start = time.perf_counter()
    for t in range(num_frames):  # all clips advance together: batch = clips
        outputs = stream.step_model.predict_on_batch({"frame": clips[:, t].astype("float32"),
                                                      **state})
        state = {name: outputs[name] for name in stream.state_shapes}
        tracked.append(np.asarray(outputs["landmarks"]))
    track_seconds = time.perf_counter() - start
    tracked = to_image(np.stack(tracked, axis=1), matrices)

    def nme(points):
        errors = np.linalg.norm(points - truth[:, None], axis=-1).mean(-1)
        return float(np.mean(errors / interocular[:, None]))

    detector_weights = _DETECTOR_WEIGHTS.value or "random (no trained weights)"
    tracker_weights = _TRACKER_WEIGHTS.value or (
        f"detector's ({_DETECTOR_WEIGHTS.value}) + zero refinement" if _DETECTOR_WEIGHTS.value
        else "random detector + zero refinement")
    print(f"Jitter on {num_clips} still SynthFace faces x {num_frames} frames, pixel noise "
          f"std {_NOISE.value:g}, model {_MODEL.value} ({size}x{size} crops)\n")
    print("| method | weights | flicker (% IOD / frame) | NME (% IOD) | ms / frame |")
    print("|---|---|---|---|---|")
    for name, points, weights, seconds in (
            ("per-frame detection", detected, detector_weights, detect_seconds),
            ("tracker (streaming, Eq. 13 state)", tracked, tracker_weights, track_seconds)):
        print(f"| {name} | {weights} | {100 * zoo.track.flicker(points, interocular):.3f} | "
              f"{100 * nme(points):.2f} | {1000 * seconds / (num_clips * num_frames):.1f} |")
    print("\nDetection runs all frames as batches; the tracker steps frame by frame (batch = "
          "clips). Landmark figures mean little without trained weights.")


if __name__ == "__main__":
    app.run(main)
