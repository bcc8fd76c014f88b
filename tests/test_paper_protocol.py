"""Issue 11 items 1, 7, 8: AFLW scored by its face-box size on every evaluation path; sigma in
input pixels recorded in config.json; the decode method chosen on training, evaluation and
export and recorded in config.json and the export metadata."""
import csv
import json
import math
import os

import numpy as np
import pytest

import zoo
import zoo.codecs
import zoo.evaluation
import zoo.metrics
from zoo.data import readers
from zoo.data.readers import aflw
from zoo.data.tfrecord import crop_face
from zoo.training import config as config_lib
from zoo.training import data as data_lib
from zoo.training import tasks

F = 256


def _write_aflw_root(fixtures_dir, root):
    """An HRNet AFLW root holding the two real mmpose AFLW faces in every split."""
    faces, _ = readers.read_coco_json(fixtures_dir / "aflw/mmpose/test_aflw.json", num_points=19)
    header = ["image_name", "scale", "box_size", "center_w", "center_h"]
    header += [f"original_{i}_{c}" for i in range(19) for c in "xy"]
    rows = [header] + [[os.path.basename(face.image), face.meta["scale"], face.meta["box_size"],
                        *face.meta["center"], *face.landmarks.ravel().tolist()] for face in faces]
    for name in aflw.SPLIT_FILES.values():
        with open(root / name, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    for face in faces:
        os.symlink(face.image, root / os.path.basename(face.image))
    return faces


class _HeatmapsOf:
    """A stand-in detector whose last stack holds the targets of fixed predictions."""

    def __init__(self, codec, predictions):
        targets = [codec.encode(points.astype(np.float32)) for points in predictions]
        self.outputs = {key: np.stack([np.asarray(t[key]) for t in targets])[:, None]
                        for key in codec.target_keys}

    def __call__(self, images, training=False):
        return {key: value[:len(images)] for key, value in self.outputs.items()}


def _numpy_aflw_nme(predictions_crop, samples, size):
    """Plain numpy AFLW NME: predictions mapped back to the image, mean error / box_size."""
    errors = []
    for predicted, sample in zip(predictions_crop, samples):
        _, _, matrix = crop_face(np.zeros((4, 4, 3), np.uint8), sample.landmarks, box=sample.box,
                                 size=size)
        full = np.vstack([matrix.astype(np.float64), [0.0, 0.0, 1.0]])
        inverse = np.linalg.inv(full)[:2]
        image_points = predicted @ inverse[:, :2].T + inverse[:, 2]
        distances = [math.dist(p, g) for p, g in zip(image_points, sample.landmarks)]
        errors.append(np.mean(distances) / sample.meta["box_size"])
    return np.array(errors)


def test_aflw_evaluation_reproduces_numpy_box_size_nme(fixtures_dir, tmp_path):
    _write_aflw_root(fixtures_dir, tmp_path)
    samples, report = readers.read_aflw(tmp_path, "full")
    assert len(samples) == 2 and report.num_skipped == 0
    source = data_lib.SampleSource(samples, F, "aflw")
    images, landmarks = source.arrays()
    codec = zoo.codecs.Heatmap1DCodec(F, 768)
    model = _HeatmapsOf(codec, landmarks + np.random.default_rng(3).normal(0, 3.0, landmarks.shape))
    normalizers = zoo.evaluation.box_normalizers(source, "aflw")
    # The AFLW crop is 1.25 x the face box: 256 / 1.25 crop pixels whatever the face.
    np.testing.assert_allclose(normalizers, F / 1.25, rtol=1e-12)
    errors, report, predictions = zoo.evaluation.evaluate_detector(
        model, codec, images, landmarks, "aflw", normalizer=normalizers)
    reference = _numpy_aflw_nme(predictions.astype(np.float64), samples, F)
    np.testing.assert_allclose(errors, reference, rtol=0, atol=1e-6)
    assert report["full"]["nme"] == pytest.approx(reference.mean(), abs=1e-6)
    # The landmark box (the old silent fallback) is smaller than the face box: higher NME.
    fallback = zoo.metrics.nme(predictions, landmarks, "aflw", normalizer="box")
    assert np.all(fallback > 1.3 * errors)
    with pytest.raises(ValueError, match="face-box size"):
        zoo.evaluation.evaluate_detector(model, codec, images, landmarks, "aflw")


def test_evaluate_run_scores_aflw_by_box_size(fixtures_dir, tmp_path, monkeypatch):
    data_dir = tmp_path / "aflw"
    data_dir.mkdir()
    _write_aflw_root(fixtures_dir, data_dir)
    samples, _ = readers.read_aflw(data_dir, "full")
    source = data_lib.SampleSource(samples, F, "aflw")
    _, landmarks = source.arrays()
    codec = zoo.codecs.Heatmap1DCodec(F, 768)
    model = _HeatmapsOf(codec, landmarks + np.random.default_rng(4).normal(0, 3.0, landmarks.shape))
    config = config_lib.TrainConfig(model="aheat1d_aflw", dataset="aflw", input_size=F,
                                    heatmap_length=768, decode="refined")

    def fake_load_run(run_dir, decode=None):
        chosen = codec if decode is None else codec.with_decode(decode)
        return model, chosen, config.replace(decode=chosen.decode_method), 7

    monkeypatch.setattr(zoo.evaluation, "load_run", fake_load_run)
    result = zoo.evaluation.evaluate_run(str(tmp_path / "run"), data_dir=str(data_dir),
                                         output_dir=str(tmp_path / "eval"), decode="argmax")
    assert sorted(result["subsets"]) == ["frontal", "full"] and result["decode"] == "argmax"
    predictions = tasks.predict_landmarks(model, codec.with_decode("argmax"), source.arrays()[0])
    reference = _numpy_aflw_nme(predictions.astype(np.float64), samples, F)
    for name in ("full", "frontal"):
        assert result["subsets"][name]["nme"] == pytest.approx(reference.mean(), abs=1e-6)
    written = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert "decode=argmax" in written["title"]


def test_box_normalizers_refuse_missing_box_sizes(fixtures_dir):
    faces, _ = readers.read_coco_json(fixtures_dir / "aflw/mmpose/test_aflw.json", num_points=19)
    assert zoo.evaluation.box_normalizers(data_lib.SampleSource(faces, F, "aflw"), "300w") is None
    faces[1].meta.pop("box_size")
    with pytest.raises(ValueError, match=r"face 1 .*has none\. Received: meta="):
        zoo.evaluation.box_normalizers(data_lib.SampleSource(faces, F, "aflw"), "aflw")
    with pytest.raises(ValueError, match="no annotated samples"):
        zoo.evaluation.box_normalizers(data_lib.SynthFaceSource(64, num_samples=2), "aflw")


# ----------------------------------------------------------------------------- sigma, decode


def test_resolved_config_records_sigma_in_pixels_and_decode(tmp_path):
    config, codec, _ = tasks.resolve_model(config_lib.PAPER_DEFAULTS["300w"])
    # Preset defaults: F / 64 = 4 px at F = 256 (12 bins at L = 768), refined decoding.
    assert (config.sigma, config.decode) == (4.0, "refined")
    assert codec.sigma_bins == 12.0 and codec.refine
    # Any L keeps the pixel width; another F scales the default.
    for length in (64, 384, 640):
        config, codec, _ = tasks.resolve_model(
            config_lib.PAPER_DEFAULTS["300w"].replace(heatmap_length=length))
        assert (config.sigma, codec.heatmap_size) == (4.0, length)
    mobile, codec, _ = tasks.resolve_model(config_lib.TrainConfig(model="aheat1d_mobile_300w"))
    assert (mobile.sigma, codec.sigma_bins) == (2.0, 6.0)  # F = 128: as before the change
    chosen, codec, _ = tasks.resolve_model(config_lib.PAPER_DEFAULTS["aflw"].replace(
        sigma=2.5, decode="argmax"))
    assert (codec.sigma, codec.refine, chosen.sigma, chosen.decode) == (2.5, False, 2.5, "argmax")
    written = json.loads(open(config_lib.save_config(chosen, str(tmp_path))).read())
    assert (written["sigma"], written["decode"]) == (2.5, "argmax")
    assert config_lib.load_config(str(tmp_path)) == chosen
    # The 2D baseline: its own decoders, the same pixel sigma (1 bin of its 64 x 64 maps).
    two_d, codec, _ = tasks.resolve_model(config_lib.TrainConfig(model="fan2d_300w",
                                                                 decode="integral"))
    assert (codec.method, codec.sigma, codec.sigma_bins, two_d.decode) == (
        "integral", 4.0, 1.0, "integral")
    assert tasks.resolve_model(config_lib.TrainConfig(model="fan2d_300w"))[0].decode == (
        "quarter_offset")
    with pytest.raises(ValueError, match=r"Allowed: \['argmax', 'refined'\]\. Received: "
                                         r"decode='integral'"):
        tasks.resolve_model(config_lib.PAPER_DEFAULTS["300w"].replace(decode="integral"))
    with pytest.raises(ValueError, match="decode='soft'"):
        config_lib.TrainConfig(decode="soft")
    with pytest.raises(ValueError, match="sigma=-1"):
        config_lib.TrainConfig(sigma=-1)
    # Trackers too.
    tracker, codec, _ = tasks.resolve_tracker(config_lib.PAPER_DEFAULTS["300vw"].replace(
        decode="argmax", sigma=3.0))
    assert (tracker.decode, tracker.sigma, codec.refine, codec.sigma) == ("argmax", 3.0, False,
                                                                         3.0)


def test_training_flags_set_sigma_and_decode():
    from absl import flags

    from zoo.training.flags import config_from_flags, define_training_flags

    values = flags.FlagValues()
    holders = define_training_flags(config_lib.PAPER_DEFAULTS["300w"], values)
    values(["prog", "--sigma=2.0", "--decode=argmax"])
    config = config_from_flags(holders, config_lib.PAPER_DEFAULTS["300w"])
    assert (config.sigma, config.decode) == (2.0, "argmax")
    defaults = flags.FlagValues()
    holders = define_training_flags(config_lib.PAPER_DEFAULTS["300w"], defaults)
    defaults(["prog"])
    config = config_from_flags(holders, config_lib.PAPER_DEFAULTS["300w"])
    assert (config.sigma, config.decode) == (None, None)  # resolved from the preset later
    bad = flags.FlagValues()
    define_training_flags(config_lib.PAPER_DEFAULTS["300w"], bad)
    with pytest.raises(flags.IllegalFlagValueError, match="soft"):
        bad(["prog", "--decode=soft"])


def test_export_records_and_uses_the_decode_method():
    from zoo.export import sources

    image = np.random.default_rng(0).uniform(0, 255, (1, 128, 128, 3)).astype("float32")
    default, meta = sources.load(preset="aheat1d_mobile_300w")
    assert meta["decode"] == "refined" and meta["codec_config"]["config"]["refine"] is True
    model, meta = sources.load(preset="aheat1d_mobile_300w", decode="argmax")
    assert meta["decode"] == "argmax" and meta["codec_config"]["config"]["refine"] is False
    outputs = model(image)
    codec = zoo.codecs.get(meta["codec_config"])
    # The graph decodes by Eq. 7: the argmax bin centre, (argmax + 0.5) F / L - 0.5.
    x = np.asarray(outputs["x"])
    expected_x = (x.argmax(-1) + 0.5) * 128 / codec.heatmap_size - 0.5
    np.testing.assert_allclose(np.asarray(outputs["landmarks"])[..., 0], expected_x, atol=1e-4)
    with pytest.raises(ValueError, match="already decodes.*Received: decode='argmax'"):
        sources.exportable_model(default, decode="argmax")
    _, meta = sources.load(preset="fan2d_300w", decode="integral", num_stacks=1, width=16,
                           hourglass_depth=1)
    assert meta["decode"] == "integral" and meta["codec_config"]["config"]["method"] == "integral"
    _, meta = sources.load(preset="aheat1d_tracker_mobile_300vw", decode="argmax")
    assert meta["kind"] == "tracker_step" and meta["decode"] == "argmax"
