"""Detector training augments by default (issue 11 item 2) and validates on a held-out train split.

Real 300-W faces from the fixtures (10 AFW training images with their .pts labels).
"""
import glob
import json
import os

import numpy as np
import pytest

import zoo.codecs
from zoo.data.sample import Sample
from zoo.data.readers import read_pts
from zoo.training import data as data_lib
from zoo.training import tasks
from zoo.training.config import TrainConfig, load_config


@pytest.fixture(scope="module")
def real_samples(fixtures_dir):
    paths = sorted(glob.glob(os.path.join(fixtures_dir, "300w", "pts_images", "*.jpg")))
    assert len(paths) >= 8, paths
    return [Sample(image=path, landmarks=read_pts(path[:-4] + ".pts", 68)) for path in paths]


def _first_epoch_twice(dataset, count):
    """The batches of two consecutive epochs (``count`` batches each) as numpy."""
    iterator = iter(dataset)
    epochs = []
    for _ in range(2):
        images, landmarks = [], []
        for _ in range(count):
            batch_images, targets = next(iterator)
            images.append(batch_images.numpy())
            landmarks.append(np.concatenate([targets["x"].numpy(), targets["y"].numpy()], -1))
        epochs.append((np.concatenate(images), np.concatenate(landmarks)))
    return epochs


def test_training_epochs_differ_in_pixels_and_targets(real_samples):
    source = data_lib.SampleSource(real_samples, 64, "300w")
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    # Batch = the whole set: one batch is one epoch; order shuffled, so compare sorted sums too.
    dataset = data_lib.training_dataset(source, codec, batch_size=len(source), seed=3)
    (images_a, targets_a), (images_b, targets_b) = _first_epoch_twice(dataset, 1)
    assert images_a.shape == (len(source), 64, 64, 3)
    assert np.abs(images_a - images_b).mean() > 5.0  # grey levels: new warps and colours
    assert np.abs(targets_a - targets_b).max() > 0.1
    # Per-face pixel statistics change too (not only the order of the faces).
    assert not np.allclose(np.sort(images_a.mean((1, 2, 3))), np.sort(images_b.mean((1, 2, 3))))


def test_no_augmentation_gives_identical_epochs_and_matches_validation_crop(real_samples):
    source = data_lib.SampleSource(real_samples, 64, "300w")
    codec = zoo.codecs.Heatmap1DCodec(64, 128)
    dataset = data_lib.training_dataset(source, codec, batch_size=len(source), seed=3,
                                        augment=False)
    (images_a, _), (images_b, _) = _first_epoch_twice(dataset, 1)
    # Same faces, possibly another order: the sorted per-face means agree.
    np.testing.assert_allclose(np.sort(images_a.mean((1, 2, 3))),
                               np.sort(images_b.mean((1, 2, 3))), atol=1e-3)
    # The unaugmented training crop is the validation crop (crop_face, margin 0.25).
    val_images, _ = source.arrays()
    np.testing.assert_allclose(np.sort(images_a.mean((1, 2, 3))),
                               np.sort(val_images.astype(np.float32).mean((1, 2, 3))), atol=1.0)


def test_validation_arrays_are_identical_across_calls(real_samples):
    source = data_lib.SampleSource(real_samples, 64, "300w")
    first_images, first_points = source.arrays()
    again = data_lib.SampleSource(real_samples, 64, "300w").arrays()
    np.testing.assert_array_equal(first_images, again[0])
    np.testing.assert_array_equal(first_points, again[1])


def test_augmentation_config_validates_and_resolves():
    config = TrainConfig(augmentation={"rotation": 10.0, "occlusion_size": [0.2, 0.3]})
    resolved, augment = tasks.resolve_augmentation(config)
    assert augment.rotation == 10.0 and augment.occlusion_size == (0.2, 0.3)
    assert resolved.augmentation["rotation"] == 10.0
    assert resolved.augmentation["flip_probability"] == 0.5  # defaults filled in
    off, none = tasks.resolve_augmentation(config.replace(augment=False))
    assert none is None and off.augmentation is None
    with pytest.raises(ValueError, match="Unknown augmentation field.*Received: spin=3"):
        TrainConfig(augmentation={"spin": 3})
    with pytest.raises(ValueError, match="rotation must be >= 0"):
        TrainConfig(augmentation={"rotation": -1.0})


def test_carve_validation_is_fixed_and_disjoint():
    train_a, val_a = tasks.carve_validation(2012, 0.1, seed=0)
    train_b, val_b = tasks.carve_validation(2012, 0.1, seed=0)
    np.testing.assert_array_equal(val_a, val_b)
    assert len(val_a) == 201 and len(train_a) == 1811
    assert not set(train_a) & set(val_a)
    _, val_other = tasks.carve_validation(2012, 0.1, seed=1)
    assert set(val_other) != set(val_a)
    with pytest.raises(ValueError, match="leaves no training face"):
        tasks.carve_validation(1, 0.5, seed=0)


def test_recipe_records_augmentation_and_holds_out_train_faces(tmp_path, fixtures_dir):
    # A 300-W folder layout with the 10 AFW fixture faces as the training split.
    root = tmp_path / "300w"
    (root / "afw").mkdir(parents=True)
    for path in glob.glob(os.path.join(fixtures_dir, "300w", "pts_images", "*")):
        os.symlink(path, root / "afw" / os.path.basename(path))
    output_dir = tmp_path / "run"
    config = TrainConfig(model="aheat1d_mobile_300w", dataset="300w", data_dir=str(root),
                         output_dir=str(output_dir), steps=2, batch_size=2, eval_every=0,
                         image_every=0, val_fraction=0.2, learning_rate=1e-3,
                         model_overrides={"width": 16, "head_channels": 8})
    train_source, val_source = tasks.make_sources(tasks.resolve_model(config)[0])
    total = len(val_source) + len(train_source)
    assert total >= 10 and len(val_source) == round(0.2 * total)
    held_out = open(output_dir / tasks.VAL_SPLIT_FILENAME).read().splitlines()
    assert held_out[0].startswith(f"# {len(val_source)} validation faces")
    assert sorted(held_out[1:]) == sorted(str(s.image) for s in val_source.samples)
    result, resolved, _ = tasks.train(config, progress=False)
    assert result.step == 2
    written = json.loads((output_dir / "config.json").read_text())
    assert written["augment"] is True
    assert written["augmentation"]["rotation"] == 30.0
    assert written["augmentation"]["occlusion_size"] == [0.1, 0.4]
    assert load_config(str(output_dir)).augment_config().rotation == 30.0
