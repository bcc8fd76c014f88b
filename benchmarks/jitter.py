r"""Tracker against per-frame detection on moving real faces: NME and jitter, two crop protocols.

With ``--data_dir`` (a 300-W root), the clips are the fixed evaluation clips of its test faces
(``read_300w`` split ``--split``, default ``common``: here the HELEN half, 330 faces; one clip
per face, the first ``--num_clips`` faces) under synthetic camera/head
motion, lighting drift, motion blur, noise and occlusion events
(``zoo.data.motion_clips.evaluation_clips``, seed ``EVALUATION_SEED``: the same clips on every
run). Without it, still SynthFace faces with fresh pixel noise on every frame (every landmark
motion is then jitter).

Both methods run in both crop protocols (``zoo.evaluation.track_clips``): the tracking protocol
(the headline: frame t cropped around the method's own prediction for frame t-1, frame 0
around the ground truth, a lost face restarting from the ground truth) and the per-frame
ground-truth crop. Per-frame detection is the tracker's own detector with the temporal
refinement taken out (a zero refinement: exactly the detector's heatmaps), so the difference is
the temporal state of Eq. 13. With the shipped weights (the defaults) that detector is the
shipped ``aheat1d_mobile_300w`` (the tracker was trained with it frozen); the table's header
says whether its weights equal ``zoo.load("aheat1d_mobile_300w")``'s. Jitter is
``zoo.track.jitter``: the frame-to-frame landmark motion that the face did not make, over the
inter-ocular distance. Restarts: faces lost under the tracking protocol (restarted from the
ground truth, as ``python -m zoo.track`` re-detects). One markdown table.

    python benchmarks/jitter.py --data_dir=../shared/data/300w --split=common \
        --num_clips=100 --num_frames=16  # shipped tracker vs shipped detector
    python benchmarks/jitter.py --data_dir=../shared/data/300w --tracker_run=runs/tracker_300w
    python benchmarks/jitter.py --data_dir=../shared/data/300w \
        --model=aheat1d_tracker_mobile_300vw --tracker_weights=runs/tracker/best.keras
    python benchmarks/jitter.py --data_dir=../shared/data/300w --detector_run=runs/mobile
    python benchmarks/jitter.py --model=aheat1d_mobile_300w --num_clips=4 \
        --num_frames=100  # SynthFace

(``--clips`` / ``--frames`` are the older names of ``--num_clips`` / ``--num_frames``.)

Meaningful only with trained weights: without them the models are random (and the tracker's
zero-initialised refinement makes it output exactly the detector's heatmaps).
"""
import time
import warnings

import numpy as np
from absl import app, flags

_DATA_DIR = flags.DEFINE_string("data_dir", None, "300-W root: motion clips of its test faces; "
                                "None: still SynthFace faces with pixel noise.")
_TRACKER_RUN = flags.DEFINE_string("tracker_run", None, "A tracker training run folder "
                                   "(config.json + checkpoints/); replaces --model/--*_weights.")
_DETECTOR_RUN = flags.DEFINE_string(
    "detector_run", None, "A detector training run folder: wrapped in its tracker with a zero "
    "refinement (then the tracker is the detector; compares the crop protocols).")
_MODEL = flags.DEFINE_string("model", "aheat1d_tracker_mobile_300vw",
                             "Tracker preset, or a detector preset (wrapped in its tracker).")
_DETECTOR_WEIGHTS = flags.DEFINE_string("detector_weights", None,
                                        "Detector checkpoint (.weights.h5/.keras).")
_TRACKER_WEIGHTS = flags.DEFINE_string("tracker_weights", None, "Tracker checkpoint.")
_SPLIT = flags.DEFINE_string("split", "common", "With --data_dir: the read_300w split whose "
                              "faces become clips (never a training split for a reported figure).")
_CLIPS = flags.DEFINE_integer("num_clips", None, "At most this many clips, one per face (None: "
                              "every face of --split; SynthFace: 4).")
_FRAMES = flags.DEFINE_integer("num_frames", None, "Frames per clip (default 40; SynthFace 100).")
flags.DEFINE_alias("clips", "num_clips")
flags.DEFINE_alias("frames", "num_frames")
_NOISE = flags.DEFINE_float("noise", 8.0, "SynthFace: std of the per-frame pixel noise (0-255).")
_SEED = flags.DEFINE_integer("seed", None, "Clip seed (default: the fixed evaluation seed).")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Clips tracked together.")


def still_synthface_clips(num_clips, num_frames, noise, image_size, seed):
    """Still SynthFace faces with fresh Gaussian pixel noise per frame: ``[(frames, truth)]``."""
    from zoo.data.synthface import SynthFace

    generator = SynthFace(image_size=image_size, seed=seed, occlusion_probability=0.0,
                          blur_probability=0.0)
    rng = np.random.default_rng(seed)
    clips = []
    for index in range(num_clips):
        sample = generator.sample(index)
        frames = np.stack([np.clip(sample.image + rng.normal(0, noise, sample.image.shape),
                                   0, 255).round().astype(np.uint8) for _ in range(num_frames)])
        clips.append((frames, np.repeat(sample.landmarks[None], num_frames, axis=0)))
    return clips


def per_frame_detector(stream):
    """The tracker's own detector as a stream with no temporal refinement (zero CNN_4 output)."""
    import zoo
    from zoo.models import tracker as tracker_lib

    detector = stream.tracker.get_layer(tracker_lib.FRAME_DETECTOR_NAME).detector
    build = (tracker_lib.build_aheat1d_tracker if sorted(detector.output) == ["x", "y"]
             else tracker_lib.build_fan2d_tracker)
    cell = next(layer.cell for layer in stream.tracker.layers
                if layer.name.startswith(tracker_lib.REFINEMENT_PREFIX))
    # decay 0 and a zero output kernel: every frame is the detector's heatmaps, unchanged.
    wrapped = build(detector=detector, decay=0.0, refinement_kernel_size=cell.kernel_size,
                    refinement_downsample=cell.downsample,
                    name=f"{stream.tracker.name}_detector")
    return zoo.streaming(wrapped, codec=stream.codec)


def same_weights_as_preset(model, preset):
    """Whether ``model``'s weights equal those ``zoo.load(preset)`` ships (None: no such file)."""
    import zoo
    import zoo.weights

    if not zoo.weights.has_trained_weights(zoo.get_preset(preset)):
        return None
    shipped = zoo.create(preset)
    zoo.weights.load_preset_weights(shipped, zoo.get_preset(preset))
    mine, theirs = model.get_weights(), shipped.get_weights()
    return len(mine) == len(theirs) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(mine, theirs))


def load_stream():
    """``(stream, input_size, description of the weights)`` from the flags."""
    import zoo
    import zoo.codecs
    import zoo.evaluation
    import zoo.inference

    if _TRACKER_RUN.value or _DETECTOR_RUN.value:
        model, codec, config, step = zoo.evaluation.load_run(_TRACKER_RUN.value
                                                              or _DETECTOR_RUN.value)
        if _DETECTOR_RUN.value:  # the detector inside a zero-refinement tracker
            from zoo.models import tracker as tracker_lib

            build = (tracker_lib.build_aheat1d_tracker if sorted(model.output) == ["x", "y"]
                     else tracker_lib.build_fan2d_tracker)
            model = build(detector=model, name=f"{config.model}_tracker")
        stream = zoo.streaming(model, codec=zoo.codecs.serialize(codec))
        return stream, config.input_size, (f"{_TRACKER_RUN.value or _DETECTOR_RUN.value} "
                                           f"(step {step})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-weights warning: the table says it
        stream, info = zoo.inference.load_tracker(_MODEL.value, weights=_TRACKER_WEIGHTS.value,
                                                  detector_weights=_DETECTOR_WEIGHTS.value)
    weights = _TRACKER_WEIGHTS.value or _DETECTOR_WEIGHTS.value or info.get("weights")
    return stream, int(info["input_size"]), str(weights)


def main(argv):
    del argv
    import zoo.evaluation
    from zoo.data import motion_clips

    stream, input_size, weights = load_stream()
    detector = per_frame_detector(stream)
    if _DATA_DIR.value:
        source = motion_clips.evaluation_clips(
            _DATA_DIR.value, input_size,
            clip_length=_FRAMES.value or motion_clips.EVALUATION_CLIP_LENGTH,
            split=_SPLIT.value,
            seed=motion_clips.EVALUATION_SEED if _SEED.value is None else _SEED.value,
            max_faces=_CLIPS.value)

        def videos():
            return (source.clip(i) for i in range(len(source)))

        what = (f"{len(source)} motion clips x {source.clip_length} frames of the 300-W "
                f"{_SPLIT.value!r} faces in {_DATA_DIR.value} (zoo.data.motion_clips, seed "
                f"{source.seed}, {source.frame_size} px frames)")
    else:
        clips = still_synthface_clips(_CLIPS.value or 4, _FRAMES.value or 100, _NOISE.value,
                                      256, _SEED.value or 0)

        def videos():
            return iter(clips)

        what = (f"{len(clips)} still SynthFace faces x {len(clips[0][0])} frames, pixel noise "
                f"std {_NOISE.value:g} (synthetic)")
    rows = []
    for method, method_stream in (("tracker (Eq. 13 state)", stream),
                                  ("per-frame detection (same detector)", detector)):
        # Trace the step for the batch shape first (the time below is the loop's, not tf's).
        warm = [(frames[:2], truth[:2]) for _, (frames, truth) in zip(range(_BATCH.value),
                                                                       videos())]
        zoo.evaluation.track_clips(method_stream, warm, input_size)
        for crop in ("tracking", "gt_crop"):
            start = time.perf_counter()
            errors, row, count, restarts = zoo.evaluation.evaluate_videos(
                method_stream, videos(), "300w", input_size, crop=crop,
                batch_size=_BATCH.value)
            seconds = time.perf_counter() - start
            rows.append((method, crop, row, restarts, 1000 * seconds / len(errors)))
    from zoo.models import tracker as tracker_lib

    inner = stream.tracker.get_layer(tracker_lib.FRAME_DETECTOR_NAME).detector
    same = None
    try:
        same = same_weights_as_preset(inner, "aheat1d_mobile_300w")
    except (ValueError, KeyError):  # another architecture: no comparison
        pass
    shipped = {None: "not compared", True: "the shipped aheat1d_mobile_300w weights",
               False: "not the shipped aheat1d_mobile_300w weights"}[same]
    print(f"Tracker vs per-frame detection on {what}; {stream.tracker.name}, "
          f"{input_size}x{input_size} crops, weights: {weights}; per-frame detector: "
          f"{shipped}\n")
    print("| method | crop | NME (% IOD) | jitter (% IOD / frame) | FR@10% | restarts | "
          "ms / frame |")
    print("|---|---|---|---|---|---|---|")
    labels = {"tracking": "tracking (previous prediction; headline)",
              "gt_crop": "per-frame ground truth"}
    for method, crop, row, restarts, ms in rows:
        print(f"| {method} | {labels[crop]} | {100 * row['nme']:.2f} | "
              f"{100 * row['jitter']:.3f} | {100 * row['fr@0.1']:.2f} | "
              f"{restarts if crop == 'tracking' else '-'} | {ms:.1f} |")
    if _DETECTOR_RUN.value:
        print("\n--detector_run: the tracker rows are the detector in a zero refinement (the "
              "same numbers as per-frame detection); they compare the crop protocols only.")
    print("\nms / frame: the whole loop (crop, step, decode) with clips batched, this machine "
          "(a last, smaller batch traces once more); figures mean little without trained "
          "weights.")


if __name__ == "__main__":
    app.run(main)
