"""Tests for zoo.draw on a real 300W image and its landmarks."""
import cv2
import numpy as np
import pytest

from zoo import draw, schemes


@pytest.fixture(scope="module")
def face(fixtures_dir):
    """A 160x160 RGB crop of a real 300W face and its 68 landmarks (0-based, crop pixels)."""
    stem = fixtures_dir / "300w" / "pts_images" / "test_1"
    image = cv2.cvtColor(cv2.imread(str(stem) + ".jpg"), cv2.COLOR_BGR2RGB)
    text = (stem.parent / "test_1.pts").read_text()
    points = np.array(text[text.index("{") + 1 : text.index("}")].split(), float).reshape(68, 2) - 1
    x0, y0 = (points.min(0) - 20).astype(int)
    x1, y1 = (points.max(0) + 20).astype(int)
    crop = image[y0:y1, x0:x1]
    scale = np.array([160.0 / (x1 - x0), 160.0 / (y1 - y0)])
    crop = cv2.resize(crop, (160, 160), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop), (points - [x0, y0] + 0.5) * scale - 0.5


def _variants(image):
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return {
        "rgb_uint8": image,
        "rgb_float32": image.astype(np.float32),
        "gray": gray,
        "gray_1ch": gray[..., None],
        "rgba": cv2.cvtColor(image, cv2.COLOR_RGB2RGBA),
    }


def _gaussians(centres, length, size, sigma):
    bins = np.arange(length)
    u = (centres + 0.5) * length / size - 0.5
    return np.exp(-0.5 * ((bins[None] - u[:, None]) / sigma) ** 2)


def test_draw_landmarks_marks_the_points(face):
    image, points = face
    before = image.copy()
    out = draw.draw_landmarks(image, points, scheme="300w", color=(255, 0, 255), radius=2)
    np.testing.assert_array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8
    for x, y in np.round(points).astype(int):
        np.testing.assert_array_equal(out[y, x], [255, 0, 255])
    changed = np.any(out != image, axis=2)
    ys, xs = np.nonzero(changed)
    # all changes lie on the face: within dot radius of the landmarks' box (lines join points)
    assert xs.min() >= points[:, 0].min() - 4 and xs.max() <= points[:, 0].max() + 4
    assert ys.min() >= points[:, 1].min() - 4 and ys.max() <= points[:, 1].max() + 4
    # connections are drawn: a pixel midway between two connected jaw points changes
    midway = np.round((points[3] + points[4]) / 2).astype(int)
    without_lines = draw.draw_landmarks(image, points, radius=1)
    assert changed[midway[1], midway[0]]
    assert not np.any(without_lines[midway[1], midway[0]] != image[midway[1], midway[0]])


def test_draw_landmarks_scores_and_nan(face):
    image, points = face
    points = points.copy()
    points[10] = np.nan  # skipped, not an error
    scores = np.zeros(68)
    scores[30] = 1.0
    out = draw.draw_landmarks(image, points, scores=scores, color=(0, 255, 0),
                              low_color=(255, 0, 0), radius=2)
    x, y = np.round(points[30]).astype(int)
    np.testing.assert_array_equal(out[y, x], [0, 255, 0])
    x, y = np.round(points[36]).astype(int)
    np.testing.assert_array_equal(out[y, x], [255, 0, 0])


@pytest.mark.parametrize("variant", ["rgb_uint8", "rgb_float32", "gray", "gray_1ch", "rgba"])
def test_every_function_keeps_shape_and_dtype(face, variant):
    base, points = face
    image = _variants(base)[variant]
    before = image.copy()
    hx = _gaussians(points[:, 0], 480, 160, 4.0)
    hy = _gaussians(points[:, 1], 480, 160, 4.0)
    g = np.arange(40)
    u = (points + 0.5) * 40 / 160 - 0.5
    heatmap = np.exp(-0.5 * ((g[None, :, None] - u[None, None, :, 0]) ** 2
                             + (g[:, None, None] - u[None, None, :, 1]) ** 2))
    outputs = [
        draw.draw_landmarks(image, points, "300w"),
        draw.draw_heatmaps_1d(image, hx, hy),
        draw.draw_heatmap_2d_overlay(image, heatmap),
    ]
    np.testing.assert_array_equal(image, before)
    for out in outputs:
        assert out.shape == image.shape and out.dtype == image.dtype
        assert np.any(out != image)
    if variant == "rgba":
        assert np.all(outputs[0][..., 3] == 255)  # opaque drawing keeps alpha


def test_draw_heatmaps_1d_peaks_in_the_bands(face):
    image = np.full((160, 160, 3), 128, np.uint8)
    points = np.array([[40.0, 30.0], [90.0, 70.0]])
    band = 30
    hx = _gaussians(points[:, 0], 480, 160, 3.0)
    hy = _gaussians(points[:, 1], 480, 160, 3.0)
    out = draw.draw_heatmaps_1d(image, hx, hy, band=band, alpha=0.0)  # curves only
    changed = np.any(out != image, axis=2)
    assert not changed[: 160 - band, : 160 - band].any()  # the image area is untouched
    # x curves: the innermost drawn pixel of the bottom band sits above each landmark's x
    bottom = changed[160 - band : 160 - band + 3, : 160 - band]
    peak_columns = np.flatnonzero(bottom.any(axis=0))
    for x in points[:, 0]:
        assert np.min(np.abs(peak_columns - x)) <= 1.5
    assert all(np.min(np.abs(points[:, 0] - c)) <= 2.5 for c in peak_columns)
    right = changed[: 160 - band, 160 - band : 160 - band + 3]
    peak_rows = np.flatnonzero(right.any(axis=1))
    for y in points[:, 1]:
        assert np.min(np.abs(peak_rows - y)) <= 1.5
    # with alpha the bands are darkened, the corner and the image are not
    dark = draw.draw_heatmaps_1d(image, hx, hy, band=band, alpha=0.5)
    assert tuple(dark[159, 5]) == (64, 64, 64) and tuple(dark[5, 159]) == (64, 64, 64)
    assert tuple(dark[159, 159]) == (128, 128, 128) and tuple(dark[60, 60]) == (128, 128, 128)


def test_draw_heatmap_2d_overlay_is_hot_at_the_peak():
    image = np.full((64, 64, 3), 100, np.uint8)
    heatmap = np.zeros((16, 16, 2))
    heatmap[4, 4, 0] = 1.0  # bin (4, 4) covers image pixels 16..19 -> centre 17.5
    heatmap[12, 10, 1] = 0.5
    out = draw.draw_heatmap_2d_overlay(image, heatmap, alpha=1.0).astype(int)
    difference = np.abs(out - image).sum(axis=2)
    y, x = np.unravel_index(np.argmax(difference), difference.shape)
    assert abs(x - 17.5) <= 1 and abs(y - 17.5) <= 1
    assert difference[2, 60] == 0  # zero heat keeps the image
    assert difference[49, 41] > 0  # the second channel shows too (max over channels)


def test_bad_arguments(face):
    image, points = face
    with pytest.raises(ValueError, match=r"image.shape=\(4, 4, 2\)"):
        draw.draw_landmarks(np.zeros((4, 4, 2), np.uint8), points)
    with pytest.raises(ValueError, match="image.dtype=int64"):
        draw.draw_landmarks(np.zeros((4, 4, 3), np.int64), points)
    with pytest.raises(ValueError, match="numpy array"):
        draw.draw_landmarks([[0]], points)
    with pytest.raises(ValueError, match=r"landmarks.shape=\(68,\)"):
        draw.draw_landmarks(image, points[:, 0])
    with pytest.raises(ValueError, match="has 98 landmarks"):
        draw.draw_landmarks(image, points, scheme="wflw")
    with pytest.raises(ValueError, match="Unknown landmark scheme"):
        draw.draw_landmarks(image, points, scheme="nope")
    with pytest.raises(ValueError, match="scores.shape"):
        draw.draw_landmarks(image, points, scores=np.ones(3))
    with pytest.raises(ValueError, match="radius"):
        draw.draw_landmarks(image, points, radius=0)
    with pytest.raises(ValueError, match="same number of landmarks"):
        draw.draw_heatmaps_1d(image, np.ones((3, 8)), np.ones((2, 8)))
    with pytest.raises(ValueError, match="band"):
        draw.draw_heatmaps_1d(image, np.ones((2, 8)), np.ones((2, 8)), band=1000)
    with pytest.raises(ValueError, match="NaN"):
        draw.draw_heatmaps_1d(image, np.full((2, 8), np.nan), np.ones((2, 8)))
    with pytest.raises(ValueError, match="heatmap.shape"):
        draw.draw_heatmap_2d_overlay(image, np.ones((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="alpha"):
        draw.draw_heatmap_2d_overlay(image, np.ones((4, 4)), alpha=2.0)
    assert schemes.get_scheme("300w").connections  # what draw_landmarks draws with a scheme
