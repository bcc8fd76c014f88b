"""benchmarks/peers.py: the box matching, the zoo's crop mapping and the MediaPipe extraction."""
import importlib
import pathlib
import sys
import types
import zipfile

import numpy as np
import pytest

PEERS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    # Imported by name, once per process: a second load of the file (under another name)
    # would define its absl flags twice.
    sys.path.insert(0, str(PEERS.parent))
    return importlib.import_module("peers")


def test_best_match_and_box_map(peers):
    target = np.array([10.0, 10.0, 50.0, 50.0])
    boxes = [[100, 100, 140, 140], [12, 14, 48, 52], [0, 0, 30, 30]]
    assert peers.best_match(boxes, target) == 1
    assert peers.best_match([[100, 100, 140, 140]], target) is None
    assert peers.best_match([], target) is None
    # Detector boxes 0.8x the landmark box, shifted down by 0.1 of its side: learnt exactly.
    landmark_boxes = np.array([[0, 0, 10, 10], [20, 20, 40, 40], [5, 5, 25, 25]], float)
    side = landmark_boxes[:, 2:3] - landmark_boxes[:, 0:1]
    centre = (landmark_boxes[:, :2] + landmark_boxes[:, 2:]) / 2 + [0.0, 0.1] * side
    detector_boxes = np.concatenate([centre - 0.4 * side, centre + 0.4 * side], axis=1)
    to_box = peers.fit_box_map(landmark_boxes, detector_boxes)
    np.testing.assert_allclose(to_box(np.array([0.0, 0.0, 100.0, 100.0])),
                               [10.0, 20.0, 90.0, 100.0], atol=1e-9)


def test_run_zoo_maps_crop_landmarks_back_to_the_image(peers):
    """A fake model that answers the brightest crop pixel: back in the image, the dot itself."""
    rng = np.random.default_rng(0)
    faces, dots = [], []
    for index in range(3):
        image = np.zeros((300, 260, 3), np.uint8)
        dot = rng.uniform(90, 170, 2)
        image[int(round(dot[1])), int(round(dot[0]))] = 255
        truth = dot + rng.uniform(-60, 60, (68, 2))
        faces.append((f"face{index}", image, truth))
        dots.append(np.round(dot))

    def predict(crops):
        crop = crops[0, ..., 0].astype(float)
        y, x = np.unravel_index(np.argmax(crop), crop.shape)
        return {"landmarks": np.tile([[x, y]], (1, 68, 1)).astype(np.float32)}

    model = types.SimpleNamespace(input_size=256, predict=predict)
    result = peers.run_zoo(faces, model)
    assert result["landmarks"].shape == (3, 68, 2) and result["ms"].shape == (3,)
    for points, dot in zip(result["landmarks"], dots):
        np.testing.assert_allclose(points, np.tile(dot, (68, 1)), atol=1.0)


def test_score_and_table(peers):
    truth = np.random.default_rng(1).uniform(0, 100, (4, 68, 2))
    exact = peers.score(truth, truth)
    assert exact["nme"] == 0.0 and exact["fr"] == 0.0 and exact["auc"] == pytest.approx(1.0)
    table = peers.format_table([("exact", exact, np.array([1.0, 3.0]), "note")])
    assert "| exact | 4 | 0.00 | 0.00 | 100.00 | 2.00 | note |" in table


def test_extract_mediapipe_model(peers, tmp_path):
    wheel = tmp_path / "mediapipe-0.10.21-cp311-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(peers.MEDIAPIPE_MEMBER, b"TFL3 model bytes")
    path = peers.extract_mediapipe_model(str(wheel), str(tmp_path / "out"))
    assert pathlib.Path(path).read_bytes() == b"TFL3 model bytes"
    empty = tmp_path / "mediapipe-0.10.30-cp311-none-any.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("mediapipe/__init__.py", b"")
    with pytest.raises(ValueError, match="0.10.21 is the last release"):
        peers.extract_mediapipe_model(str(empty), str(tmp_path / "out"))
