"""Tests for zoo.track: the video tracking CLI and the multi-face VideoTracker."""
import csv
import json
import os
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

import zoo
import zoo.track
from zoo.data.synthface import SynthFace

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
NUM_FRAMES = 8


@pytest.fixture(scope="module")
def synth_video(tmp_path_factory):
    frames, landmarks, _ = SynthFace(image_size=160, seed=0).video(NUM_FRAMES, seed=3)
    path = str(tmp_path_factory.mktemp("video") / "in.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 160))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path, frames, landmarks


@pytest.fixture(scope="module")
def tiny_stream():
    tracker = zoo.models.build_aheat1d_tracker(
        num_landmarks=68, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
        heatmap_length=64, head_channels=8, compress_steps=1, refinement_filters=4,
        refinement_downsample=2)
    return zoo.streaming(tracker)


def _count_frames(path):
    capture = cv2.VideoCapture(path)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_cli_on_synthface_video_writes_video_csv_and_json(synth_video, tmp_path):
    path, _, _ = synth_video
    out, table, records = tmp_path / "out.mp4", tmp_path / "out.csv", tmp_path / "out.json"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "zoo.track", path, "--output", str(out), "--csv", str(table),
         "--json", str(records), "--model", "aheat1d_mobile_300w", "--no_progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _count_frames(str(out)) == NUM_FRAMES
    with open(table, newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    assert header[:4] == ["frame", "face_id", "x0", "y0"] and header[-1] == "score"
    assert len(header) == 2 + 2 * 68 + 1
    frames = json.loads(records.read_text())["frames"]
    assert [f["frame"] for f in frames] == list(range(NUM_FRAMES))
    # One CSV row per frame and face, in the same order as the JSON record.
    expected = [(f["frame"], face["face_id"]) for f in frames for face in f["faces"]]
    assert [(int(r[0]), int(r[1])) for r in rows] == expected
    assert len(rows) >= NUM_FRAMES // 2  # the Haar finder sees the synthetic face most frames
    values = np.array([[float(v) for v in r[2:]] for r in rows])
    assert values.shape == (len(rows), 2 * 68 + 1) and np.all(np.isfinite(values))


def test_tracker_one_row_per_face_and_frame(synth_video, tiny_stream):
    _, frames, landmarks = synth_video
    boxes = np.concatenate([landmarks[0].min(0), landmarks[0].max(0)])
    tracker = zoo.track.VideoTracker(tiny_stream, lambda image: boxes[None], min_score=-1.0)
    for frame in frames[:3]:
        faces = tracker.step(frame)
        assert len(faces) == 1
        face_id, points, scores = faces[0]
        assert points.shape == (68, 2) and scores.shape == (68,)
        assert np.all(np.isfinite(points))


def test_tracker_two_faces_get_two_ids_and_carry_state(tiny_stream):
    image = np.full((120, 240, 3), 128, np.uint8)
    boxes = np.array([[10, 10, 100, 100], [130, 10, 220, 100]], np.float32)
    calls = []

    def detector(rgb):
        calls.append(1)
        return boxes

    tracker = zoo.track.VideoTracker(tiny_stream, detector, redetect_every=100, min_score=-1.0)
    faces = tracker.step(image)
    assert sorted(f[0] for f in faces) == [0, 1]
    # Tracks that were kept carry the state of Eq. 13 (shape of one video each).
    for track in tracker.tracks:
        for name, shape in tiny_stream.state_shapes.items():
            assert track.state[name].shape == (1,) + shape


def test_lost_faces_are_redetected_with_new_ids(tiny_stream):
    image = np.full((100, 100, 3), 90, np.uint8)
    calls = []

    def detector(rgb):
        calls.append(1)
        return np.array([[20, 20, 80, 80]], np.float32)

    # min_score above any score in [0, 1]: every face is lost after each frame.
    tracker = zoo.track.VideoTracker(tiny_stream, detector, redetect_every=100, min_score=1.5)
    ids = [tracker.step(image)[0][0] for _ in range(3)]
    assert ids == [0, 1, 2]
    assert len(calls) == 3 and tracker.tracks == []


def test_no_face_gives_no_rows(tiny_stream):
    tracker = zoo.track.VideoTracker(tiny_stream, lambda image: np.zeros((0, 4)))
    assert tracker.step(np.zeros((64, 64, 3), np.uint8)) == []


def test_bad_arguments(tiny_stream, tmp_path):
    with pytest.raises(ValueError, match="redetect_every"):
        zoo.track.VideoTracker(tiny_stream, lambda image: [], redetect_every=0)
    with pytest.raises(ValueError, match="max_faces"):
        zoo.track.VideoTracker(tiny_stream, lambda image: [], max_faces=0)
    with pytest.raises(ValueError, match="cannot open"):
        zoo.track._open_capture(str(tmp_path / "missing.mp4"))
    with pytest.raises(SystemExit):
        zoo.track.parse_args(["in.mp4"])  # --output is required


def test_flicker_is_normalised_mean_frame_to_frame_motion():
    rng = np.random.default_rng(0)
    still = np.tile(rng.uniform(0, 100, (1, 68, 2)), (5, 1, 1))
    assert zoo.track.flicker(still, 40.0) == 0.0
    moving = still.copy()
    moving[1::2] += [3.0, 4.0]  # 5 px back and forth every frame
    assert zoo.track.flicker(moving, 50.0) == pytest.approx(0.1)
    both = np.stack([still, moving])
    assert zoo.track.flicker(both, [10.0, 50.0]) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="landmarks.shape"):
        zoo.track.flicker(still[:1], 1.0)
    with pytest.raises(ValueError, match="normalizer"):
        zoo.track.flicker(still, 0.0)
