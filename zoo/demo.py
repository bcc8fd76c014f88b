"""The embedded demo (``make demo``): train, evaluate, export and track on SynthFace, on a CPU,
then find the landmarks of a real photo with the trained weights the package ships.

    python -m zoo.demo --output_dir demo_out            # about 300 steps of the mobile preset
    python -m zoo.demo --output_dir demo_out --steps 50 # shorter

It writes into ``--output_dir``:

* ``run/``: checkpoints, ``config.json``, TensorBoard logs (started again, it resumes);
* ``run/eval/``: ``report.txt``, ``report.json`` and ``ced.png`` (NME / FR / AUC on held-out
  SynthFace faces);
* ``exports/``: SavedModel (``saved_model/<name>/1``), ``model.tflite``, ``model.onnx``, each
  checked against Keras by ``zoo.export`` (a format that fails is reported, not hidden);
* ``tracking.mp4``: the tracker (the trained detector + temporal refinement, Eq. 13, lambda
  0.3) run frame by frame over a SynthFace video, landmarks drawn (green: tracker, red:
  ground truth).
* ``photo_landmarks.png``: ``zoo.FaceLandmarker()`` (the mobile detector with its shipped
  weights, trained on real 300-W faces) on a real photo: Grace Hopper's official U.S. Navy
  portrait (public domain), which matplotlib ships as sample data (``--photo`` for another).

The training, evaluation and tracking numbers are on synthetic faces: they show the path, not
the paper's accuracy. TensorFlow's C++ log lines are hidden unless ``--verbose``.
"""
import contextlib
import io
import os
import sys
import time

import numpy as np
from absl import app, flags

_OUTPUT_DIR = flags.DEFINE_string("output_dir", "demo_out", "Where everything is written.")
_STEPS = flags.DEFINE_integer("steps", 300, "Training steps of the mobile preset.")
_LEARNING_RATE = flags.DEFINE_float(
    "learning_rate", 3e-3, "Adam learning rate (the paper's 1e-4 is for full-length runs; 3e-3 learns within 200 steps).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 10, "Batch size (paper: 10).")
_NUM_FRAMES = flags.DEFINE_integer("num_frames", 60, "Frames of the synthetic tracking video.")
_MODEL = flags.DEFINE_string("model", "aheat1d_mobile_300w", "Detector preset.")
_PHOTO = flags.DEFINE_string("photo", None, "A photo for the shipped weights (default: Grace "
                             "Hopper's portrait from matplotlib's sample data).")
_VERBOSE = flags.DEFINE_boolean("verbose", False, "Show TensorFlow's log lines.")

PHOTO_CREDIT = ("Grace Hopper, official U.S. Navy portrait (public domain), from matplotlib's "
                "sample data")


def sample_photo():
    """The path of a real, freely licensed face photo that an installed package ships.

    Grace Hopper's official U.S. Navy portrait (public domain, 512 x 600), bundled with
    matplotlib (a dependency of the zoo) as ``mpl-data/sample_data/grace_hopper.jpg``.

    Returns:
        The file path.

    Example:
        >>> import os, zoo.demo
        >>> os.path.basename(zoo.demo.sample_photo())
        'grace_hopper.jpg'
    """
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"matplotlib's sample photo is missing. Received: path={path!r}")
    return os.fspath(path)


def photo_stage(output_dir, model=None, photo=None):
    """Runs ``zoo.FaceLandmarker`` on a real photo and writes ``photo_landmarks.png``.

    Args:
        output_dir: where the annotated image goes.
        model: a ``zoo.loading.LandmarkModel`` or anything ``zoo.load`` takes (default: the
            mobile detector with its shipped weights).
        photo: image path (default :func:`sample_photo`).

    Returns:
        dict with ``photo``, ``output`` (the PNG), ``faces`` (``zoo.landmarker.Faces``),
        ``weights`` and ``notes`` (e.g. that the preset has no trained weights).

    Example:
        >>> import zoo.demo
        >>> # trains first (minutes); ``make demo`` and tests/test_demo.py run it
        >>> result = zoo.demo.photo_stage("demo_out")  # doctest: +SKIP
    """
    import warnings

    import zoo.detect
    import zoo.faces
    import zoo.inference

    photo = photo or sample_photo()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        landmarker = zoo.inference.FaceLandmarker(model or zoo.inference.DEFAULT_MODEL)
    image = zoo.faces.read_image(photo)
    faces = landmarker.detect(image)
    output = zoo.detect.write_image(
        os.path.join(output_dir, "photo_landmarks.png"),
        zoo.detect.annotate(image, faces, scheme=landmarker.model.scheme))
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return {"photo": photo, "output": output, "faces": faces,
            "weights": landmarker.model.weights, "model": landmarker.model.name,
            "notes": notes}


def train_stage(output_dir, model, steps, learning_rate, batch_size):
    """Trains ``model`` on SynthFace into ``output_dir/run``; returns the run folder."""
    from zoo.training import tasks
    from zoo.training.config import TrainConfig

    run_dir = os.path.join(output_dir, "run")
    config = TrainConfig(model=model, dataset="300w", output_dir=run_dir, steps=steps,
                         learning_rate=learning_rate, batch_size=batch_size,
                         eval_every=max(1, steps // 3), image_every=max(1, steps // 3),
                         checkpoint_every=max(1, steps // 3), num_synthetic=2000, num_val=100)
    tasks.train(config)
    return run_dir


def export_stage(model, output_dir, name, codec=None):
    """Exports the inference model to SavedModel, TFLite and ONNX; returns ``{format: path or note}``."""
    import zoo.export
    from zoo.models.inference import make_inference_model

    inference = make_inference_model(model, codec=codec)
    export_dir = os.path.join(output_dir, "exports")
    os.makedirs(export_dir, exist_ok=True)
    jobs = {
        "saved_model": lambda: zoo.export.export_saved_model(
            inference, os.path.join(export_dir, "saved_model"), name, version=1),
        "tflite": lambda: zoo.export.export_tflite(
            inference, os.path.join(export_dir, "model.tflite")),
        "onnx": lambda: zoo.export.export_onnx(inference, os.path.join(export_dir, "model.onnx")),
    }
    results = {}
    for fmt, job in jobs.items():
        started = time.perf_counter()
        try:
            result = job()
        except Exception as error:  # a failed export is reported and the demo goes on
            results[fmt] = f"FAILED: {type(error).__name__}: {str(error)[:300]}"
        else:
            path = getattr(result, "path", result)
            results[fmt] = f"{path} ({time.perf_counter() - started:.1f} s)"
        print(f"export {fmt:12s} {results[fmt]}")
    return results


def tracking_stage(model, output_dir, num_frames, seed=7):
    """Runs the tracker (trained detector + fresh temporal refinement) over a SynthFace video.

    Returns:
        ``(mp4 path, per-frame NME (T,))``.
    """
    import cv2

    import zoo.metrics
    from zoo.data.synthface import SynthFace
    from zoo.draw import draw_landmarks
    from zoo.models.tracker import build_aheat1d_tracker, streaming

    size = int(model.input_shape[1])
    frames, truth, _ = SynthFace(image_size=size, seed=seed).video(num_frames, seed=seed)
    # The refinement's last kernel starts at zero (refinement_initializer="zeros"), so before
    # any tracker training the tracker outputs the detector's heatmaps (Eq. 13, lambda 0.3).
    tracker = build_aheat1d_tracker(detector=model, decay=0.3,
                                    refinement_downsample=_divisor(model.output["x"].shape[-1]))
    results, _ = streaming(tracker).track(frames.astype(np.float32))
    predicted = np.asarray(results["landmarks"])
    errors = zoo.metrics.nme(predicted, truth, scheme="300w")
    path = os.path.join(output_dir, "tracking.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (size * 2, size * 2))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video. Received: path={path}")
    for frame, points, gt in zip(frames, predicted, truth):
        image = draw_landmarks(frame, gt, color=(255, 0, 0))
        image = draw_landmarks(image, points, color=(0, 255, 0))
        image = cv2.resize(image, (size * 2, size * 2), interpolation=cv2.INTER_NEAREST)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path, errors


def _divisor(length, preferred=4):
    for candidate in (preferred, 3, 2, 1):
        if length % candidate == 0:
            return candidate
    return 1


def run(output_dir, steps=300, learning_rate=3e-3, batch_size=10, num_frames=60,
        model_name="aheat1d_mobile_300w", photo=None):
    """The whole demo; returns a summary dict (also printed).

    Args:
        output_dir: where everything is written.
        steps: training steps.
        learning_rate: Adam learning rate.
        batch_size: batch size.
        num_frames: frames of the tracking video.
        model_name: detector preset.
        photo: the real photo for the shipped weights (default :func:`sample_photo`).

    Returns:
        dict with ``run_dir``, ``report`` (evaluation), ``exports``, ``video``, ``tracking_nme``,
        ``photo`` (:func:`photo_stage`'s result).

    Example:
        >>> import zoo.demo
        >>> # minutes of training and exports; tests/test_demo.py runs it
        >>> summary = zoo.demo.run("demo_out", steps=50)  # doctest: +SKIP
    """
    import zoo.evaluation

    os.makedirs(output_dir, exist_ok=True)
    started = time.perf_counter()
    run_dir = train_stage(output_dir, model_name, steps, learning_rate, batch_size)
    trained = time.perf_counter()
    # The full table (per-area NMEs, wider than a terminal) goes to report.txt; the summary
    # below quotes its headline numbers, so the demo's output fits on one screen.
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = zoo.evaluation.evaluate_run(run_dir, num_synthetic=100)
    model, codec, _, _ = zoo.evaluation.load_run(run_dir)
    exports = export_stage(model, output_dir, model_name, codec=codec)
    video, errors = tracking_stage(model, output_dir, num_frames)
    photo_result = photo_stage(output_dir, photo=photo)
    summary = {"run_dir": run_dir, "report": evaluation["paths"], "exports": exports,
               "video": video, "tracking_nme": float(np.mean(errors)), "photo": photo_result,
               "train_seconds": trained - started, "total_seconds": time.perf_counter() - started}
    row = evaluation["subsets"]["synthface"]
    print("\n==== demo summary (SynthFace, synthetic data) ====")
    print(f"training   {steps} steps in {summary['train_seconds']:.0f} s -> {run_dir}")
    print(f"test NME   {100 * row['nme']:.2f}%  FR@10% {100 * row['fr@0.1']:.2f}%  "
          f"AUC@10% {100 * row['auc@0.1']:.2f}%  on 100 held-out faces")
    print(f"report     {evaluation['paths']['text']}  (CED: {evaluation['paths']['ced']})")
    for fmt, note in exports.items():
        print(f"export     {fmt:12s} {note}")
    print(f"tracking   {video}  mean NME {100 * summary['tracking_nme']:.2f}% over {num_frames} frames")
    print(f"photo      {photo_result['output']}  {len(photo_result['faces'])} face(s), "
          f"{photo_result['model']} (weights: {photo_result['weights']})")
    print(f"           photo: {PHOTO_CREDIT if photo is None else photo}")
    if photo_result["weights"] == "random":  # the warning, in one line
        print(f"           note: {photo_result['model']} ships no trained weights yet: its "
              "landmarks are random")
    print(f"total      {summary['total_seconds']:.0f} s")
    return summary


def main(argv):
    del argv
    import zoo.detect

    zoo.detect.import_tensorflow_quietly(_VERBOSE.value)
    run(_OUTPUT_DIR.value, _STEPS.value, _LEARNING_RATE.value, _BATCH_SIZE.value,
        _NUM_FRAMES.value, _MODEL.value, photo=_PHOTO.value)


if __name__ == "__main__":
    app.run(main)
    sys.exit(0)
