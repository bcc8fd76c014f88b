r"""Peers side by side on real faces: dlib's 68-point shape predictor beside the zoo, same faces.

On the HELEN half of the 300-W common test subset (``read_300w(root, "common")`` of
``../shared/data/300w``: 330 faces) it prints one markdown table: NME (inter-ocular, outer eye
corners), FR@8 %, AUC@8 % and milliseconds per face of each method, and writes their CED plot.

* **The zoo** (``--zoo_model``: a preset with ``--zoo_weights``, a ``.keras`` file or a
  training run folder) sees the zoo's evaluation crop: the square of side 1.25 x the larger
  side of the true landmarks' box, centred on it (HRNet's ``1.25 * scale`` crop), resized to
  its input (``zoo.data.tfrecord.crop_face``, as ``zoo.evaluation`` crops test faces). Its
  landmarks are mapped back to the image. ms per face: crop + one Keras call at batch 1.
  ``--zoo_flip_test`` averages each crop's landmarks with its mirror's
  (``zoo.landmarker.flip_average``: one Keras call at batch 2, the crop and its mirror; the
  row's label says "+ flip test"). Off by default, so the recorded figures keep their meaning.
* **dlib** (``shape_predictor_68_face_landmarks.dat`` from the ``face-recognition-models``
  package, run by ``dlib-bin``; benchmark-only, never a dependency of the zoo: ``pip install
  dlib-bin face-recognition-models``). Its predictor is trained on the boxes of its own HOG
  face detector and fails on other boxes, so ``--dlib_boxes=hog`` (default) runs the HOG
  detector on the image and keeps the detection that overlaps the true landmark box most; a face
  the detector misses gets the landmark box mapped to a HOG-like box by the median relation of
  the detected faces (counted in the table). ``--dlib_boxes=landmark`` gives dlib the true
  landmark box itself. ms per face: the shape predictor alone (the HOG detector's time per image
  is printed apart). The predictor was trained on iBUG 300-W, which holds these HELEN test
  photos' training-set siblings and may hold these: it may have seen them.

Both methods are scored against the same 0-based ground truth in image pixels.

    pip install dlib-bin face-recognition-models   # into the venv, for this benchmark only
    python benchmarks/peers.py --data_dir=../shared/data/300w --ced=docs/peers_ced.png
    python benchmarks/peers.py --data_dir=../shared/data/300w --zoo_model=runs/mobile \
        --ced=docs/peers_ced.png --json=docs/peers.json

MediaPipe's ``face_landmark.tflite`` (468 points, another markup: timed, not scored) runs in the
same timing run as the zoo's LiteRT exports through ``benchmarks/latency.py``:
``--mediapipe_wheel`` takes the ``mediapipe==0.10.21`` wheel (``pip download --no-deps
mediapipe==0.10.21 -d /tmp/mp``; nothing is installed) and extracts the model from it.

    python benchmarks/peers.py --data_dir=../shared/data/300w --max_faces=0 \
        --mediapipe_wheel=/tmp/mp/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
from absl import app, flags

_DATA_DIR = flags.DEFINE_string("data_dir", None, "300-W root (iBUG layout).")
_SPLIT = flags.DEFINE_string("split", "common", "read_300w split (here: the HELEN half).")
_MAX_FACES = flags.DEFINE_integer("max_faces", None, "Score only the first N faces (a smoke "
                                  "run); 0 skips the accuracy table (latency only).")
_ZOO_MODEL = flags.DEFINE_string("zoo_model", None, "Zoo model: preset (with --zoo_weights), "
                                 ".keras file or training run folder. None: dlib only.")
_ZOO_WEIGHTS = flags.DEFINE_string("zoo_weights", None, "Weights for a preset --zoo_model.")
_ZOO_LABEL = flags.DEFINE_string("zoo_label", None, "Row label of the zoo model.")
_ZOO_FLIP_TEST = flags.DEFINE_boolean("zoo_flip_test", False, "Average the zoo model's landmarks "
                                      "on each crop and its mirror (zoo.landmarker.flip_average).")
_DLIB_BOXES = flags.DEFINE_enum("dlib_boxes", "hog", ["hog", "landmark"],
                                "dlib's face boxes: its HOG detector, or the landmark box.")
_DLIB_MODEL = flags.DEFINE_string("dlib_model", None, "shape_predictor_68_face_landmarks.dat "
                                  "(default: the face-recognition-models package's).")
_UPSAMPLE = flags.DEFINE_integer("upsample", 1, "HOG detector upsampling (dlib's default 1).")
_THRESHOLD = flags.DEFINE_float("threshold", 0.08, "FR / AUC / CED threshold (fraction).")
_CED = flags.DEFINE_string("ced", None, "Write the CED plot PNG here.")
_JSON = flags.DEFINE_string("json", None, "Write the table and per-face NMEs here.")
_MEDIAPIPE_MODEL = flags.DEFINE_string("mediapipe_model", None, "face_landmark.tflite: time it "
                                       "with benchmarks/latency.py beside the zoo's exports.")
_MEDIAPIPE_WHEEL = flags.DEFINE_string("mediapipe_wheel", None, "The mediapipe==0.10.21 wheel "
                                       "to extract face_landmark.tflite from (not installed).")
_LATENCY_PRESETS = flags.DEFINE_list("latency_presets",
                                     ["aheat1d_mobile_300w", "aheat1d_tracker_mobile_300vw"],
                                     "Zoo presets timed beside MediaPipe.")
_LATENCY_ARGS = flags.DEFINE_string(
    "latency_args", "--formats=tflite_float32 --threads=1,2 --trials=3 --runs=200",
    "More benchmarks/latency.py flags, space-separated (e.g. add "
    "'--overrides=width=128,head_channels=32' or '--keras_files=preset=trained.keras').")

MEDIAPIPE_MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"


# ------------------------------------------------------------------------------ faces
def load_faces(data_dir, split="common", max_faces=None):
    """The test faces: ``[(name, RGB uint8 image, (68, 2) 0-based landmarks)]``, sorted."""
    from zoo.data.readers.common import load_sample_image
    from zoo.data.readers.w300 import read_300w

    samples, report = read_300w(data_dir, split)
    if report.skipped:
        print(f"read_300w skipped {report.skipped} files: {report.summary()}", file=sys.stderr)
    samples = sorted(samples, key=lambda s: os.fspath(s.image))
    if max_faces is not None:
        samples = samples[:max_faces]
    return [(os.path.basename(os.fspath(s.image)), load_sample_image(s),
             np.asarray(s.landmarks, np.float64)) for s in samples]


def landmark_box(points):
    """``x1, y1, x2, y2`` of (N, 2) points."""
    points = np.asarray(points, np.float64)
    return np.concatenate([points.min(0), points.max(0)])


def iou(a, b):
    """Intersection over union of two ``x1, y1, x2, y2`` boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def best_match(boxes, target, min_iou=0.3):
    """Index of the box overlapping ``target`` most (IoU >= ``min_iou``), or None."""
    overlaps = [iou(box, target) for box in boxes]
    if not overlaps or max(overlaps) < min_iou:
        return None
    return int(np.argmax(overlaps))


def fit_box_map(landmark_boxes, detector_boxes):
    """A landmark box -> detector-like box map: median centre shift and size ratio.

    Args:
        landmark_boxes: (K, 4) true landmark boxes of faces the detector found.
        detector_boxes: (K, 4) the detector's boxes of the same faces.

    Returns:
        A function (4,) -> (4,).

    Example:
        >>> import numpy as np
        >>> to_box = fit_box_map(np.array([[0., 0., 10., 10.]]), np.array([[1., 2., 9., 10.]]))
        >>> to_box(np.array([0., 0., 20., 20.])).tolist()
        [2.0, 4.0, 18.0, 20.0]
    """
    landmark_boxes = np.asarray(landmark_boxes, np.float64).reshape(-1, 4)
    detector_boxes = np.asarray(detector_boxes, np.float64).reshape(-1, 4)
    if len(landmark_boxes) == 0:
        return lambda box: np.asarray(box, np.float64)

    def parts(boxes):
        size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        return centre, size

    centre, size = parts(landmark_boxes)
    detector_centre, detector_size = parts(detector_boxes)
    shift = np.median((detector_centre - centre) / size[:, None], axis=0)
    ratio = float(np.median(detector_size / size))

    def to_box(box):
        (c,), (s,) = parts(np.asarray(box, np.float64)[None])
        new_centre, half = c + shift * s, ratio * s / 2.0
        return np.concatenate([new_centre - half, new_centre + half])

    return to_box


# ------------------------------------------------------------------------------ methods
def run_dlib(faces, predictor_path=None, boxes="hog", upsample=1):
    """dlib's shape predictor on every face.

    Returns:
        dict: ``landmarks`` (B, 68, 2), ``ms`` (B,) per face, ``detect_ms`` (B,) per image
        (None for landmark boxes), ``boxes`` (B, 4), ``missed`` (faces the HOG detector did not
        find, which got the mapped landmark box).
    """
    import dlib

    if predictor_path is None:
        import face_recognition_models

        predictor_path = face_recognition_models.pose_predictor_model_location()
    predictor = dlib.shape_predictor(predictor_path)
    detector = dlib.get_frontal_face_detector() if boxes == "hog" else None
    chosen, detect_ms, missed = [], [], []
    for index, (_, image, truth) in enumerate(faces):
        target = landmark_box(truth)
        if detector is None:
            chosen.append(target)
            continue
        start = time.perf_counter()
        rects = detector(image, upsample)
        detect_ms.append((time.perf_counter() - start) * 1e3)
        found = [[r.left(), r.top(), r.right(), r.bottom()] for r in rects]
        match = best_match(found, target)
        if match is None:
            missed.append(index)
            chosen.append(None)
        else:
            chosen.append(np.asarray(found[match], np.float64))
    if missed:
        detected = [i for i in range(len(faces)) if chosen[i] is not None]
        to_box = fit_box_map([landmark_box(faces[i][2]) for i in detected],
                             [chosen[i] for i in detected])
        for i in missed:
            chosen[i] = to_box(landmark_box(faces[i][2]))
    landmarks, ms = [], []
    for (_, image, _), box in zip(faces, chosen):
        rect = dlib.rectangle(*[int(round(v)) for v in box])
        start = time.perf_counter()
        shape = predictor(image, rect)
        ms.append((time.perf_counter() - start) * 1e3)
        landmarks.append([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)])
    return {"landmarks": np.asarray(landmarks, np.float64), "ms": np.asarray(ms),
            "detect_ms": np.asarray(detect_ms) if detector is not None else None,
            "boxes": np.asarray(chosen), "missed": missed}


def load_zoo_model(name_or_path, weights=None):
    """``zoo.load`` with the benchmark's defaults (a preset's random weights are refused)."""
    import zoo

    model = zoo.load(name_or_path, weights=weights)
    if model.weights == "random":
        raise ValueError("The zoo model has random weights; pass --zoo_weights or a trained "
                         f".keras / run folder. Received: zoo_model={name_or_path!r}")
    return model


def run_zoo(faces, model, flip_test=False):
    """The zoo model on the zoo's evaluation crop of every face.

    Args:
        faces: ``[(name, RGB image, (68, 2) truth)]``.
        model: a ``zoo.loading.LandmarkModel`` (or anything with ``input_size`` and
            ``predict``).
        flip_test: average the landmarks of each crop and its mirror
            (``zoo.landmarker.flip_average``, one call at batch 2).

    Returns:
        dict: ``landmarks`` (B, N, 2) in image pixels, ``ms`` (B,) per face (crop + a Keras
        call at batch 1, or 2 with ``flip_test``).
    """
    import cv2

    from zoo.data.tfrecord import crop_face

    if flip_test:
        from zoo.landmarker import flip_average

        predict = lambda crops: flip_average(model, crops)  # noqa: E731
    else:
        predict = model.predict
    size = model.input_size
    predict(np.zeros((1, size, size, 3), np.uint8))  # trace once, untimed
    landmarks, ms = [], []
    for _, image, truth in faces:
        start = time.perf_counter()
        crop, _, matrix = crop_face(image, truth, size=size)  # 1.25 x the landmark box (HRNet)
        points = predict(crop[None])["landmarks"][0]
        ms.append((time.perf_counter() - start) * 1e3)
        inverse = cv2.invertAffineTransform(matrix.astype(np.float64))
        landmarks.append(points.astype(np.float64) @ inverse[:, :2].T + inverse[:, 2])
    return {"landmarks": np.asarray(landmarks), "ms": np.asarray(ms)}


def score(landmarks, truth, threshold=0.08):
    """NME (inter-ocular), FR and AUC at ``threshold``: dict with the per-face ``errors``."""
    import zoo.metrics

    errors = zoo.metrics.nme(landmarks, truth, scheme="300w")
    return {"errors": errors, "nme": float(np.mean(errors)),
            "fr": zoo.metrics.failure_rate(errors, threshold),
            "auc": zoo.metrics.auc(errors, threshold)}


def format_table(rows, threshold=0.08):
    """Markdown table of ``[(label, score dict, ms (B,), note)]``."""
    pct = f"{100 * threshold:g}"
    lines = [f"| method | faces | NME % (inter-ocular) | FR@{pct} % | AUC@{pct} % | "
             "ms per face (median) | note |", "|---|---:|---:|---:|---:|---:|---|"]
    for label, result, ms, note in rows:
        lines.append(f"| {label} | {len(result['errors'])} | {100 * result['nme']:.2f} | "
                     f"{100 * result['fr']:.2f} | {100 * result['auc']:.2f} | "
                     f"{np.median(ms):.2f} | {note} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ latency
def extract_mediapipe_model(wheel, directory):
    """Extracts ``face_landmark.tflite`` from a mediapipe wheel; returns its path."""
    with zipfile.ZipFile(wheel) as archive:
        if MEDIAPIPE_MEMBER not in archive.namelist():
            raise ValueError(f"This wheel has no {MEDIAPIPE_MEMBER} (mediapipe 0.10.21 is the "
                             f"last release that bundles it). Received: wheel={wheel!r}")
        return archive.extract(MEDIAPIPE_MEMBER, directory)


def run_latency(mediapipe_model, presets, extra_args):
    """``benchmarks/latency.py`` with MediaPipe's model: one timing run, its table printed."""
    from zoo.weights import sha256_of

    print(f"\nMediaPipe face_landmark.tflite: {mediapipe_model} "
          f"(sha256 {sha256_of(mediapipe_model)})", flush=True)
    command = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "latency.py"),
               f"--presets={','.join(presets)}", f"--mediapipe_model={mediapipe_model}",
               *extra_args]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


# ------------------------------------------------------------------------------ main
def main(argv):
    del argv
    threshold = _THRESHOLD.value
    if _MAX_FACES.value != 0:
        if not _DATA_DIR.value:
            raise app.UsageError("--data_dir is required for the accuracy table.")
        faces = load_faces(_DATA_DIR.value, _SPLIT.value, _MAX_FACES.value)
        truth = np.stack([points for _, _, points in faces])
        rows, curves, per_face = [], {}, {"names": [name for name, _, _ in faces]}
        dlib_result = run_dlib(faces, _DLIB_MODEL.value, _DLIB_BOXES.value, _UPSAMPLE.value)
        dlib_score = score(dlib_result["landmarks"], truth, threshold)
        if _DLIB_BOXES.value == "hog":
            note = (f"its HOG detector's boxes; missed {len(dlib_result['missed'])} faces "
                    f"(given the mapped landmark box); detector "
                    f"{np.median(dlib_result['detect_ms']):.1f} ms per image "
                    f"(upsample {_UPSAMPLE.value})")
        else:
            note = "the true landmark box as its face box"
        label = "dlib 68-point shape predictor"
        rows.append((label, dlib_score, dlib_result["ms"], note))
        curves[label] = dlib_score["errors"]
        per_face["dlib"] = dlib_score["errors"].tolist()
        bias = np.mean(dlib_result["landmarks"] - truth, axis=(0, 1))
        if _ZOO_MODEL.value:
            model = load_zoo_model(_ZOO_MODEL.value, _ZOO_WEIGHTS.value)
            flip_test = _ZOO_FLIP_TEST.value
            zoo_result = run_zoo(faces, model, flip_test=flip_test)
            zoo_score = score(zoo_result["landmarks"], truth, threshold)
            label = (_ZOO_LABEL.value or f"zoo {model.name}") + (" + flip test" if flip_test
                                                                 else "")
            rows.append((label, zoo_score, zoo_result["ms"],
                         f"weights {model.weights}; the zoo's 1.25x landmark-box crop, "
                         f"{model.input_size} px, Keras batch "
                         + ("2 (the crop and its mirror)" if flip_test else "1")))
            curves[label] = zoo_score["errors"]
            per_face["zoo"] = zoo_score["errors"].tolist()
        table = format_table(rows, threshold)
        print(f"\n300-W {_SPLIT.value} subset at {_DATA_DIR.value}: {len(faces)} faces "
              "(here: the HELEN half of the common subset)")
        print(table)
        print(f"\ndlib's mean offset from the truth (x, y): {bias[0]:+.2f}, {bias[1]:+.2f} px; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        if _CED.value:
            import zoo.metrics

            zoo.metrics.plot_ced(curves, _CED.value, threshold=threshold,
                                 title=f"CED, 300-W {_SPLIT.value} (HELEN half), {len(faces)} faces")
            print(f"CED plot: {_CED.value}")
        if _JSON.value:
            with open(_JSON.value, "w", encoding="utf-8") as handle:
                json.dump({"table": table, "per_face_nme": per_face}, handle, indent=1)
    mediapipe = _MEDIAPIPE_MODEL.value
    with tempfile.TemporaryDirectory() as temporary:
        if mediapipe is None and _MEDIAPIPE_WHEEL.value:
            mediapipe = extract_mediapipe_model(_MEDIAPIPE_WHEEL.value, temporary)
        if mediapipe:
            run_latency(mediapipe, _LATENCY_PRESETS.value, shlex.split(_LATENCY_ARGS.value))


if __name__ == "__main__":
    app.run(main)
