"""The Heatmap-In-Heatmap (HIH) codec (seed 003: Lan et al., "HIH: Towards More Accurate Face
Alignment via Heatmap in Heatmap"), written after the authors' released code
(``lib/dataset/gen_heads.py``, ``lib/dataset/decode_heads.py``).

HIH represents a landmark with two nested heatmaps. With ``S = integer_size`` (64), ``d =
decimal_size`` (8) and the continuous heatmap coordinate ``u`` in which cell ``k`` spans
``[k, k + 1)`` (the authors' ``target_w_size = landmark / F * S``):

* the **integer heatmap** ``(S, S, N)`` marks the *floored* cell ``k = clip(floor(u), 0,
  S - 1)``: a peak-1 Gaussian of ``integer_sigma`` cells (1.5) centred on ``k``, cut as the
  authors' kernel is, to the offsets ``floor(-3 sigma) .. floor(3 sigma)`` (-5 .. 4 at 1.5);
* the **decimal heatmap** ``(d, d, N)`` spans that one cell: the fractional part ``f = u - k``
  scaled to ``c = f * d`` decimal cells, a peak-1 Gaussian of ``decimal_sigma`` cells (1.0)
  cut to a ``(6 sigma + 1)``-cell window (7 x 7) around the nearest decimal cell ``m``. The
  authors' kernel is centred *on* ``m`` (``decimal_target="rounded"``, the default); a
  Gaussian centred at the continuous ``c`` in the same window (``"continuous"``) is this zoo's
  option, which keeps the sub-cell information an expectation can read back.

The coordinate convention: the authors normalise landmarks to ``[0, 1]`` (their preparation
scripts are not published); we take ``u = (p + 0.5) S / F``, the pixel-edge reading of the
convention in ``zoo.codecs.base`` (an ``F``-pixel axis spans ``[-0.5, F - 0.5]``), so cell
``k``'s centre is the bin centre of ``zoo.codecs.base`` and ``floor(u)`` is its nearest bin.

Decoding (``method``):

* ``"argmax"`` (the authors' ``decode_hih_head``, the default): ``u' = argmax(integer) +
  argmax(decimal) / d``, i.e. ``(k + i / d) * stride`` in pixels. On rounded targets its error
  is at most ``1 / (2 d)`` cell, except where ``c`` rounds to ``d`` (outside the decimal
  map): the argmax then sits on the last cell, up to ``1 / d`` cell away.
* ``"expectation"``: the integer argmax plus the expectation of the decimal cell index over a
  ``(2 floor(3 sigma) + 1)``-cell window around the decimal argmax, per axis, on the
  marginals of ``v - min(v)`` (shift invariant, so it reads CSC logits, which the KL term
  fixes only up to a constant, and targets alike; the background is the map minimum, 0 on a
  target whenever the window leaves a row of the map empty, as 7 cells of 8 do). Window
  cells outside the decimal map are extrapolated as the codec's own Gaussian (log-linear from
  the two border cells with the known curvature ``-1 / sigma^2``), so the expectation is not
  pulled inwards at the borders; on ``"continuous"`` targets it is exact up to the 3-sigma
  cut (0.001 % NME on 300-W, ``benchmarks/representation_error.py``).

The CSC soft labels (``soft_labels``) are ``softmax`` over the ``d * d`` cells of the decimal
target values (the authors' ``SoftKLLoss``: ``Softmax(target)``).

Deviations from the authors' code, on purpose: their kernel placement truncates towards zero
(``np.array(..., dtype=int)``), which moves the integer peak one cell inwards for floored cells
``k < 3 sigma`` (cells 0-4 at sigma 1.5); here the peak is on ``k`` everywhere. Their decode
also zeroes a coordinate whose map maximum is <= 0 (also for the decimal *logits*, whose
offset is arbitrary under the KL loss); here it does not (the score says how sure the model is).

Constraint: ``integer_size`` must divide ``input_size`` (network downsampling by an integer
stride, as in HIH's hourglass).
"""
import math

from keras import ops

from zoo.codecs import base
from zoo.codecs.heatmap_2d import decode_2d

METHODS = ("argmax", "expectation")
DECIMAL_TARGETS = ("rounded", "continuous")


def kernel_offsets(sigma):
    """First and last offset of the authors' Gaussian kernel (``3 sigma`` cut), in cells.

    ``gen_heat`` builds ``arange(0, 6 sigma + 1)`` centred at ``floor((6 sigma + 1) / 2)`` and
    places it from ``floor(centre - 3 sigma)``: offsets ``floor(-3 sigma) .. floor(3 sigma)``
    (-5 .. 4 for sigma 1.5, -3 .. 3 for sigma 1).
    """
    return math.floor(-3.0 * sigma), math.floor(3.0 * sigma)


def soft_labels(decimal):
    """CSC soft labels: ``softmax`` of decimal target values over the ``d * d`` cells.

    Args:
        decimal: ``(..., d, d, N)`` decimal heatmap values (targets, or logits).

    Returns:
        ``(..., d, d, N)`` probabilities summing to 1 over the two cell axes (``keras.ops``).
    """
    decimal = ops.convert_to_tensor(decimal)
    # softmax over the two cell axes jointly (the authors view each map as d * d logits).
    top = ops.max(decimal, axis=(-3, -2), keepdims=True)
    exponentials = ops.exp(decimal - top)
    return exponentials / ops.sum(exponentials, axis=(-3, -2), keepdims=True)


@base.register_codec
class HIHCodec(base.Codec):
    """Landmarks <-> HIH integer heatmap + decimal heatmap (official targets and decode).

    Args:
        input_size: int, side ``F`` of the square network input in pixels.
        integer_size: int, side ``S`` of the integer heatmap; must divide ``input_size``
            (default 64).
        decimal_size: int >= 2, side ``d`` of the decimal heatmap, sub-cell intervals per axis
            (default 8).
        integer_sigma: float, integer heatmap Gaussian std in cells (default 1.5).
        decimal_sigma: float, decimal heatmap Gaussian std in decimal cells (default 1.0).
        num_landmarks: optional int; when given, ``encode`` checks ``N``.
        method: ``"argmax"`` (authors' decode, default) or ``"expectation"``.
        decimal_target: ``"rounded"`` (authors' target, default) or ``"continuous"``.

    Returns from ``encode``: ``{"integer": (S, S, N), "decimal": (d, d, N)}``; from
    ``decode``: ``(coords (B, N, 2), scores (B, N))`` (the score is the integer peak).

    Example:
        >>> import numpy as np
        >>> import zoo.codecs
        >>> codec = zoo.codecs.HIHCodec(input_size=256, method="expectation",
        ...                             decimal_target="continuous")
        >>> targets = codec.encode(np.array([[142.84, 188.72]], "float32"))
        >>> batch = {k: v[None] for k, v in targets.items()}
        >>> coords, scores = codec.decode(batch)
        >>> bool(np.abs(np.asarray(coords)[0] - [[142.84, 188.72]]).max() < 0.01)
        True

    Reference:
        Lan et al., "HIH: Towards More Accurate Face Alignment via Heatmap in Heatmap", 2021
        (arXiv:2104.03100); code: github.com/starhiking/HeatmapInHeatmap.
    """

    target_keys = ("integer", "decimal")
    target_ranks = (4, 4)
    # Sizes read off a built model (``Codec.fit_to``): the integer and decimal map sides.
    size_fields = {"integer_size": ("integer", 0), "decimal_size": ("decimal", 0)}
    decode_methods = METHODS

    def __init__(self, input_size, integer_size=64, decimal_size=8, integer_sigma=1.5,
                 decimal_sigma=1.0, num_landmarks=None, method="argmax",
                 decimal_target="rounded"):
        self.input_size = base.check_positive_int("input_size", input_size)
        self.integer_size = base.check_positive_int("integer_size", integer_size)
        if self.input_size % self.integer_size:
            raise ValueError(
                f"`integer_size` must divide `input_size` ({self.input_size}). Received: "
                f"integer_size={self.integer_size}")
        self.decimal_size = base.check_positive_int("decimal_size", decimal_size)
        if self.decimal_size < 2:
            raise ValueError(f"`decimal_size` must be >= 2. Received: "
                             f"decimal_size={self.decimal_size}")
        self.integer_sigma = base.check_positive_float("integer_sigma", integer_sigma)
        self.decimal_sigma = base.check_positive_float("decimal_sigma", decimal_sigma)
        self.num_landmarks = (None if num_landmarks is None
                              else base.check_positive_int("num_landmarks", num_landmarks))
        if method not in METHODS:
            raise ValueError(f"Unknown decoding `method`. Allowed: {METHODS}. Received: "
                             f"method={method!r}")
        if decimal_target not in DECIMAL_TARGETS:
            raise ValueError(f"Unknown `decimal_target`. Allowed: {DECIMAL_TARGETS}. "
                             f"Received: decimal_target={decimal_target!r}")
        self.method = method
        self.decimal_target = decimal_target

    @property
    def decode_method(self):
        """The decoding ``method``."""
        return self.method

    def _decode_fields(self, method):
        return {"method": method}

    # ---- encode (TF ops, inside tf.data) ---------------------------------------------------

    @staticmethod
    def _nearest_cell(tf, centres, sigma):
        # The authors place an integer-sigma kernel from round(c - 3 sigma) (Python's round:
        # half to even, as tf.round); a non-integer one from int(c - 3 sigma) + floor(3 sigma
        # + 0.5), i.e. floor(c + 0.5) wherever c >= 3 sigma.
        reach = 3.0 * sigma
        if float(reach).is_integer():
            return tf.round(centres - reach) + reach
        return tf.floor(centres + 0.5)

    @staticmethod
    def _windowed_profiles(tf, centres, peaks, length, sigma):
        """``exp(-(j - centre)^2 / 2 sigma^2)`` on the cells ``j`` of the kernel at ``peaks``."""
        low, high = kernel_offsets(sigma)
        grid = tf.range(length, dtype=tf.float32)
        offset = grid - peaks[..., None]
        inside = tf.logical_and(offset >= low, offset <= high)
        values = tf.exp(-tf.square(grid - centres[..., None]) / (2.0 * sigma * sigma))
        return tf.where(inside, values, tf.zeros_like(values))

    def cells(self, landmarks):
        """Floored integer cells ``k`` and decimal coordinates ``c = (u - k) d`` (TF ops).

        Args:
            landmarks: float tensor ``(N, 2)`` of ``(x, y)`` in 0-based input pixels.

        Returns:
            ``(k, c)``, each float32 ``(N, 2)``.
        """
        tf = base.tf_module()
        landmarks = base.check_landmarks(landmarks, self.num_landmarks)
        # The authors' u = landmark / F * S with cell k spanning [k, k + 1): the pixel-edge
        # form of zoo.codecs.base's bin-centre coordinate (+ 0.5).
        u = base.to_heatmap_coordinate(landmarks, self.input_size, self.integer_size) + 0.5
        integer = tf.clip_by_value(tf.floor(u), 0.0, float(self.integer_size - 1))
        return integer, (u - integer) * self.decimal_size

    def encode(self, landmarks):
        """Landmarks ``(N, 2)`` -> ``{"integer": (S, S, N), "decimal": (d, d, N)}`` (TF ops).

        Args:
            landmarks: float tensor ``(N, 2)`` of ``(x, y)`` in 0-based input pixels.

        Returns:
            dict of float32 tensors.

        Raises:
            ValueError: wrong shape, ``N != num_landmarks`` or NaN/inf (eager).
        """
        tf = base.tf_module()
        integer, decimal = self.cells(landmarks)
        peak = self._nearest_cell(tf, decimal, self.decimal_sigma)
        decimal_centre = peak if self.decimal_target == "rounded" else decimal
        targets = {}
        for key, centres, peaks, size, sigma in (
                ("integer", integer, integer, self.integer_size, self.integer_sigma),
                ("decimal", decimal_centre, peak, self.decimal_size, self.decimal_sigma)):
            profiles = self._windowed_profiles(tf, centres, peaks, size, sigma)  # (N, 2, size)
            heatmap = profiles[:, 1, :, None] * profiles[:, 0, None, :]  # separable kernel
            targets[key] = tf.transpose(heatmap, [1, 2, 0])
        return targets

    def soft_labels(self, decimal):
        """The CSC soft labels of decimal targets: ``softmax`` over the ``d * d`` cells.

        Args:
            decimal: ``(..., d, d, N)`` decimal heatmap target values.

        Returns:
            ``(..., d, d, N)`` probabilities (``keras.ops``).
        """
        return soft_labels(decimal)

    # ---- decode (keras.ops, exported) ------------------------------------------------------

    def _decimal_expectation(self, decimal, index_x, index_y):
        """Expected decimal cell per axis (see the module docstring), ``(B, N)`` each."""
        d = self.decimal_size
        sigma = self.decimal_sigma
        reach = kernel_offsets(sigma)[1]
        maps = ops.transpose(decimal, (0, 3, 1, 2))  # (B, N, d_y, d_x)
        # Shift invariant: the background (the map minimum; a 7 x 7 window leaves at least
        # one empty row of an 8 x 8 map) becomes 0, so logits read like target values.
        bottom = ops.min(ops.min(maps, axis=-1, keepdims=True), axis=-2, keepdims=True)
        weights = maps - bottom
        curvature = 1.0 / (2.0 * sigma * sigma)
        steps = ops.arange(1, reach + 1, dtype="float32")  # 1 .. r
        positions = ops.arange(-reach, d + reach, dtype="float32")
        results = []
        for line, index in ((ops.sum(weights, axis=-2), index_x),   # marginal over y
                            (ops.sum(weights, axis=-1), index_y)):  # marginal over x
            log_line = ops.log(ops.maximum(line, base._EPSILON))
            # Log-linear continuation of a Gaussian of known sigma past each border:
            # log w(b +- k) = log w(b) + k rho - k (k + 1) / (2 sigma^2), rho = log w(b) -
            # log w(b -+ 1); rho is bounded to the range clean targets produce.
            pieces = []
            for border, inner, order in ((0, 1, -1), (d - 1, d - 2, 1)):
                rho = ops.clip(log_line[..., border:border + 1] - log_line[..., inner:inner + 1],
                               -4.0 / sigma ** 2, 3.0 * curvature)
                values = ops.exp(log_line[..., border:border + 1] + steps * rho
                                 - steps * (steps + 1.0) * curvature)
                pieces.append(ops.flip(values, axis=-1) if order < 0 else values)
            extended = ops.concatenate([pieces[0], line, pieces[1]], axis=-1)
            window = ops.cast(ops.less_equal(ops.abs(positions - ops.expand_dims(index, -1)),
                                             float(reach)), extended.dtype)
            weighted = extended * window
            total = ops.maximum(ops.sum(weighted, axis=-1), base._EPSILON)
            results.append(ops.sum(weighted * positions, axis=-1) / total)
        return results

    def decode(self, outputs):
        """Batched HIH heatmaps -> ``(coords (B, N, 2), scores (B, N))`` (``keras.ops``).

        Args:
            outputs: dict ``{"integer": (B, S, S, N), "decimal": (B, d, d, N)}`` (decimal
                target values or the network's decimal logits).

        Returns:
            tuple ``coords (B, N, 2)`` float32 in input pixels, ``scores (B, N)``.
        """
        tensors = base.check_outputs(outputs, self.target_keys, self.target_ranks,
                                     type(self).__name__)
        for key, size in (("integer", self.integer_size), ("decimal", self.decimal_size)):
            if tuple(tensors[key].shape[1:3]) != (size, size):
                raise ValueError(
                    f"outputs[{key!r}] must be (B, {size}, {size}, N). Received: "
                    f"outputs[{key!r}].shape={tuple(tensors[key].shape)}")
        ix, iy, peak = decode_2d(tensors["integer"], "argmax")
        dx, dy, _ = decode_2d(tensors["decimal"], "argmax")
        if self.method == "expectation":
            dx, dy = self._decimal_expectation(tensors["decimal"], dx, dy)
        # Authors' decode: k + i / d in the pixel-edge heatmap coordinate (cell k spans
        # [k, k + 1)); - 0.5 goes back to zoo.codecs.base's bin-centre coordinate.
        x = ix + dx / self.decimal_size - 0.5
        y = iy + dy / self.decimal_size - 0.5
        coords = ops.stack([x, y], axis=-1)
        return base.to_input_coordinate(coords, self.input_size, self.integer_size), peak

    def count_landmarks(self, shapes):
        """``N`` from the batched target shapes (``None`` when unknown)."""
        return shapes["integer"][-1]

    def get_config(self):
        return {
            "input_size": self.input_size,
            "integer_size": self.integer_size,
            "decimal_size": self.decimal_size,
            "integer_sigma": self.integer_sigma,
            "decimal_sigma": self.decimal_sigma,
            "num_landmarks": self.num_landmarks,
            "method": self.method,
            "decimal_target": self.decimal_target,
        }
