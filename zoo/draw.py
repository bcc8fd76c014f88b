"""Drawing landmarks and heatmaps on images (OpenCV + numpy), for demos, debugging and docs.

Every function returns a new image with the input's shape and dtype and never modifies its
input. Images are RGB (as everywhere in the zoo), `uint8` or float in `[0, 255]`; grayscale
`(H, W)` / `(H, W, 1)` and RGBA `(H, W, 4)` images are accepted (colours are converted to
gray, and drawn opaque on RGBA). Landmarks use the zoo's 0-based pixel coordinates (the
centre of the top-left pixel is (0, 0)), which is OpenCV's drawing convention; points are
drawn with sub-pixel precision.

Example:
    >>> import numpy as np, zoo.draw
    >>> image = np.zeros((64, 64, 3), np.uint8)
    >>> drawn = zoo.draw.draw_landmarks(image, np.array([[10.0, 20.0], [40.0, 30.0]]))
    >>> drawn.shape, int(drawn[20, 10, 1])
    ((64, 64, 3), 255)
"""
import cv2
import numpy as np

from zoo import schemes as _schemes

_SHIFT = 4  # OpenCV fixed-point bits: coordinates are drawn at 1/16 pixel precision
_SCALE = 1 << _SHIFT


def _check_image(image):
    if not isinstance(image, np.ndarray):
        raise ValueError(f"`image` must be a numpy array. Received: image={type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(
            "`image` must be (H, W) gray, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA. "
            f"Received: image.shape={image.shape}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"`image` must not be empty. Received: image.shape={image.shape}")
    if image.dtype not in (np.uint8, np.float32, np.float64):
        raise ValueError(
            "`image` must be uint8, float32 or float64. "
            f"Received: image.dtype={image.dtype}"
        )


def _canvas(image):
    """Contiguous 3-D working copy (OpenCV draws in place)."""
    canvas = image.reshape(image.shape[0], image.shape[1], -1).copy()
    return np.ascontiguousarray(canvas)


def _colour(rgb, channels):
    rgb = tuple(float(c) for c in rgb)
    if len(rgb) != 3:
        raise ValueError(f"Colours must be (r, g, b) in [0, 255]. Received: color={rgb!r}")
    if channels == 1:
        return (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2],)
    if channels == 4:
        return rgb + (255.0,)
    return rgb


def _finish(canvas, image):
    return canvas.reshape(image.shape).astype(image.dtype, copy=False)


def _fixed(point):
    return int(round(point[0] * _SCALE)), int(round(point[1] * _SCALE))


def draw_landmarks(image, landmarks, scheme=None, scores=None, color=(0, 255, 0), radius=None,
                   thickness=1, line_color=(255, 255, 255), low_color=(255, 0, 0)):
    """Draws landmarks as filled dots and, with a scheme, its connections as lines.

    Args:
        image: (H, W[, C]) image, see the module docstring.
        landmarks: (N, 2) 0-based (x, y) pixel coordinates; rows with NaN are skipped.
        scheme: None, or a scheme name / `zoo.schemes.Scheme` whose `connections` are drawn
            (and whose `num_landmarks` must equal N).
        scores: optional (N,) confidences in [0, 1]; each dot's colour goes from `low_color`
            (score 0) to `color` (score 1).
        color: RGB dot colour.
        radius: dot radius in pixels; None: `max(1, round(min(H, W) / 150))`.
        thickness: line thickness for the connections.
        line_color: RGB colour of the connections.
        low_color: RGB colour for score 0.

    Returns:
        a new image, same shape and dtype as `image`.

    Example:
        >>> import numpy as np, zoo.draw, zoo.schemes
        >>> face = np.random.default_rng(0).uniform(10, 100, (68, 2))
        >>> out = zoo.draw.draw_landmarks(np.zeros((128, 128, 3), np.uint8), face, scheme="300w")
        >>> out.dtype, out.shape
        (dtype('uint8'), (128, 128, 3))
    """
    _check_image(image)
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            "`landmarks` must have shape (N, 2). "
            f"Received: landmarks.shape={points.shape}"
        )
    connections = ()
    if scheme is not None:
        scheme = _schemes.get_scheme(scheme)
        if points.shape[0] != scheme.num_landmarks:
            raise ValueError(
                f"Scheme {scheme.name!r} has {scheme.num_landmarks} landmarks. "
                f"Received: landmarks.shape={points.shape}"
            )
        connections = scheme.connections
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (points.shape[0],):
            raise ValueError(
                f"`scores` must have shape ({points.shape[0]},). "
                f"Received: scores.shape={scores.shape}"
            )
        scores = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)
    if radius is None:
        radius = max(1, int(round(min(image.shape[:2]) / 150)))
    if not isinstance(radius, (int, np.integer)) or radius < 1:
        raise ValueError(f"`radius` must be a positive int. Received: radius={radius!r}")

    canvas = _canvas(image)
    channels = canvas.shape[2]
    finite = np.all(np.isfinite(points), axis=1)
    line = _colour(line_color, channels)
    for i, j in connections:
        if finite[i] and finite[j]:
            cv2.line(canvas, _fixed(points[i]), _fixed(points[j]), line, int(thickness),
                     cv2.LINE_AA, _SHIFT)
    high = np.array(_colour(color, channels))
    low = np.array(_colour(low_color, channels))
    for index in np.flatnonzero(finite):
        mix = high if scores is None else low + scores[index] * (high - low)
        cv2.circle(canvas, _fixed(points[index]), int(radius * _SCALE), tuple(mix.tolist()), -1,
                   cv2.LINE_AA, _SHIFT)
    return _finish(canvas, image)


def draw_faces(image, faces, scheme=None, box_color=(255, 200, 0), color=(0, 255, 0),
               thickness=None):
    """Draws the faces ``zoo.FaceLandmarker`` found: each box and its landmarks.

    Args:
        image: (H, W[, C]) image, see the module docstring.
        faces: a ``zoo.landmarker.Faces`` (or anything with ``boxes`` (K, 4), ``landmarks``
            (K, N, 2) and ``scores`` (K, N)).
        scheme: landmark scheme for the connections (see :func:`draw_landmarks`), or None.
        box_color: RGB colour of the boxes.
        color: RGB colour of confident landmarks (low scores shade to red).
        thickness: box line thickness; None: ``max(1, round(min(H, W) / 300))``.

    Returns:
        a new image, same shape and dtype as ``image``.

    Example:
        >>> import types, numpy as np, zoo.draw
        >>> faces = types.SimpleNamespace(boxes=np.array([[8., 8., 40., 40.]]),
        ...                               landmarks=np.full((1, 2, 2), 20.0),
        ...                               scores=np.ones((1, 2)))
        >>> zoo.draw.draw_faces(np.zeros((48, 48, 3), np.uint8), faces).shape
        (48, 48, 3)
    """
    _check_image(image)
    boxes = np.asarray(faces.boxes, np.float64).reshape(-1, 4)
    if thickness is None:
        thickness = max(1, int(round(min(image.shape[:2]) / 300)))
    canvas = _canvas(image)
    colour = _colour(box_color, canvas.shape[2])
    for x1, y1, x2, y2 in boxes:
        if np.all(np.isfinite([x1, y1, x2, y2])):
            cv2.rectangle(canvas, _fixed((x1, y1)), _fixed((x2, y2)), colour, int(thickness),
                          cv2.LINE_AA, _SHIFT)
    drawn = _finish(canvas, image)
    for points, scores in zip(faces.landmarks, faces.scores):
        drawn = draw_landmarks(drawn, points, scheme=scheme, scores=scores, color=color)
    return drawn


def _palette(count):
    """`count` distinct RGB colours (hue wheel)."""
    hues = (np.arange(count) * 180.0 / max(count, 1)).astype(np.uint8)
    hsv = np.stack([hues, np.full(count, 220, np.uint8), np.full(count, 255, np.uint8)], -1)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0].astype(np.float64)


def _heatmaps_1d(value, name):
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(
            f"`{name}` must have shape (N, L) with L >= 2. "
            f"Received: {name}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` contains NaN or infinite values. Received: {name} with NaN/inf")
    return array


def draw_heatmaps_1d(image, x_heatmaps, y_heatmaps, band=None, alpha=0.6, thickness=1):
    """Draws 1D heatmaps along the borders: x curves along the bottom, y curves along the right.

    Each heatmap is scaled to its own maximum and drawn as a curve in a darkened band of
    `band` pixels, standing on the image border (0) and rising inwards (the maximum reaches
    `band - 1` pixels in); parts below 2% of the peak are not drawn. The bands stop short
    of each other: the bottom-right `band x band` corner is left untouched. Bin `j` of a
    length-`L` heatmap is drawn at image coordinate `(j + 0.5) * W / L - 0.5` (the codecs'
    convention: the heatmap spans the whole image axis). Landmark `k` has the same colour in
    both bands.

    Args:
        image: (H, W[, C]) image, see the module docstring.
        x_heatmaps: (N, Lx) heatmaps over the x axis (or one (Lx,) heatmap).
        y_heatmaps: (N, Ly) heatmaps over the y axis (same N).
        band: band thickness in pixels; None: 20% of the smaller side.
        alpha: darkening of the band background (0: none, 1: black).
        thickness: curve thickness.

    Returns:
        a new image, same shape and dtype as `image`.

    Example:
        >>> import numpy as np, zoo.draw
        >>> hx = np.exp(-0.5 * ((np.arange(192) - 60) / 3.0) ** 2)[None]
        >>> out = zoo.draw.draw_heatmaps_1d(np.zeros((64, 64, 3), np.uint8), hx, hx)
        >>> out.shape
        (64, 64, 3)
    """
    _check_image(image)
    x_heatmaps = _heatmaps_1d(x_heatmaps, "x_heatmaps")
    y_heatmaps = _heatmaps_1d(y_heatmaps, "y_heatmaps")
    if x_heatmaps.shape[0] != y_heatmaps.shape[0]:
        raise ValueError(
            "`x_heatmaps` and `y_heatmaps` must hold the same number of landmarks. Received: "
            f"x_heatmaps.shape={x_heatmaps.shape}, y_heatmaps.shape={y_heatmaps.shape}"
        )
    height, width = image.shape[:2]
    if band is None:
        band = max(4, int(round(0.2 * min(height, width))))
    if not isinstance(band, (int, np.integer)) or not 1 <= band <= min(height, width):
        raise ValueError(f"`band` must be an int in [1, min(H, W)]. Received: band={band!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha!r}")

    canvas = _canvas(image).astype(np.float64)
    channels = canvas.shape[2]
    # bottom band: columns left of the right band; right band: rows above the bottom band
    canvas[height - band:, : width - band, :3] *= 1.0 - alpha
    canvas[: height - band, width - band:, :3] *= 1.0 - alpha
    colours = _palette(x_heatmaps.shape[0])

    def normalise(heatmaps):
        low = heatmaps.min(axis=1, keepdims=True)
        span = heatmaps.max(axis=1, keepdims=True) - low
        return (heatmaps - low) / np.where(span > 0, span, 1.0)

    x_values, y_values = normalise(x_heatmaps), normalise(y_heatmaps)
    x_positions = (np.arange(x_heatmaps.shape[1]) + 0.5) * width / x_heatmaps.shape[1] - 0.5
    y_positions = (np.arange(y_heatmaps.shape[1]) + 0.5) * height / y_heatmaps.shape[1] - 0.5
    # curves stand on the image border and rise inwards by up to band - 1 pixels
    bottom, right = height - 0.5, width - 0.5
    for k in range(x_heatmaps.shape[0]):
        colour = _colour(colours[k], channels)
        curves = (
            (np.stack([x_positions, bottom - (band - 1) * x_values[k]], axis=1),
             x_values[k], x_positions < width - band - 0.5),
            (np.stack([right - (band - 1) * y_values[k], y_positions], axis=1),
             y_values[k], y_positions < height - band - 0.5),
        )
        for curve, value, inside in curves:
            # only where the heatmap rises above 2% of its peak, so flat tails do not pile up
            keep = (value > 0.02) & inside
            grown = keep.copy()
            grown[1:] |= keep[:-1]
            grown[:-1] |= keep[1:]
            keep = grown & inside
            edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
            for start, stop in zip(edges[::2], edges[1::2]):
                if stop - start < 2:
                    continue
                fixed = np.round(curve[start:stop] * _SCALE).astype(np.int32)[:, None, :]
                cv2.polylines(canvas, [fixed], False, colour, int(thickness), cv2.LINE_AA, _SHIFT)
    if image.dtype == np.uint8:
        canvas = np.clip(np.round(canvas), 0, 255)
    return _finish(canvas, image)


def draw_heatmap_2d_overlay(image, heatmap, alpha=0.5, colormap=cv2.COLORMAP_JET):
    """Blends a 2D heatmap (or the maximum over N landmark channels) over the image.

    The heatmap is scaled to [0, 1], resized to the image with bilinear interpolation
    (heatmap pixel centres aligned with image pixel centres, the codecs' convention),
    coloured with an OpenCV colormap and blended: `out = (1 - alpha * v) * image + alpha * v *
    colour`, so cold regions keep the image.

    Args:
        image: (H, W[, C]) image, see the module docstring.
        heatmap: (h, w) or (h, w, N) channels-last heatmaps.
        alpha: blend strength at the heatmap's maximum, in [0, 1].
        colormap: an OpenCV colormap id.

    Returns:
        a new image, same shape and dtype as `image`.

    Example:
        >>> import numpy as np, zoo.draw
        >>> heatmap = np.zeros((16, 16, 2)); heatmap[4, 4, 0] = heatmap[10, 12, 1] = 1.0
        >>> zoo.draw.draw_heatmap_2d_overlay(np.zeros((64, 64), np.uint8), heatmap).shape
        (64, 64)
    """
    _check_image(image)
    values = np.asarray(heatmap, dtype=np.float64)
    if values.ndim == 3:
        values = values.max(axis=2)
    if values.ndim != 2 or min(values.shape) < 1:
        raise ValueError(
            "`heatmap` must have shape (h, w) or (h, w, N). "
            f"Received: heatmap.shape={np.shape(heatmap)}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            "`heatmap` contains NaN or infinite values. "
            "Received: heatmap with NaN/inf"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha!r}")
    height, width = image.shape[:2]
    span = values.max() - values.min()
    values = (values - values.min()) / (span if span > 0 else 1.0)
    values = cv2.resize(values.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    values = np.clip(values, 0.0, 1.0).astype(np.float64)
    coloured = cv2.applyColorMap(np.round(values * 255).astype(np.uint8), colormap)
    coloured = cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB).astype(np.float64)
    canvas = _canvas(image).astype(np.float64)
    channels = canvas.shape[2]
    if channels == 1:
        coloured = (coloured @ np.array([0.299, 0.587, 0.114]))[..., None]
    weight = (alpha * values)[..., None]
    colour_channels = min(channels, 3)  # RGBA keeps its alpha
    canvas[..., :colour_channels] = (
        (1.0 - weight) * canvas[..., :colour_channels] + weight * coloured
    )
    if image.dtype == np.uint8:
        canvas = np.clip(np.round(canvas), 0, 255)
    return _finish(canvas, image)
