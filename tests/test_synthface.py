"""Tests for SynthFace (zoo.data.synthface) and its shape model (zoo.data.shape_model)."""
import os

import numpy as np
import pytest

from zoo.data import shape_model, synthface


@pytest.fixture(scope="module")
def clean():
    """No noise, blur or occluders: pixels at landmarks show exactly the drawn features."""
    return synthface.SynthFace(image_size=128, seed=5, noise_std=0.0, blur_probability=0.0,
                               occlusion_probability=0.0)


def test_shipped_shape_model_is_small_and_orthonormal():
    model = shape_model.load_shape_model()
    assert os.path.getsize(shape_model.DEFAULT_PATH) < 20_000
    assert model.mean.shape == (68, 2) and 10 <= model.num_modes <= 15
    flat = model.modes.reshape(model.num_modes, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(model.num_modes), atol=1e-4)
    assert np.all(np.diff(model.variances) <= 0) and model.variances[-1] > 0
    # Normalised frame: centred, training shapes at unit RMS radius (their mean slightly less),
    # the subject's right eye (36-41) on the image left.
    np.testing.assert_allclose(model.mean.mean(0), 0.0, atol=1e-4)
    assert 0.95 < np.sqrt((model.mean**2).sum(1).mean()) <= 1.0
    assert model.mean[36:42, 0].mean() < 0 < model.mean[42:48, 0].mean()
    assert model.mean[8, 1] > model.mean[30, 1] > model.mean[27, 1]  # chin below nose below brows
    assert "300-W" in model.source and "research" in model.source


def test_refit_on_fixture_reproduces_shipped_model(fixtures_dir):
    folder = fixtures_dir / "300w" / "hrnet_csv"
    shapes = np.concatenate([shape_model.read_hrnet_csv(folder / name) for name in
                             ("face_landmarks_300w_test.csv", "face_landmarks_300w_valid.csv")])
    assert shapes.shape == (1289, 68, 2)
    fitted = shape_model.fit_shape_model(shapes, num_modes=12)
    shipped = shape_model.load_shape_model()
    np.testing.assert_allclose(fitted.mean, shipped.mean, atol=1e-4)
    np.testing.assert_allclose(fitted.variances, shipped.variances, rtol=1e-3)
    # The model explains real faces: the 12 modes cut the median residual of the aligned
    # shapes to well under half of what the mean shape alone leaves (0.046 vs 0.165 here).
    mean_only, with_modes = [], []
    for shape in shapes[::10]:
        aligned = shape_model._align(shape_model._normalise(shape), fitted.mean)
        b = fitted.modes.reshape(12, -1) @ (aligned - fitted.mean).reshape(-1)
        with_modes.append(np.sqrt(((fitted.shape(b) - aligned) ** 2).sum(1).mean()))
        mean_only.append(np.sqrt(((fitted.mean - aligned) ** 2).sum(1).mean()))
    assert np.median(with_modes) < 0.4 * np.median(mean_only)


def test_sample_fields_and_determinism():
    face = synthface.SynthFace(image_size=96, seed=11)
    a, b = face.sample(4), synthface.SynthFace(image_size=96, seed=11).sample(4)
    assert a.image.shape == (96, 96, 3) and a.image.dtype == np.uint8
    assert a.landmarks.shape == (68, 2) and a.landmarks.dtype == np.float32
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(a.image, face.sample(5).image)
    assert not np.array_equal(a.image, synthface.SynthFace(image_size=96, seed=12).sample(4).image)
    np.testing.assert_allclose(a.box, [*a.landmarks.min(0), *a.landmarks.max(0)])
    assert set(np.unique(a.visibility)) <= {0.0, 1.0}
    assert (a.landmarks > -0.5).all() and (a.landmarks < 95.5).all()


def test_drawn_features_sit_on_the_landmarks(clean):
    for index in range(6):
        sample = clean.sample(index)
        image = sample.image.astype(np.float32)
        points = np.round(sample.landmarks).astype(int)

        def at(indices):
            return image[points[indices, 1], points[indices, 0]]

        # Eye contour points lie on the dark eye outline (35, 25, 25) x lighting gain <= 1.45.
        eyes = at(np.arange(36, 48))
        assert eyes.max(axis=1).mean() < 70, eyes.max(axis=1)
        # Outer lip points are on the lip polygon's edge: reddish (red above green and blue).
        lips = at(np.arange(48, 60))
        assert np.mean(lips[:, 0] > lips[:, 1]) > 0.8
        # Brows are thick strokes through the brow points, in the hair colour (darker than the
        # skin at the cheeks, halfway between the jaw and the nose).
        cheeks = image[np.round(0.5 * (sample.landmarks[[3, 13]] + sample.landmarks[[31, 35]])).astype(int)[:, 1],
                       np.round(0.5 * (sample.landmarks[[3, 13]] + sample.landmarks[[31, 35]])).astype(int)[:, 0]]
        brows = at(np.arange(17, 27))
        assert np.abs(brows - cheeks.mean(0)).sum(1).mean() > 40


def test_occlusion_visibility_matches_occluder():
    face = synthface.SynthFace(image_size=96, seed=2, occlusion_probability=1.0, noise_std=0.0)
    hidden = 0
    for index in range(6):
        sample = face.sample(index)
        assert sample.meta["occluded"]
        hidden += int((sample.visibility == 0).sum())
    assert hidden > 10
    never = synthface.SynthFace(image_size=96, seed=2, occlusion_probability=0.0).sample(0)
    assert never.visibility.min() == 1.0


def test_video_is_smooth_deterministic_and_has_events():
    face = synthface.SynthFace(image_size=96, seed=1)
    frames, landmarks, occluded = face.video(24, seed=3)
    assert frames.shape == (24, 96, 96, 3) and landmarks.shape == (24, 68, 2) and occluded.shape == (24,)
    again = face.video(24, seed=3)
    np.testing.assert_array_equal(frames, again[0])
    step = np.linalg.norm(np.diff(landmarks, axis=0), axis=-1).max()
    assert step < 0.05 * 96, step  # smooth motion: a few pixels per frame at most
    assert np.linalg.norm(landmarks[-1] - landmarks[0], axis=-1).mean() > 0.2  # but it moves
    samples = face.video_samples(24, seed=3)
    np.testing.assert_array_equal(occluded, [bool((s.visibility < 1).any()) for s in samples])
    events = [face.video_samples(16, seed=s) for s in range(4)]
    assert any(s.meta["occluded"] for video in events for s in video)
    assert any(s.meta["blurred"] for video in events for s in video)


def test_dataset_matches_sample():
    ds = synthface.dataset(image_size=64, seed=9, num_samples=3, with_metadata=True)
    elements = list(ds)
    assert len(elements) == 3
    reference = synthface.SynthFace(image_size=64, seed=9).sample(2)
    np.testing.assert_array_equal(elements[2]["image"].numpy(), reference.image)
    np.testing.assert_array_equal(elements[2]["landmarks"].numpy(), reference.landmarks)
    image, landmarks = next(iter(synthface.dataset(image_size=64, seed=9, num_samples=1)))
    assert image.shape == (64, 64, 3) and landmarks.shape == (68, 2)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="Received: image_size=8"):
        synthface.SynthFace(image_size=8)
    with pytest.raises(ValueError, match="Received: occlusion_probability=1.5"):
        synthface.SynthFace(occlusion_probability=1.5)
    with pytest.raises(ValueError, match="Received: index=-1"):
        synthface.SynthFace(image_size=64).sample(-1)
    with pytest.raises(ValueError, match="Received: num_frames=0"):
        synthface.SynthFace(image_size=64).video(0)
    with pytest.raises(ValueError, match="Received: num_modes=0"):
        shape_model.fit_shape_model(np.zeros((5, 68, 2)), num_modes=0)
