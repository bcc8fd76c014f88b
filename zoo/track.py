"""Video landmark tracking from the command line: ``python -m zoo.track``.

Reads a video file (or a camera: an all-digit INPUT is a camera index), finds faces, tracks each
with the streaming tracker and its explicit state (Sec. 4.2, Eq. 13: V_t = U_t + lambda V_{t-1}),
draws the landmarks and writes the annotated video plus one row per frame and face (CSV and/or
JSON).

    python -m zoo.track clip.mp4 --output clip_tracked.mp4 --csv clip.csv \\
        --model aheat1d_mobile_300w --weights runs/mobile/best.weights.h5

A face is lost (its track and state dropped, and the next frame re-detects) when its mean
landmark score falls below ``--min_score`` or its landmarks leave the crop. The face detector
also runs every ``--redetect_every`` frames to start tracks for new faces. By default it uses
the trained weights the package ships (the mobile tracker's, else the mobile detector's wrapped
with a zero refinement), offline; a preset without trained weights warns that its landmarks are
random: pass ``--weights``.
"""
import argparse
import csv
import io
import json
import os
import sys

import cv2
import numpy as np

from zoo import _console
from zoo import faces as _faces


class FaceTrack:
    """One tracked face: its id, crop box, tracker state and last landmarks."""

    def __init__(self, face_id, box, state):
        self.face_id = face_id
        self.box = np.asarray(box, np.float64)
        self.state = state
        self.landmarks = None
        self.scores = None


def _iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class VideoTracker:
    """Multi-face tracking over frames: detection, streaming steps, loss and re-detection.

    Args:
        stream: a ``zoo.models.tracker.Streaming`` (``zoo.inference.load_tracker``).
        face_detector: callable RGB image -> (K, 4) boxes (``zoo.inference.make_face_detector``).
        margin: crop side = ``max(box w, h) * (1 + margin)``.
        redetect_every: run the face detector every this many frames for new faces.
        min_score: a face whose mean landmark score is below this is lost.
        max_faces: most faces tracked at once.

    Example:
        >>> import zoo.data.readers, zoo.inference, zoo.track
        >>> stream, info = zoo.inference.load_tracker("aheat1d_mobile_300w")
        >>> tracker = zoo.track.VideoTracker(stream, zoo.inference.make_face_detector())
        >>> for frame in ("000006.jpg", "000009.jpg"):  # two frames of 300-VW video 001
        ...     path = fixtures_dir / "300vw" / "001" / "imgs" / frame
        ...     faces = tracker.step(zoo.data.readers.load_image(path))
        >>> [(face_id, landmarks.shape, scores.shape) for face_id, landmarks, scores in faces][0]
        (0, (68, 2), (68,))
    """

    def __init__(self, stream, face_detector, margin=0.25, redetect_every=10, min_score=0.05,
                 max_faces=4):
        if isinstance(redetect_every, bool) or not isinstance(redetect_every, int) \
                or redetect_every < 1:
            raise ValueError(f"`redetect_every` must be a positive int. "
                             f"Received: redetect_every={redetect_every!r}")
        if isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1:
            raise ValueError(f"`max_faces` must be a positive int. Received: max_faces={max_faces!r}")
        self.stream = stream
        self.face_detector = face_detector
        self.margin = float(margin)
        self.redetect_every = redetect_every
        self.min_score = float(min_score)
        self.max_faces = max_faces
        self.input_size = int(stream.step_model.input["frame"].shape[1])
        self.tracks = []
        self.frame_index = 0
        self._next_id = 0

    def _detect_new_faces(self, image):
        boxes = np.asarray(self.face_detector(image), np.float64).reshape(-1, 4)
        for box in boxes:
            if len(self.tracks) >= self.max_faces:
                break
            if all(_iou(box, track.box) < 0.3 for track in self.tracks):
                self.tracks.append(FaceTrack(self._next_id, box, self.stream.initial_state(1)))
                self._next_id += 1

    def step(self, image):
        """Tracks the faces of one RGB frame.

        Runs the face detector when no face is tracked or every ``redetect_every`` frames,
        steps every track with its own state, and drops the tracks that are lost.

        Args:
            image: one frame, RGB (or anything ``zoo.faces.to_rgb_uint8`` takes).

        Returns:
            list of ``(face_id, landmarks (N, 2) float32 image pixels, scores (N,))``, one per
            face tracked in this frame (a face lost in this frame is still reported).

        Example:
            >>> import zoo.inference, zoo.track
            >>> stream, info = zoo.inference.load_tracker("aheat1d_mobile_300w")
            >>> tracker = zoo.track.VideoTracker(stream, zoo.inference.make_face_detector())
            >>> tracker.step(np.zeros((240, 320, 3), np.uint8))  # a black frame: no face
            []
        """
        image = _faces.to_rgb_uint8(image)
        if not self.tracks or self.frame_index % self.redetect_every == 0:
            self._detect_new_faces(image)
        self.frame_index += 1
        if not self.tracks:
            return []
        crops, matrices = [], []
        for track in self.tracks:
            crop, matrix = _faces.crop_face(image, track.box, self.input_size, self.margin)
            crops.append(crop)
            matrices.append(matrix)
        state = {name: np.concatenate([np.asarray(t.state[name]) for t in self.tracks])
                 for name in self.stream.state_shapes}
        # One compiled call for all faces: predict_on_batch runs a traced function, where
        # Streaming.step calls the step model eagerly (much slower per frame on a CPU).
        outputs = self.stream.step_model.predict_on_batch(
            {"frame": np.stack(crops).astype(np.float32), **state})
        landmarks = np.asarray(outputs["landmarks"])
        scores = np.asarray(outputs["scores"])
        new_state = {name: np.asarray(outputs[name]) for name in self.stream.state_shapes}
        results, kept = [], []
        for i, track in enumerate(self.tracks):
            track.state = {name: value[i:i + 1] for name, value in new_state.items()}
            in_crop = np.all((landmarks[i] >= -0.5) & (landmarks[i] <= self.input_size - 0.5))
            points = _faces.to_image_coordinates(landmarks[i], matrices[i]).astype(np.float32)
            new_box = np.concatenate([points.min(0), points.max(0)]).astype(np.float64)
            side = max(new_box[2] - new_box[0], new_box[3] - new_box[1])
            old_side = max(track.box[2] - track.box[0], track.box[3] - track.box[1])
            # Lost: low confidence, points outside the crop, or a box that collapsed/exploded.
            lost = (float(scores[i].mean()) < self.min_score or not in_crop
                    or not np.all(np.isfinite(points)) or not 0.5 < side / old_side < 2.0)
            results.append((track.face_id, points, scores[i].astype(np.float32)))
            if not lost:
                track.box, track.landmarks, track.scores = new_box, points, scores[i]
                kept.append(track)
        self.tracks = kept
        return results


def flicker(landmarks, normalizer):
    """Mean frame-to-frame landmark motion, normalised: the jitter of a static face.

    ``mean over t >= 1 and n of ||p_{t,n} - p_{t-1,n}|| / d``, with ``d`` the inter-ocular
    distance (or any face-size normaliser). On a clip of a still face with per-frame pixel
    noise, every motion is flicker.

    Args:
        landmarks: ``(T, N, 2)`` (one clip) or ``(B, T, N, 2)`` (B clips), T >= 2.
        normalizer: scalar or ``(B,)`` face size per clip.

    Returns:
        float: the flicker as a fraction of ``normalizer`` (reports print percent).

    Example:
        >>> import numpy as np, zoo.track
        >>> points = np.zeros((3, 2, 2)); points[1:, :, 0] = 1.0
        >>> zoo.track.flicker(points, normalizer=10.0)
        0.05
    """
    points = np.asarray(landmarks, np.float64)
    if points.ndim == 3:
        points = points[None]
    if points.ndim != 4 or points.shape[-1] != 2 or points.shape[1] < 2:
        raise ValueError("`landmarks` must be (T, N, 2) or (B, T, N, 2) with T >= 2. "
                         f"Received: landmarks.shape={np.shape(landmarks)}")
    normalizer = np.broadcast_to(np.asarray(normalizer, np.float64), (points.shape[0],))
    if not np.all(normalizer > 0):
        raise ValueError(f"`normalizer` must be > 0. Received: normalizer={normalizer}")
    steps = np.linalg.norm(np.diff(points, axis=1), axis=-1)  # (B, T - 1, N)
    return float(np.mean(steps / normalizer[:, None, None]))


def jitter(predicted, truth, normalizer):
    """Mean frame-to-frame motion error, normalised: the jitter of landmarks on a moving face.

    ``mean over t >= 1 and n of ||(p_{t,n} - p_{t-1,n}) - (g_{t,n} - g_{t-1,n})|| / d_t``: the
    part of the predicted motion that the face did not make. On a still face (``g`` constant)
    it is :func:`flicker`; a prediction with a constant offset from the truth has none.

    Args:
        predicted: ``(T, N, 2)`` or ``(B, T, N, 2)``, T >= 2.
        truth: the ground truth, same shape.
        normalizer: scalar, ``(B,)`` per clip or ``(B, T)`` per frame (e.g. the inter-ocular
            distance; frame t's step is divided by ``d_t``).

    Returns:
        float: the jitter as a fraction of ``normalizer``.

    Example:
        >>> import numpy as np, zoo.track
        >>> truth = np.cumsum(np.ones((3, 2, 2)), axis=0)  # the face moves 1 px per frame
        >>> zoo.track.jitter(truth + 5.0, truth, normalizer=10.0)  # offset, no jitter
        0.0
    """
    predicted = np.asarray(predicted, np.float64)
    truth = np.asarray(truth, np.float64)
    if predicted.shape != truth.shape:
        raise ValueError(f"`predicted` and `truth` must have one shape. Received: "
                         f"predicted.shape={predicted.shape}, truth.shape={truth.shape}")
    if predicted.ndim == 3:
        predicted, truth = predicted[None], truth[None]
    if predicted.ndim != 4 or predicted.shape[-1] != 2 or predicted.shape[1] < 2:
        raise ValueError("`predicted` must be (T, N, 2) or (B, T, N, 2) with T >= 2. "
                         f"Received: predicted.shape={np.shape(predicted)}")
    count, length = predicted.shape[:2]
    normalizer = np.asarray(normalizer, np.float64)
    normalizer = normalizer[:, None] if normalizer.ndim == 1 else normalizer
    normalizer = np.broadcast_to(normalizer, (count, length))
    if not np.all(normalizer > 0):
        raise ValueError(f"`normalizer` must be > 0. Received: normalizer={normalizer}")
    error = np.diff(predicted, axis=1) - np.diff(truth, axis=1)  # (B, T - 1, N, 2)
    steps = np.linalg.norm(error, axis=-1) / normalizer[:, 1:, None]
    return float(np.mean(steps))


def _open_capture(source):
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        raise ValueError(f"OpenCV cannot open the video or camera. Received: input={source!r}")
    return capture


def parse_args(argv=None):
    """Parses the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m zoo.track", description=__doc__.split("\n")[0])
    parser.add_argument("input", help="video file, or a camera index (all digits)")
    parser.add_argument("--output", required=True, help="annotated video (.mp4 or .avi)")
    parser.add_argument("--csv", default=None, help="per-frame, per-face landmarks (CSV)")
    parser.add_argument("--json", default=None, help="per-frame, per-face landmarks (JSON)")
    parser.add_argument("--model", default=None,
                        help="tracker or detector preset, or a tracker .keras file "
                             "(default: the mobile 300VW tracker preset if registered, else "
                             "aheat1d_mobile_300w)")
    parser.add_argument("--weights", default=None, help="tracker checkpoint (.weights.h5/.keras)")
    parser.add_argument("--detector_weights", default=None, help="detector checkpoint")
    parser.add_argument("--face_detector", default="haar", help="'haar' or a YuNet .onnx path")
    parser.add_argument("--redetect_every", type=int, default=10)
    parser.add_argument("--min_score", type=float, default=0.05)
    parser.add_argument("--max_faces", type=int, default=4)
    parser.add_argument("--margin", type=float, default=0.25)
    parser.add_argument("--max_frames", type=int, default=None, help="stop after this many")
    parser.add_argument("--fps", type=float, default=None, help="output fps (default: input's)")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--verbose", action="store_true", help=_console.VERBOSE_HELP)
    return parser.parse_args(argv)


def _default_model():
    from zoo.models import presets

    from zoo import weights

    # The mobile tracker when it has trained weights, else the mobile detector with its shipped
    # weights (load_tracker wraps it with a zero refinement: it tracks as it detects).
    trackers = [n for n in presets.list_models()
                if presets.is_clip_model(n) and "mobile" in n]
    trained = [n for n in trackers if weights.has_trained_weights(presets.get_preset(n))]
    return trained[0] if trained else "aheat1d_mobile_300w"


def run(args):
    """Runs tracking for parsed ``args``; returns a summary dict (frames, rows, weights)."""
    import tqdm

    import zoo.draw
    from zoo import inference

    capture = _open_capture(args.input)
    try:
        stream, info = inference.load_tracker(args.model or _default_model(),
                                              weights=args.weights,
                                              detector_weights=args.detector_weights)
        tracker = VideoTracker(stream, inference.make_face_detector(args.face_detector),
                               margin=args.margin, redetect_every=args.redetect_every,
                               min_score=args.min_score, max_faces=args.max_faces)
    except Exception:
        capture.release()
        raise
    fps = args.fps or capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    total = total if total > 0 else None  # cameras report 0 or -1
    if args.max_frames is not None:
        total = min(total, args.max_frames) if total else args.max_frames
    num = info["num_landmarks"]
    header = ["frame", "face_id"] + [f"{a}{i}" for i in range(num) for a in "xy"] + ["score"]
    writer, csv_file, json_file, rows, frame_index = None, None, None, 0, 0
    # Both tables are written and flushed frame by frame, each a whole frame per write, so a
    # run killed mid-video leaves them valid up to the last written frame (issue 17).
    if args.csv:
        csv_file = open(args.csv, "w", newline="", encoding="utf-8")
        csv.writer(csv_file).writerow(header)
        csv_file.flush()
    if args.json:
        json_file = _FrameJSON(args.json, {"model": info["name"], "weights": info["weights"]})
    scheme = info["scheme"]
    try:
        with tqdm.tqdm(total=total, unit="frame", disable=args.no_progress) as progress:
            while args.max_frames is None or frame_index < args.max_frames:
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                faces = tracker.step(rgb)
                drawn = rgb
                frame_record, frame_rows = [], io.StringIO()
                for face_id, points, scores in faces:
                    drawn = zoo.draw.draw_landmarks(drawn, points, scheme=scheme, scores=scores)
                    score = float(scores.mean())
                    if args.csv:
                        csv.writer(frame_rows).writerow([frame_index, face_id]
                                                        + [f"{v:.3f}" for v in points.reshape(-1)]
                                                        + [f"{score:.4f}"])
                    frame_record.append({"face_id": int(face_id),
                                         "landmarks": np.round(points, 3).tolist(),
                                         "score": score})
                    rows += 1
                if csv_file is not None:
                    csv_file.write(frame_rows.getvalue())
                    csv_file.flush()
                if json_file is not None:
                    json_file.append({"frame": frame_index, "faces": frame_record})
                if writer is None:
                    writer = _open_writer(args.output, fps, drawn.shape[1], drawn.shape[0])
                writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
                frame_index += 1
                progress.update(1)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if csv_file is not None:
            csv_file.close()
        if json_file is not None:
            json_file.close()
    return {"frames": frame_index, "rows": rows, "model": info["name"],
            "weights": info["weights"]}


class _FrameJSON:
    """The ``--json`` file, a valid JSON document after every frame.

    ``{"model": ..., "weights": ..., "frames": [...]}``: each frame record is written over the
    closing ``]}`` together with a new ``]}``, in one write, and flushed.
    """

    def __init__(self, path, header):
        self._file = open(path, "wb")
        head = json.dumps(dict(header, frames=[])).encode("ascii")  # ends with b"[]}"
        self._file.write(head)
        self._file.flush()
        self._end, self._empty = len(head), True

    def append(self, record):
        text = ("" if self._empty else ",") + json.dumps(record) + "]}"
        self._file.seek(self._end - 2)
        self._file.write(text.encode("ascii"))
        self._file.flush()
        self._end, self._empty = self._end - 2 + len(text), False

    def close(self):
        self._file.close()


def _open_writer(path, fps, width, height):
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.lower().endswith(".mp4") else "MJPG"))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    writer = cv2.VideoWriter(path, fourcc, float(fps), (width, height))
    if not writer.isOpened():
        raise ValueError(f"OpenCV cannot write this video. Received: output={path!r}")
    return writer


def main(argv=None):
    """Command-line entry point; returns the process exit code."""
    args = parse_args(argv)
    try:
        summary = run(args)
    except (ValueError, OSError) as error:  # a bad input: its message, not a traceback
        if args.verbose:
            raise
        print(f"python -m zoo.track: error: {error}", file=sys.stderr)
        return 2
    print(f"Tracked {summary['frames']} frames, {summary['rows']} face rows with "
          f"{summary['model']} (weights: {summary['weights']}) -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
