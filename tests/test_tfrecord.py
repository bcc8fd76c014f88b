"""Face crops, the TFRecord layout, sharded writing and ``parse_example`` in tf.data."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import ReadReport, Sample
from zoo.data import readers
from zoo.data import tfrecord


def _dot_image(height, width, points, radius=0):
    image = np.zeros([height, width, 3], np.uint8)
    for x, y in np.round(points).astype(int):
        image[y - radius : y + radius + 1, x - radius : x + radius + 1] = 255
    return image


def _brightest(crop, point, window=6):
    """Intensity-weighted centre of the bright blob near ``point`` (crop pixel coordinates)."""
    x0, y0 = np.round(point).astype(int)
    patch = crop[max(y0 - window, 0) : y0 + window + 1, max(x0 - window, 0) : x0 + window + 1, 0].astype(float)
    ys, xs = np.mgrid[max(y0 - window, 0) : y0 + window + 1, max(x0 - window, 0) : x0 + window + 1]
    ys, xs = ys[: patch.shape[0], : patch.shape[1]], xs[: patch.shape[0], : patch.shape[1]]
    return np.array([(xs * patch).sum(), (ys * patch).sum()]) / patch.sum()


@pytest.mark.parametrize("image_size, box_side", [(200, 100), (2400, 1600)])
def test_crop_moves_pixels_and_landmarks_together(image_size, box_side):
    # Bright squares at integer pixel centres: after the crop their centres must sit at the
    # transformed landmarks (pixel-centre convention), also when the image is pyramided first.
    offset = (image_size - box_side) // 2
    points = offset + np.array([[0.1, 0.2], [0.5, 0.5], [0.8, 0.3], [0.3, 0.9]]) * box_side
    points = np.round(points)
    radius = max(box_side // 100, 0)
    image = _dot_image(image_size, image_size, points, radius)
    crop, crop_points, matrix = tfrecord.crop_face(image, points, None, size=128, margin=0.25)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    np.testing.assert_allclose(crop_points, tfrecord.apply_affine(matrix, points), atol=1e-3)
    for point in crop_points:
        np.testing.assert_allclose(_brightest(crop, point), point, atol=0.35)
    # The landmark box is centred and fills 1 / 1.25 of the crop.
    low, high = crop_points.min(0), crop_points.max(0)
    assert max(high - low) == pytest.approx(128 / 1.25, rel=1e-4)
    np.testing.assert_allclose((low + high) / 2, [63.5, 63.5], atol=1e-3)


def test_crop_arguments_are_checked():
    with pytest.raises(ValueError, match="Received: size=0"):
        tfrecord.square_crop_matrix([0, 0, 10, 10], size=0)
    with pytest.raises(ValueError, match="Received: margin=-0.1"):
        tfrecord.square_crop_matrix([0, 0, 10, 10], margin=-0.1)
    with pytest.raises(ValueError, match="Received: box="):
        tfrecord.square_crop_matrix([5, 5, 5, 5])
    with pytest.raises(ValueError, match="Received: crop_box=face"):
        tfrecord.write_samples([], "/tmp", "x", "d", "s", "t", crop_box="face")
    with pytest.raises(ValueError, match="Received: num_workers=0"):
        tfrecord.write_samples([], "/tmp", "x", "d", "s", "t", num_workers=0)


def test_write_and_parse_round_trip(fixtures_dir, tmp_path):
    samples, report = readers.read_san_list(fixtures_dir / "300w/pts_images/DEBUG.lst")
    samples = samples[:3]
    samples[1].visibility = np.array([1.0, 0.0] * 34, np.float32)
    samples[1].meta["attributes"] = {"blur": np.int64(1)}
    bad_image = Sample(str(tmp_path / "absent.jpg"), samples[0].landmarks)
    outside = Sample(samples[0].image, samples[0].landmarks + 1e5)
    report = tfrecord.write_samples(
        samples + [bad_image, outside],
        tmp_path / "out",
        "300w_debug",
        dataset="300w",
        scheme="300w_68",
        subset="train",
        report=ReadReport(),
        num_shards=2,
        size=96,
        crop_box="box",
        progress=False,
        num_workers=2,
    )
    assert report.kept == 3 and dict(report.skipped) == {"missing image": 1, "box outside image": 1}
    files = sorted(os.listdir(tmp_path / "out"))
    assert files == [
        "300w_debug-00000-of-00002.tfrecord",
        "300w_debug-00001-of-00002.tfrecord",
        "300w_debug.json",
    ]
    sidecar = json.loads((tmp_path / "out/300w_debug.json").read_text())
    assert sidecar["num_examples"] == 3 and sidecar["skipped"] == {"missing image": 1, "box outside image": 1}

    dataset = tfrecord.make_dataset(str(tmp_path / "out/300w_debug-*.tfrecord"))
    records = list(dataset.as_numpy_iterator())
    expected = samples  # round-robin shards read back interleaved: input order, 2 threads or not
    assert len(records) == 3
    for record, sample in zip(records, expected):
        assert record["image"].shape == (96, 96, 3) and record["image"].dtype == np.uint8
        assert record["image"].mean() > 10  # a real face crop, not padding
        assert record["image_path"].decode() == sample.image
        assert record["dataset"] == b"300w" and record["scheme"] == b"300w_68" and record["subset"] == b"train"
        np.testing.assert_allclose(record["box"], sample.box, atol=1e-3)
        # Landmarks in the record = crop_matrix applied to the original landmarks ...
        matrix = record["crop_matrix"]
        np.testing.assert_allclose(record["landmarks"], tfrecord.apply_affine(matrix, sample.landmarks), atol=1e-3)
        # ... and the inverse takes them back to the image.
        inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
        np.testing.assert_allclose(tfrecord.apply_affine(inverse, record["landmarks"]), sample.landmarks, atol=0.05)
        if sample.visibility is not None:
            assert record["has_visibility"]
            np.testing.assert_array_equal(record["visibility"], sample.visibility)
            assert json.loads(record["meta"])["attributes"] == {"blur": 1}
        else:
            assert not record["has_visibility"] and np.all(record["visibility"] == 1)


def test_parse_example_in_a_batched_tf_data_pipeline():
    rng = np.random.default_rng(0)
    records = []
    for index in range(4):
        crop = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        points = rng.uniform(0, 31, (5, 2)).astype(np.float32)
        records.append(
            tfrecord.serialize_example(
                crop, points, np.eye(2, 3), [0, 0, 31, 31], image_format="png", subset=f"s{index}"
            )
        )
    dataset = tf.data.Dataset.from_tensor_slices(records).map(tfrecord.parse_example).batch(2)
    batch = next(iter(dataset))
    assert batch["image"].shape == (2, 32, 32, 3) and batch["landmarks"].shape == (2, 5, 2)
    assert batch["crop_matrix"].shape == (2, 2, 3)
    first = tfrecord.parse_example(records[0])
    crop = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(first["image"].numpy(), crop)  # PNG is lossless
    with pytest.raises(ValueError, match="Received: image_format=gif"):
        tfrecord.serialize_example(crop, np.zeros([5, 2]), np.eye(2, 3), [0, 0, 1, 1], image_format="gif")
    with pytest.raises(ValueError, match="visibility"):
        tfrecord.serialize_example(crop, np.zeros([5, 2]), np.eye(2, 3), [0, 0, 1, 1], visibility=[1, 0])
    with pytest.raises(ValueError, match="Received: file_pattern="):
        tfrecord.make_dataset("/nonexistent/*.tfrecord")


def test_prepare_300vw_script_on_fixture_videos(fixtures_dir, tmp_path):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [
            sys.executable, os.path.join(repo, "datasets", "prepare_300vw.py"),
            f"--root={fixtures_dir / '300vw'}", f"--output_dir={tmp_path}", "--categories=train,S1",
            f"--broken_frames={fixtures_dir / '300vw/broken_frames.json'}", "--size=64",
        ],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "300vw train: kept 2, skipped 0" in result.stdout
    assert "300vw S1: kept 1, skipped 1" in result.stdout and "known broken frame" in result.stdout
    train = list(tfrecord.make_dataset(str(tmp_path / "300vw_train-*.tfrecord")).as_numpy_iterator())
    assert [json.loads(r["meta"])["frame"] for r in train] == [6, 9]  # frame order kept
    records = list(tfrecord.make_dataset(str(tmp_path / "300vw_S1-*.tfrecord")).as_numpy_iterator())
    assert len(records) == 1 and records[0]["image"].shape == (64, 64, 3)
    assert json.loads(records[0]["meta"])["frame"] == 732
