"""zoo.track.VideoTracker carries the tracker state of Eq. 13 from frame to frame, per face.

The refinement here has a non-zero CNN_4 (``refinement_initializer="glorot_uniform"``), so the
state changes the landmarks: a tracker that reset its state every frame, or mixed the states of
two faces, gives other landmarks and fails these tests (a zero CNN_4 would hide both).
"""
import numpy as np
import pytest

import zoo
import zoo.track

BOXES = np.array([[10, 10, 100, 100], [130, 10, 220, 100]], np.float32)
NUM_FRAMES = 4


@pytest.fixture(scope="module")
def stream():
    tracker = zoo.models.build_aheat1d_tracker(
        num_landmarks=68, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
        heatmap_length=64, head_channels=8, compress_steps=1, refinement_filters=4,
        refinement_downsample=2, refinement_initializer="glorot_uniform")
    return zoo.streaming(tracker)


@pytest.fixture(scope="module")
def image():
    # Two different textures, one per face box, so the two faces' states differ.
    return np.random.default_rng(0).integers(0, 256, (120, 240, 3), dtype=np.uint8)


class _RecordingModel:
    """Forwards to the step model and records every batch's state inputs and outputs."""

    def __init__(self, model, tracker_of):
        self._model, self._tracker_of, self.calls = model, tracker_of, []

    def __getattr__(self, name):
        return getattr(self._model, name)

    def predict_on_batch(self, inputs):
        outputs = self._model.predict_on_batch(inputs)
        ids = [track.face_id for track in self._tracker_of().tracks]
        self.calls.append({"ids": ids,
                           "inputs": {k: np.array(v) for k, v in inputs.items()},
                           "outputs": {k: np.array(v) for k, v in outputs.items()}})
        return outputs


class _RecordingStream:
    def __init__(self, stream, tracker_of):
        self._stream = stream
        self.step_model = _RecordingModel(stream.step_model, tracker_of)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _run(stream, image, boxes):
    holder = {}
    spy = _RecordingStream(stream, lambda: holder["tracker"])
    tracker = zoo.track.VideoTracker(spy, lambda rgb: boxes, redetect_every=100, min_score=-1.0)
    holder["tracker"] = tracker
    results = [{face_id: points for face_id, points, _ in tracker.step(image)}
               for _ in range(NUM_FRAMES)]
    return results, spy.step_model.calls


def test_refinement_is_not_zero_so_the_state_moves_the_landmarks(stream, image):
    frame = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    fresh, state = stream.step(frame, stream.initial_state(1))
    carried, _ = stream.step(frame, state)
    assert np.abs(np.asarray(state["state_x"])).max() > 0.01
    moved = np.abs(np.asarray(fresh["landmarks"]) - np.asarray(carried["landmarks"])).max()
    assert moved > 0.01, moved  # pixels in the 32 px crop


def test_state_is_carried_and_kept_per_face(stream, image):
    results, calls = _run(stream, image, BOXES)
    assert len(calls) == NUM_FRAMES
    assert all(sorted(r) == [0, 1] for r in results)  # both faces tracked on every frame
    names = sorted(stream.state_shapes)
    for name in names:  # a new face starts from V_0 = 0
        assert np.all(calls[0]["inputs"][name] == 0.0)
    carried = 0
    for previous, current in zip(calls, calls[1:]):
        for row, face_id in enumerate(current["ids"]):
            before = previous["ids"].index(face_id)
            for name in names:
                fed = current["inputs"][name][row]
                # Eq. 13: the V_{t-1} fed for this face is the V its own previous step returned
                np.testing.assert_array_equal(fed, previous["outputs"][name][before])
                assert np.abs(fed).max() > 0.01  # not a reset to zeros
            carried += 1
        rows = [current["inputs"][names[0]][current["ids"].index(i)] for i in (0, 1)]
        assert np.abs(rows[0] - rows[1]).max() > 1e-3  # each face has its own state
    assert carried == 2 * (NUM_FRAMES - 1)


def test_each_face_tracks_as_if_it_were_alone(stream, image):
    # Face 1 of the two-face run and the only face of a run on its box alone: same landmarks
    # on every frame (state rows neither mixed nor shared between faces).
    together, _ = _run(stream, image, BOXES)
    alone, _ = _run(stream, image, BOXES[1:])
    for frame_together, frame_alone in zip(together, alone):
        np.testing.assert_allclose(frame_together[1], frame_alone[0], atol=1e-2)


def test_carried_state_gives_other_landmarks_than_a_fresh_state(stream, image):
    # The landmarks reported for frame 2 are those of the carried state, not of V = 0.
    results, calls = _run(stream, image, BOXES)
    last = calls[-1]
    fresh = stream.step_model.predict_on_batch(
        {"frame": last["inputs"]["frame"], **stream.initial_state(len(last["ids"]))})
    reported = np.asarray(last["outputs"]["landmarks"])
    assert np.abs(np.asarray(fresh["landmarks"]) - reported).max() > 0.01
    assert results[-1][last["ids"][0]].shape == (68, 2)
