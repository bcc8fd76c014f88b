"""benchmarks/robustness.py (issue 15, item 7) on a tiny untrained model and 3 fixture faces."""
import importlib
import json
import pathlib
import sys
import types

import numpy as np
import pytest

import zoo
import zoo.loading
from zoo.models import presets

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def robustness():
    # By name, as benchmarks/reproduce.py imports it: one module, its flags defined once.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module("robustness")


@pytest.fixture(scope="module")
def faces(robustness, fixtures_dir):
    return robustness.read_faces(faces_dir=fixtures_dir / "300w" / "pts_images", limit=3)


def test_boxes_and_specs(robustness):
    box = np.array([10.0, 20.0, 110.0, 70.0], np.float32)
    np.testing.assert_allclose(robustness.shifted_box(box, 0.25, (1, -1)), [35, 7.5, 135, 57.5])
    np.testing.assert_allclose(robustness.scaled_box(box, 1.2), [0, 15, 120, 75], atol=1e-4)
    assert len(robustness.directions(8)) == 8
    with pytest.raises(ValueError, match="Received: directions=3"):
        robustness.directions(3)
    assert robustness.parse_model_spec("rdfn=runs/a@w.h5") == ("rdfn", "runs/a", "w.h5")
    assert robustness.parse_model_spec("runs/rdfn_small/") == ("rdfn_small", "runs/rdfn_small/",
                                                              None)


class _Stub:
    """A landmarker that answers from the crop box: truth, or every point at the box centre."""

    def __init__(self, truth_of_image, centre=False):
        self.truth_of_image = truth_of_image
        self.centre = centre

    def detect(self, images, boxes):
        out = []
        for image, box in zip(images, boxes):
            box = np.asarray(box)[0]
            if self.centre:
                points = np.tile((box[:2] + box[2:]) / 2, (68, 1))
            else:
                points = self.truth_of_image[id(image)]
            out.append(types.SimpleNamespace(landmarks=points[None]))
        return out


def test_evaluate_measures_the_boxes_it_is_given(robustness, faces):
    paths, truth = faces
    images = [zoo.faces.read_image(p) for p in paths]
    boxes = [np.concatenate([t.min(0), t.max(0)]) for t in truth]
    table = robustness.conditions(boxes, (0.1, 0.25), (0.75, 1.35), 4,
                                  haar=[boxes[0], None, boxes[2]])
    perfect = robustness.evaluate(_Stub({id(im): t for im, t in zip(images, truth)}), images,
                                  truth, table)
    assert all(v["nme"] == 0.0 for v in perfect.values())
    assert perfect["Haar"]["faces"] == 2 and perfect["shift 10%"]["faces"] == 3
    centred = robustness.evaluate(_Stub(None, centre=True), images, truth, table)
    # A box-centre "model" gets worse the further the box moves; scaling keeps the centre.
    assert centred["shift 25%"]["nme"] > centred["shift 10%"]["nme"] > centred["ideal"]["nme"]
    assert centred["scale 1.35"]["nme"] == pytest.approx(centred["ideal"]["nme"], rel=1e-6)
    assert robustness.growth(centred) == pytest.approx(
        centred["shift 25%"]["nme"] - centred["ideal"]["nme"])


def test_benchmark_on_a_tiny_untrained_model_writes_a_table_and_a_plot(robustness, faces,
                                                                       tmp_path, capsys):
    model = zoo.create("rdfn_small_300w", **presets.get_architecture("rdfn").tiny_config)
    path = tmp_path / "tiny_rdfn.keras"
    zoo.loading.save(model, str(path))
    plot_path, json_path = tmp_path / "robustness.png", tmp_path / "robustness.json"
    paths, truth = faces
    results = robustness.run([f"tiny={path}"], paths, truth, shifts=(0.1, 0.25),
                             scales=(0.75, 1.35), plot_path=str(plot_path),
                             json_path=str(json_path))
    printed = capsys.readouterr().out
    assert "| tiny |" in printed and "shift 25%" in printed and "growth" in printed
    row = results["tiny"]
    assert set(row) == {"ideal", "shift 10%", "shift 25%", "scale 0.75", "scale 1.35", "Haar"}
    for name, value in row.items():
        assert value["faces"] <= 3
        if name != "Haar":
            assert value["faces"] == 3 and np.isfinite(value["nme"]) and value["nme"] > 0
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json_path.read_text())["tiny"]["ideal"]["faces"] == 3


def test_command_line_on_fixture_faces(robustness, fixtures_dir, tmp_path, capsys):
    plot_path = tmp_path / "cli.png"
    results = robustness.main(["--faces_dir", str(fixtures_dir / "300w" / "pts_images"),
                               "--limit", "3", "--models", "rdfn_small_300w", "--shifts", "0.25",
                               "--scales", "1.35", "--no_haar", "--plot", str(plot_path)])
    assert set(results["rdfn_small_300w"]) == {"ideal", "shift 25%", "scale 1.35"}
    assert plot_path.is_file()
    assert "| rdfn_small_300w |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Received: data_dir=None, faces_dir=None"):
        robustness.read_faces()
