"""Crash safety: SIGKILL during a checkpoint, an export or zoo.track loses nothing written before.

* training (``zoo.training.train_loop``) killed while it writes a checkpoint: started again, it
  resumes from the last *complete* checkpoint, its weights equal that checkpoint's exactly and
  the step count continues from there to the end;
* an export killed mid-way leaves no target (a complete export or nothing);
* ``python -m zoo.track`` killed mid-video leaves its CSV and JSON valid up to the last frame
  written.

Each child process is killed at a point it announces on stdout, so the kill lands where it
should; the training test also kills 0, 20 and 200 ms into a real save of a 25 MB checkpoint.
"""
import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _start(script, cwd, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_when(process, marker, timeout=900, delay=0.0):
    """SIGKILLs ``process`` once it printed a line starting with ``marker``; returns its output."""
    lines, deadline = [], time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if line.startswith(marker):
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "".join(lines[-30:])
    process.wait(timeout=60)
    output = "".join(lines)
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    return output


# --------------------------------------------------------------------------------- training
_TRAIN = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import tensorflow as tf
    sys.path.insert(0, {tests!r})
    import test_crash_safety as t
    from tensorflow.python.checkpoint import checkpoint_management

    output_dir, mode, kill_step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real_save = tf.train.CheckpointManager.save
    real_record = checkpoint_management.update_checkpoint_state_internal

    def save(self, checkpoint_number=None, **kwargs):
        # The weights this checkpoint is about to hold, kept aside to compare with later.
        model = t.CURRENT["model"]
        np.savez(os.path.join(output_dir, f"weights_{{checkpoint_number}}.npz"),
                 *[v.numpy() for v in model.variables])
        if checkpoint_number != kill_step:
            return real_save(self, checkpoint_number=checkpoint_number, **kwargs)
        print(f"SAVING {{checkpoint_number}}", flush=True)
        path = real_save(self, checkpoint_number=checkpoint_number, **kwargs)
        time.sleep(600)  # a kill that comes later still finds ckpt-N the newest complete one
        return path

    def record(save_dir, model_checkpoint_path, *args, **kwargs):
        if mode == "before_state" and model_checkpoint_path.endswith(f"ckpt-{{kill_step}}"):
            # ckpt-N's data and index files are written; the state file still names ckpt-N-2.
            print(f"WRITTEN {{kill_step}}", flush=True)
            time.sleep(600)
        return real_record(save_dir, model_checkpoint_path, *args, **kwargs)

    tf.train.CheckpointManager.save = save
    checkpoint_management.update_checkpoint_state_internal = record
    t.train(output_dir, steps=10)
""")


CURRENT = {}


def _model_fn():
    import keras

    keras.utils.set_random_seed(0)
    # 2.1 M weights (25 MB with Adam's slots): a save takes long enough to be cut in two.
    inputs = keras.Input((512,))
    hidden = keras.layers.Dense(4096, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(8)(hidden))
    CURRENT["model"] = model
    return model


def _loss(targets, outputs):
    import tensorflow as tf

    return tf.reduce_mean(tf.square(targets - outputs), axis=-1)


def train(output_dir, steps):
    """The run under test: 2 checkpoints' worth of steps between saves, seeded data."""
    import tensorflow as tf

    import zoo.training

    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.normal(size=(64, 512)).astype("float32"), rng.normal(size=(64, 8)).astype("float32"))
    ).batch(8, drop_remainder=True).repeat()
    return zoo.training.train_loop(_model_fn, _loss, data, steps=steps, output_dir=output_dir,
                                   checkpoint_every=2, progress=False, learning_rate=1e-2)


def _latest_step(output_dir):
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(os.path.join(output_dir, "checkpoints"))
    return None if latest is None else int(latest.rsplit("-", 1)[1])


@pytest.mark.parametrize("mode,delay", [("before_state", 0.0), ("during_save", 0.0),
                                        ("during_save", 0.02), ("during_save", 0.2)])
def test_sigkill_while_writing_a_checkpoint_resumes_from_the_last_complete_one(
        tmp_path, mode, delay):
    output_dir = str(tmp_path / "run")
    os.makedirs(output_dir)
    child = _start(_TRAIN.format(tests=str(REPO_ROOT / "tests")), tmp_path, output_dir, mode, "6")
    _kill_when(child, "WRITTEN" if mode == "before_state" else "SAVING", delay=delay)
    resumed = _latest_step(output_dir)
    if mode == "before_state":
        # ckpt-6 was on disk but never recorded as complete: the run goes back to ckpt-4.
        assert resumed == 4 and os.path.exists(os.path.join(output_dir, "checkpoints",
                                                            "ckpt-6.index"))
    else:
        assert resumed in (4, 6)  # killed before or inside the save of ckpt-6, or just after
    # Restarted with no step left to take, the model holds the checkpoint's weights exactly.
    restored = train(output_dir, steps=resumed)
    assert restored.start_step == resumed and restored.step == resumed
    expected = np.load(os.path.join(output_dir, f"weights_{resumed}.npz"))
    for index, variable in enumerate(restored.model.variables):
        np.testing.assert_array_equal(variable.numpy(), expected[f"arr_{index}"])
    # Restarted for the whole run: the step count continues from there to the end.
    finished = train(output_dir, steps=10)
    assert finished.start_step == resumed and finished.step == 10
    assert _latest_step(output_dir) == 10


# ---------------------------------------------------------------------------------- export
_EXPORT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import zoo.export
    from zoo.export import _files
    from export_contract import tiny_detector

    fmt, target = sys.argv[1], sys.argv[2]
    real_move = _files.move_into_place

    def move(source, destination):
        # Everything is written and checked in the staging folder; the rename is next.
        print("STAGED", flush=True)
        time.sleep(600)
        return real_move(source, destination)

    _files.move_into_place = move
    model = tiny_detector()
    if fmt == "saved_model":
        zoo.export.export_saved_model(model, target, "tiny", version=1)
    elif fmt == "tflite":
        zoo.export.export_tflite(model, target)
    else:
        zoo.export.export_onnx(model, target)
""")


@pytest.mark.parametrize("fmt", ["saved_model", "tflite", "onnx"])
def test_export_killed_mid_way_leaves_no_partial_target(tmp_path, fmt):
    import zoo.export
    from export_contract import tiny_detector

    base = tmp_path / "exports"
    target = {"saved_model": base, "tflite": base / "m.tflite", "onnx": base / "m.onnx"}[fmt]
    final = base / "tiny" / "1" if fmt == "saved_model" else target
    child = _start(_EXPORT.format(tests=str(REPO_ROOT / "tests")), tmp_path, fmt, str(target))
    _kill_when(child, "STAGED")
    assert not final.exists()  # nothing half-written under the target's name
    leftovers = [p.name for p in final.parent.iterdir()] if final.parent.exists() else []
    assert all(name.startswith(".tmp-") for name in leftovers), leftovers
    # The next export to the same target is not blocked by what the killed one left.
    model = tiny_detector()
    if fmt == "saved_model":
        result = zoo.export.export_saved_model(model, str(base), "tiny", version=1)
    elif fmt == "tflite":
        result = zoo.export.export_tflite(model, target)
    else:
        result = zoo.export.export_onnx(model, target)
    assert pathlib.Path(result.path) == final and final.exists()


# ----------------------------------------------------------------------------------- track
def _write_video(path, num_frames, size=160):
    from zoo.data.synthface import SynthFace

    frames, _, _ = SynthFace(image_size=size, seed=0).video(num_frames, seed=1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (size, size))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


_TRACK = textwrap.dedent("""
    import sys
    import zoo.track

    real_step = zoo.track.VideoTracker.step
    count = [0]

    def step(self, image):
        # Announce frame k once frames 0..k-1 are written; the parent kills after frame 3.
        print(f"FRAME {{count[0]}}", flush=True)
        count[0] += 1
        return real_step(self, image)

    zoo.track.VideoTracker.step = step
    sys.exit(zoo.track.main(sys.argv[1:]))
""")


def test_track_killed_mid_video_leaves_valid_csv_and_json(tmp_path):
    video = tmp_path / "in.avi"
    _write_video(video, 40)
    table, records = tmp_path / "out.csv", tmp_path / "out.json"
    child = _start(_TRACK.format(), tmp_path, str(video), "--output", str(tmp_path / "out.mp4"),
                   "--csv", str(table), "--json", str(records), "--model",
                   "aheat1d_mobile_300w", "--no_progress", "--min_score", "-1")
    _kill_when(child, "FRAME 6")
    with open(table, newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    assert all(len(row) == len(header) for row in rows)  # no row cut in half
    values = np.array([[float(v) for v in row[2:]] for row in rows])
    assert np.all(np.isfinite(values))
    csv_frames = sorted({int(row[0]) for row in rows})
    document = json.loads(records.read_text())  # a complete JSON document
    json_frames = [frame["frame"] for frame in document["frames"]]
    # Frames 0-5 were written when frame 6 started; the kill lands during frame 6.
    assert json_frames == list(range(len(json_frames))) and len(json_frames) >= 6
    # Both hold every frame written before the kill, the faces found in them included.
    assert set(csv_frames) <= set(json_frames)
    faces = [(f["frame"], face["face_id"]) for f in document["frames"] for face in f["faces"]]
    assert [(int(r[0]), int(r[1])) for r in rows] == [f for f in faces if f[0] in csv_frames]
