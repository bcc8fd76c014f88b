"""Tests for zoo.data.transforms: matrices, warp/landmark consistency, photometric ops."""
import cv2
import numpy as np
import pytest
import tensorflow as tf

from zoo.data import transforms


def _blob_image(points, height, width, colours, sigma=1.6):
    """Float image with a Gaussian blob of ``colours[i]`` at each point (exact subpixel centres)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for (x, y), colour in zip(points, colours):
        image += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))[..., None] * colour
    return np.clip(image, 0, 255).astype(np.uint8)


def _centroid(image, point, radius=5):
    """Intensity-weighted centroid of the blob nearest ``point`` (None near the border)."""
    x, y = int(round(point[0])), int(round(point[1]))
    h, w = image.shape[:2]
    if not (radius <= x < w - radius and radius <= y < h - radius):
        return None, None
    window = image[y - radius:y + radius + 1, x - radius:x + radius + 1].astype(np.float64)
    weight = window.sum(-1)
    weight = np.maximum(weight - 0.05 * weight.max(), 0.0)
    ys, xs = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    total = weight.sum()
    return np.array([x + (xs * weight).sum() / total, y + (ys * weight).sum() / total]), window.sum((0, 1))


def test_crop_matrix_maps_square_edges_to_crop_edges():
    matrix = transforms.crop_matrix([40.0, 30.0], 20.0, output_size=64).numpy()
    corners = np.array([[30.0, 20.0], [50.0, 40.0]], np.float32)
    mapped = transforms.transform_landmarks(corners, matrix).numpy()
    np.testing.assert_allclose(mapped, [[-0.5, -0.5], [63.5, 63.5]], atol=1e-5)


def test_inverse_and_compose_round_trip():
    rng = np.random.default_rng(0)
    a = transforms.compose(
        transforms.augmentation_matrix(128, angle=23.0, scale=1.2, shift=(3.0, -2.0), flip=True),
        transforms.crop_matrix([100.0, 80.0], 90.0, 128))
    points = rng.uniform(0, 200, (68, 2)).astype(np.float32)
    crop = transforms.transform_landmarks(points, a)
    back = transforms.to_image_coordinates(crop, a).numpy()
    np.testing.assert_allclose(back, points, atol=2e-3)
    batched = transforms.to_image_coordinates(tf.stack([crop, crop]), tf.stack([a, a])).numpy()
    np.testing.assert_allclose(batched[1], points, atol=2e-3)


def test_augmentation_matrix_flip_mirrors_about_crop_centre():
    m = transforms.augmentation_matrix(100, flip=True)
    out = transforms.transform_landmarks([[0.0, 5.0], [49.5, 7.0]], m).numpy()
    np.testing.assert_allclose(out, [[99.0, 5.0], [49.5, 7.0]], atol=1e-5)


@pytest.mark.parametrize("angle,scale,flip", [(0.0, 1.0, False), (27.0, 1.2, False), (-35.0, 0.8, True)])
def test_warp_moves_image_content_with_the_landmarks(angle, scale, flip):
    # Blobs rendered at known subpixel points must be found again where the same matrix sends
    # the points (the warp and the landmark transform agree to well under a pixel).
    rng = np.random.default_rng(1)
    points = np.stack(np.meshgrid(np.arange(30, 171, 28.0), np.arange(30, 151, 28.0)), -1).reshape(-1, 2)
    points = (points + rng.uniform(-3, 3, points.shape)).astype(np.float32)
    image = _blob_image(points, 180, 200, np.full((len(points), 3), 220.0))
    matrix = transforms.compose(
        transforms.augmentation_matrix(160, angle=angle, scale=scale, shift=(2.5, -1.5), flip=flip),
        transforms.crop_matrix([100.0, 90.0], 190.0, 160))
    warped = transforms.warp(image, matrix, 160).numpy()
    moved = transforms.transform_landmarks(points, matrix).numpy()
    errors = [np.linalg.norm(_centroid(warped, p)[0] - p) for p in moved if _centroid(warped, p)[0] is not None]
    assert len(errors) >= 20
    assert max(errors) < 0.5, max(errors)


def test_warp_batched_frames_share_the_matrix():
    frame = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    clip = np.stack([frame, frame, frame])
    matrix = transforms.compose(transforms.augmentation_matrix(32, angle=10.0), transforms.crop_matrix([25.0, 20.0], 40.0, 32))
    out = transforms.warp(clip, matrix, 32).numpy()
    assert out.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], transforms.warp(frame, matrix, 32).numpy())


def test_flip_landmarks_uses_permutation():
    points = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], np.float32)
    np.testing.assert_array_equal(transforms.flip_landmarks(points, [2, 1, 0]).numpy(), points[::-1])


def test_colour_matrix_identity_and_grayscale():
    np.testing.assert_allclose(transforms.colour_matrix().numpy(), np.eye(3), atol=1e-5)
    image = np.random.default_rng(0).uniform(0, 255, (4, 4, 3)).astype(np.float32)
    grey = transforms.adjust_colour(image, matrix=transforms.colour_matrix(grayscale=True)).numpy()
    np.testing.assert_allclose(grey[..., 0], grey[..., 2], atol=1e-3)
    expected = image @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(grey[..., 1], np.clip(expected, 0, 255), atol=1e-2)
    brighter = transforms.adjust_colour(np.full((2, 2, 3), 250.0, np.float32), brightness=20.0).numpy()
    assert brighter.max() == 255.0


def test_gaussian_blur_keeps_mass_and_matches_opencv():
    image = np.zeros((21, 21, 1), np.float32)
    image[10, 10] = 100.0
    out = transforms.gaussian_blur(image, 1.5, 1.5).numpy()[..., 0]
    assert abs(out.sum() - 100.0) < 1e-3
    reference = cv2.GaussianBlur(image[..., 0], (7, 7), 1.5)
    np.testing.assert_allclose(out, reference, atol=0.2)
    assert out[10, 10] < 10.0


def test_occlusion_fills_box_and_marks_covered_landmarks():
    config = transforms.AugmentConfig.none()
    config = transforms.AugmentConfig(**{**config.__dict__, "occlusion_probability": 1.0})
    params = transforms.draw_parameters(config, tf.constant([3, 4], tf.int64), 64)
    params["occluder_center"] = tf.constant([20.0, 30.0])
    params["occluder_size"] = tf.constant([10.0, 6.0])
    landmarks = tf.constant([[20.0, 30.0], [15.2, 27.4], [40.0, 40.0], [24.6, 30.0]])
    image, visibility = transforms.photometric(
        tf.zeros((64, 64, 3)), params, config, landmarks, tf.ones([4]))
    image = image.numpy()
    box = transforms.occlusion_rectangle(64, [20.0, 30.0], [10.0, 6.0]).numpy()
    np.testing.assert_array_equal(box, [15.0, 27.0, 25.0, 33.0])
    np.testing.assert_allclose(image[27:33, 15:25], np.broadcast_to(params["occluder_colour"].numpy(), (6, 10, 3)))
    assert image[:27].max() == 0 and image[:, 25:].max() == 0
    # (24.6 rounds to 25, outside the exclusive end; 15.2 rounds to 15, inside).
    np.testing.assert_array_equal(visibility.numpy(), [0.0, 0.0, 1.0, 1.0])


def test_draw_parameters_deterministic_and_in_range():
    config = transforms.AugmentConfig(rotation=10.0, scale=0.2)
    a = transforms.draw_parameters(config, tf.constant([5, 6], tf.int64), 256)
    b = transforms.draw_parameters(config, tf.constant([5, 6], tf.int64), 256)
    c = transforms.draw_parameters(config, tf.constant([5, 7], tf.int64), 256)
    assert float(a["angle"]) == float(b["angle"]) and float(a["angle"]) != float(c["angle"])
    angles = [float(transforms.draw_parameters(config, tf.constant([i, 0], tf.int64), 256)["angle"]) for i in range(30)]
    assert max(np.abs(angles)) <= 10.0 and np.std(angles) > 2.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="Received: rotation=-1"):
        transforms.AugmentConfig(rotation=-1)
    with pytest.raises(ValueError, match="Received: flip_probability=2"):
        transforms.AugmentConfig(flip_probability=2)
    with pytest.raises(ValueError, match="Received: scale=1.5"):
        transforms.AugmentConfig(scale=1.5)
    with pytest.raises(ValueError, match="Received: margin=-0.1"):
        transforms.square_box([0.0, 0.0, 1.0, 1.0], margin=-0.1)
