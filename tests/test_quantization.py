"""zoo.tools.quantization: the worked example of Eq. 3-5, readers, HRNet crop, the NME table."""
import os

import numpy as np
import pytest

from zoo.codecs import Heatmap1DCodec, Heatmap2DCodec
from zoo.tools import quantization


def test_worked_example_of_section_3():
    # Paper: (142.84, 188.72) gives E = 1.11 at L/F = 0.5 and 0.18 at L/F = 3.0.
    assert round(quantization.floor_quantization_error((142.84, 188.72), 0.5), 2) == 1.11
    assert round(quantization.floor_quantization_error((142.84, 188.72), 3.0), 2) == 0.18
    lines = quantization.worked_example()
    assert any("L/F = 0.5" in line and "E = 1.11" in line for line in lines)
    assert any("L/F = 3.0" in line and "E = 0.18" in line for line in lines)
    with pytest.raises(ValueError, match="ratio=0"):
        quantization.floor_quantization_error((1.0, 1.0), 0)


def test_hrnet_csv_reader_and_crop(fixtures_dir):
    path = os.path.join(fixtures_dir, "300w", "hrnet_csv", "face_landmarks_300w_test.csv")
    faces = quantization.read_hrnet_csv(path)
    assert len(faces) == 600
    points, center, scale = faces[0]
    assert points.shape == (68, 2)
    # First row: outdoor_044, scale 1.19, centre (218.0, 209.5) 1-based, x0 = 99.485 1-based.
    np.testing.assert_allclose(points[0], [98.485, 146.184])
    np.testing.assert_allclose(center, [217.0, 208.5])
    assert scale == 1.19
    crop = quantization.hrnet_crop(points, center, scale, 256)
    # The crop centre maps to 127.5 and the 1.25 padding keeps the face well inside.
    np.testing.assert_allclose(quantization.hrnet_crop(center[None], center, scale, 256),
                               [[127.5, 127.5]])
    assert crop.min() > 0 and crop.max() < 255
    side = 1.25 * 200 * 1.19
    np.testing.assert_allclose(crop[1] - crop[0], (points[1] - points[0]) * 256 / side)
    with pytest.raises(ValueError, match="scale=0.0"):
        quantization.hrnet_crop(np.ones((68, 2)))


def test_readers_for_pts_json_and_cofw(fixtures_dir):
    pts_dir = os.path.join(fixtures_dir, "300w", "pts_images")
    faces = quantization.read_annotations(pts_dir)
    assert len(faces) == len([n for n in os.listdir(pts_dir) if n.endswith(".pts")])
    assert all(f[0].shape == (68, 2) for f in faces)
    wflw = quantization.read_annotations(os.path.join(fixtures_dir, "wflw", "mmpose",
                                                      "test_wflw.json"))
    assert len(wflw) == 4 and wflw[0][0].shape == (98, 2)  # 4 faces in 2 images
    cofw = quantization.read_annotations(os.path.join(fixtures_dir, "cofw", "cofw68_sample"))
    assert len(cofw) == 5 and cofw[0][0].shape == (68, 2)
    with pytest.raises(ValueError, match="Unknown annotation format"):
        quantization.read_annotations(os.path.join(fixtures_dir, "SOURCES.md"))


def test_representation_errors_order_on_real_faces(fixtures_dir):
    faces = quantization.read_annotations(
        os.path.join(fixtures_dir, "300w", "hrnet_csv", "face_landmarks_300w_test.csv"))[:40]
    codecs = {"2d64": Heatmap2DCodec(256, 64, method="argmax"),
              "2d64q": Heatmap2DCodec(256, 64, method="quarter_offset"),
              "1d768": Heatmap1DCodec(256, 768, refine=False),
              "1d768r": Heatmap1DCodec(256, 768)}
    errors, info = quantization.representation_errors(faces, codecs)
    assert info == {"faces": 40, "landmarks": 68, "outside": 0}
    assert errors["2d64"] > errors["2d64q"] > errors["1d768"] > errors["1d768r"]
    # Argmax of a uniform offset over a 4-pixel bin: mean error ~0.38 bin; 768 bins: 12x finer.
    assert 8 < errors["2d64"] / errors["1d768"] < 16
    assert errors["1d768r"] < 2e-4


def test_cli_prints_worked_example_and_table(fixtures_dir, capsys, tmp_path):
    pts = os.path.join(fixtures_dir, "300w", "pts_images", "test_1.pts")
    assert quantization.main([pts]) == 0
    out = capsys.readouterr().out
    assert "E = 1.11" in out and "E = 0.18" in out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(quantization.default_codecs())
    row = next(line for line in table if line.startswith("| 1D 768 refined"))
    assert float(row.split("|")[2]) < 0.02
    bad = tmp_path / "five.pts"
    bad.write_text("version: 1\nn_points: 5\n{\n" + "1 2\n" * 5 + "}\n")
    with pytest.raises(ValueError, match="inter-ocular.*num_landmarks=5"):
        quantization.main([str(bad)])
