"""``keras.ops`` helpers shared by RDFN's layers and its codec (no layers, no zoo imports).

Two pieces of math are needed both inside the network and in the decoding, so they live here
once:

* **the separable bilinear region sampler** (:func:`tent_weights`, :func:`resample`): an
  axis-aligned crop-and-resize (RoIAlign with one sample per cell) written as two batched
  matrix products with bilinear "tent" weights, so the exported graphs need no gather, no
  ``CropAndResize`` and no ``GridSample`` (ops LiteRT's builtins or ONNX opset 18 converters
  do not all take): only ``BatchMatMul``, element-wise ops and reshapes.
* **location reweighting** (:func:`location_reweighting`): score maps -> coordinates by a
  reweighted expectation around the peak (the formula is in its docstring).

Coordinates: a region box is ``(x0, y0, x1, y1)`` in **normalised** units of the image it lies
on, 0 = the left/top edge of the first pixel and 1 = the right/bottom edge of the last one.
Cell ``i`` of a grid of ``n`` cells over ``[a, b]`` has its centre at ``a + (i + 0.5)(b - a) / n``
(the half-pixel convention of ``zoo.codecs.base``).
"""
from keras import ops

# Float16-safe (LiteRT float16 export stores constants as halves; see zoo.codecs.base).
EPSILON = 1e-4


def tent_weights(output_start, output_stop, output_cells, input_start, input_stop, input_cells):
    """Bilinear interpolation weights from an input grid to an output grid on one axis.

    The centre of output cell ``j`` lies at ``c_j = s_o + (j + 0.5) (e_o - s_o) / n_o``; in
    input-cell units it is ``t_j = (c_j - s_i) / (e_i - s_i) * n_i - 0.5`` and the weight of
    input cell ``i`` is the tent ``max(0, 1 - |t_j - i|)``: bilinear interpolation with zeros
    outside the input grid (two neighbours weigh in, one at the border, none outside).

    Args:
        output_start, output_stop: ``(B,)`` tensors (or floats): the output grid's interval.
        output_cells: int, ``n_o``.
        input_start, input_stop: ``(B,)`` tensors (or floats): the input grid's interval.
        input_cells: int, ``n_i``.

    Returns:
        float32 ``(B, n_o, n_i)`` (``(1, n_o, n_i)`` when every interval is a float).

    Example:
        >>> import numpy as np
        >>> from zoo.layers import region_ops
        >>> w = region_ops.tent_weights(np.array([0.0]), np.array([1.0]), 2, 0.0, 1.0, 4)
        >>> np.asarray(w)[0].tolist()
        [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """
    def column(value):
        value = ops.cast(ops.convert_to_tensor(value), "float32")
        return ops.reshape(value, (-1, 1, 1))

    output_start, output_stop = column(output_start), column(output_stop)
    input_start, input_stop = column(input_start), column(input_stop)
    centres = (ops.arange(output_cells, dtype="float32")[None, :, None] + 0.5) / output_cells
    centres = output_start + centres * (output_stop - output_start)
    # Degenerate boxes (zero width) would divide by zero: a tiny floor keeps the graph finite.
    span = ops.maximum(input_stop - input_start, EPSILON)
    positions = (centres - input_start) / span * input_cells - 0.5
    cells = ops.arange(input_cells, dtype="float32")[None, None, :]
    return ops.relu(1.0 - ops.abs(positions - cells))


def resample(features, weights_y, weights_x):
    """``out[b, p, q, c] = sum_{h, w} Wy[b, p, h] Wx[b, q, w] features[b, h, w, c]``.

    Two batched matrix products (separable bilinear sampling): first over the rows, then, with
    ``Wx`` broadcast over the output rows, over the columns.

    Args:
        features: ``(B, H, W, C)`` with static ``H``, ``W``, ``C``.
        weights_y: ``(B, P, H)`` (or ``(1, P, H)``).
        weights_x: ``(B, Q, W)`` (or ``(1, Q, W)``).

    Returns:
        ``(B, P, Q, C)``.
    """
    height, width, channels = features.shape[1], features.shape[2], features.shape[3]
    rows = weights_y.shape[1]
    flat = ops.reshape(features, (-1, height, width * channels))
    flat = ops.matmul(weights_y, flat)  # (B, P, W*C)
    grid = ops.reshape(flat, (-1, rows, width, channels))
    return ops.matmul(ops.expand_dims(weights_x, 1), grid)  # (B, 1, Q, W) @ (B, P, W, C)


def square_boxes(boxes, margin=0.0, square=True):
    """Boxes ``(..., 4)`` made square (side = the larger side) and enlarged by ``margin``.

    Args:
        boxes: ``(..., 4)`` ``(x0, y0, x1, y1)``.
        margin: relative enlargement of the side (0.1 = 10 % larger).
        square: False keeps the aspect ratio (both sides enlarged).

    Returns:
        ``(..., 4)`` boxes with the same centres.
    """
    centre_x = 0.5 * (boxes[..., 0] + boxes[..., 2])
    centre_y = 0.5 * (boxes[..., 1] + boxes[..., 3])
    half_w = 0.5 * (boxes[..., 2] - boxes[..., 0])
    half_h = 0.5 * (boxes[..., 3] - boxes[..., 1])
    if square:
        half_w = half_h = ops.maximum(half_w, half_h)
    half_w, half_h = half_w * (1.0 + margin), half_h * (1.0 + margin)
    return ops.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w,
                      centre_y + half_h], axis=-1)


def _argmax_last(values):
    """First index of the maximum over the last axis (float32) and the maximum.

    ``min(where(v >= max(v), arange, L))`` rather than ``ops.argmax``, whose TF form adds a
    ``BitwiseAnd`` LiteRT lacks (as ``zoo.codecs.base.argmax_last``).
    """
    length = values.shape[-1]
    peak = ops.max(values, axis=-1, keepdims=True)
    positions = ops.arange(length, dtype="float32")
    candidates = ops.where(ops.greater_equal(values, peak), positions, float(length))
    return ops.min(candidates, axis=-1), ops.squeeze(peak, axis=-1)


def reweighting_weights(maps, radius=3, power=2.0, threshold=0.0):
    """The normalised location-reweighting weights of channels-last score maps.

    See :func:`location_reweighting` for the formula.

    Args:
        maps: ``(B, H, W, K)`` score maps.
        radius: int >= 0 or None, half side of the square window around the peak (cells);
            None: the whole map.
        power: float > 0, the exponent ``gamma``.
        threshold: float in [0, 1), ``tau``: values below ``tau * peak`` get no weight.

    Returns:
        ``(weights (B, K, H, W) summing to 1 where valid, valid (B, K) bool, peak_x (B, K),
        peak_y (B, K), peak (B, K))``; where no cell has weight (a peak <= 0) ``valid`` is
        False and the weights are 0.
    """
    height, width = maps.shape[1], maps.shape[2]
    maps = ops.transpose(ops.cast(maps, "float32"), (0, 3, 1, 2))  # (B, K, H, W)
    batch_shape = ops.shape(maps)[:2]
    flat = ops.reshape(maps, (batch_shape[0], batch_shape[1], height * width))
    index, peak = _argmax_last(flat)
    # Row and column from the flat index in float arithmetic (exact below 2**24 cells).
    peak_y = ops.floor((index + 0.5) / width)
    peak_x = index - peak_y * width
    weights = ops.relu(maps - threshold * ops.maximum(peak, 0.0)[..., None, None])
    if power != 1.0:
        weights = ops.power(weights, power)
    if radius is not None:
        rows = ops.arange(height, dtype="float32")
        cols = ops.arange(width, dtype="float32")
        inside_rows = ops.cast(ops.less_equal(ops.abs(rows - peak_y[..., None]), radius + 0.5),
                               "float32")
        inside_cols = ops.cast(ops.less_equal(ops.abs(cols - peak_x[..., None]), radius + 0.5),
                               "float32")
        weights = weights * inside_rows[..., :, None] * inside_cols[..., None, :]
    total = ops.sum(weights, axis=(2, 3))
    # 1e-20-sized totals (a flat, near-zero map) fall back to the peak cell.
    valid = ops.greater(total, 1e-20)
    weights = weights / ops.where(valid, total, 1.0)[..., None, None]
    return weights, valid, peak_x, peak_y, peak


def location_reweighting(maps, radius=3, power=2.0, threshold=0.0):
    """Score maps -> coordinates by a reweighted expectation around the peak (RDFN's abstract).

    For one score map ``H`` with peak ``p* = argmax H`` and ``m = H(p*)``:

    ``w(p) = max(H(p) - tau * m, 0)^gamma * [ |p - p*|_inf <= r ]``,
    ``p_hat = sum_p w(p) p / sum_p w(p)``.

    The window ``r`` keeps far-away modes and background out (what makes plain soft-argmax
    biased towards the map's centre); the power ``gamma`` sharpens the peak so that the
    low-level noise inside the window weighs little; unlike argmax the result is continuous
    (no quantisation to the cell grid). A Gaussian ``exp(-d^2 / 2 s^2)`` raised to ``gamma`` is
    a Gaussian of the same centre (width ``s / sqrt(gamma)``), so on a Gaussian target the
    estimate is unbiased up to the window's truncation (``r >= 3 s / sqrt(gamma)`` makes that
    negligible). Special cases: ``r = 0`` is argmax; ``r = None, gamma = 1, tau = 0`` is
    integral regression (soft-argmax with ``relu`` weights). A map whose peak is <= 0 (no
    positive cell) gives the argmax cell.

    Args:
        maps: ``(B, H, W, K)`` score maps (channels last).
        radius: int >= 0 or None (whole map), the window half side ``r`` in cells.
        power: float > 0, ``gamma``.
        threshold: float in [0, 1), ``tau``.

    Returns:
        ``(x (B, K), y (B, K), peak (B, K))``: continuous cell coordinates (cell centres at
        integers) and the peak values.

    Example:
        >>> import numpy as np
        >>> from zoo.layers import region_ops
        >>> grid = np.arange(16, dtype="float32")
        >>> g = np.exp(-((grid[None] - 5.3) ** 2 + (grid[:, None] - 9.6) ** 2) / 4.5)
        >>> x, y, _ = region_ops.location_reweighting(g[None, :, :, None])
        >>> [round(float(np.asarray(x)[0, 0]), 2), round(float(np.asarray(y)[0, 0]), 2)]
        [5.3, 9.6]
    """
    weights, valid, peak_x, peak_y, peak = reweighting_weights(maps, radius, power, threshold)
    height, width = maps.shape[1], maps.shape[2]
    x = ops.sum(ops.sum(weights, axis=2) * ops.arange(width, dtype="float32"), axis=-1)
    y = ops.sum(ops.sum(weights, axis=3) * ops.arange(height, dtype="float32"), axis=-1)
    return ops.where(valid, x, peak_x), ops.where(valid, y, peak_y), peak
