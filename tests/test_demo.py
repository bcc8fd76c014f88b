"""zoo.demo stages: the tracking video and the export summary (the full demo is `make demo`)."""
import types

import cv2
import numpy as np

import zoo.demo
from zoo.models.aheat1d import build_aheat1d


def _tiny_detector():
    return build_aheat1d(num_landmarks=68, input_size=64, num_stacks=1, width=16,
                         hourglass_depth=2, heatmap_length=128, head_channels=8,
                         compress_steps=1)


def test_tracking_stage_writes_mp4(tmp_path):
    path, errors = zoo.demo.tracking_stage(_tiny_detector(), str(tmp_path), num_frames=5)
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 5 and frames[0].shape == (128, 128, 3)
    assert errors.shape == (5,) and np.all(np.isfinite(errors)) and np.all(errors > 0)
    # Landmarks are drawn: red (ground truth) pixels appear in the BGR frame.
    red = (frames[0][..., 2] > 200) & (frames[0][..., 1] < 80) & (frames[0][..., 0] < 80)
    assert red.sum() > 20


def test_export_stage_reports_failures(tmp_path, monkeypatch):
    import zoo.export

    calls = []

    def ok(model, *args, **kwargs):
        calls.append(model.name)
        return types.SimpleNamespace(path=str(tmp_path / "written"))

    def broken(model, *args, **kwargs):
        raise RuntimeError("parity check failed by 0.5")

    monkeypatch.setattr(zoo.export, "export_saved_model", ok)
    monkeypatch.setattr(zoo.export, "export_tflite", ok)
    monkeypatch.setattr(zoo.export, "export_onnx", broken)
    import zoo.codecs

    results = zoo.demo.export_stage(_tiny_detector(), str(tmp_path), "tiny",
                                    codec=zoo.codecs.Heatmap1DCodec(64, 128))
    assert results["saved_model"].startswith(str(tmp_path / "written"))
    assert results["tflite"].startswith(str(tmp_path / "written"))
    assert results["onnx"].startswith("FAILED: RuntimeError: parity check failed")
    # The exported model is the inference model (landmarks decoded), not the training model.
    assert all(name.endswith("_inference") for name in calls)


def _tiny_landmark_model(tmp_path):
    import zoo
    import zoo.codecs
    import zoo.inference

    path = tmp_path / "tiny.keras"
    zoo.inference.save(_tiny_detector(), str(path), codec=zoo.codecs.Heatmap1DCodec(64, 128))
    return zoo.load(str(path))


def test_photo_stage_annotates_the_shipped_sample_photo(tmp_path):
    import zoo.faces

    photo = zoo.demo.sample_photo()
    image = zoo.faces.read_image(photo)
    assert image.shape == (600, 512, 3)  # matplotlib's grace_hopper.jpg
    result = zoo.demo.photo_stage(str(tmp_path), model=_tiny_landmark_model(tmp_path))
    assert result["photo"] == photo and result["notes"] == []
    drawn = zoo.faces.read_image(result["output"])
    assert result["output"].endswith("photo_landmarks.png") and drawn.shape == image.shape
    # Her face is found (the portrait's face lies around x 150-380, y 100-330).
    faces = result["faces"]
    assert len(faces) >= 1
    overlap = zoo.faces._iou(np.array([150.0, 100.0, 380.0, 330.0]), faces.boxes[:1])[0]
    assert overlap > 0.5, faces.boxes
    assert faces.landmarks.shape == (len(faces), 68, 2)
    changed = np.any(drawn != image, axis=-1)
    x1, y1, x2, y2 = faces.boxes[0].astype(int)
    assert changed[y1 - 2:y2 + 3, x1 - 2:x2 + 3].sum() > 500  # box and landmarks drawn
    assert not changed[450:, :100].any()  # nothing drawn far from the face
