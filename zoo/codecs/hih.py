"""The Heatmap-In-Heatmap (HIH) codec (seed 003: Lan et al., "HIH: Towards More Accurate Face
Alignment via Heatmap in Heatmap").

HIH represents a landmark with two nested heatmaps:

* the **integer heatmap** ``(S, S, N)`` (``S = integer_size``, default 64) marks the integer
  heatmap coordinate, the bin ``(k_x, k_y)`` nearest to the landmark. It is a peak-1 Gaussian
  centred **on that bin** (``integer_sigma`` bins, default 1.5), as HIH's integer heatmap
  stands for the integer part only;
* the **decimal heatmap** ``(d, d, N)`` (``d = decimal_size``, default 8) spans exactly one
  integer bin: decimal bin ``i`` is the ``i``-th of ``d`` equal intervals of the sub-bin offset
  ``r = u - k`` in ``[-0.5, 0.5)``. HIH's coordinate soft-classification (CSC) treats the
  offset as an interval classification with soft labels from a Gaussian; the target is a
  peak-1 Gaussian (``decimal_sigma`` decimal bins, default 1.0) centred at the continuous
  decimal coordinate ``c = (r + 0.5) d - 0.5``.

The nesting follows the bin-centre convention of ``zoo.codecs.base``: ``u`` is the continuous
integer-heatmap coordinate, ``k = floor(u + 0.5)``. Decoding takes the argmax of both heatmaps
(the interval centre), ``u' = k + (i + 0.5) / d - 0.5``, so the representation is a
``S * d``-bin quantiser (512 for 64 x 8): at most ``F / (2 S d)`` pixels off per axis.
The score is the integer heatmap's peak.

Constraint: ``integer_size`` must divide ``input_size`` (network downsampling by an integer
stride, as in HIH's hourglass).
"""
from keras import ops

from zoo.codecs import base
from zoo.codecs.heatmap_2d import decode_2d


@base.register_codec
class HIHCodec(base.Codec):
    """Landmarks <-> HIH integer heatmap + decimal heatmap.

    Args:
        input_size: int, side ``F`` of the square network input in pixels.
        integer_size: int, side of the integer heatmap; must divide ``input_size``
            (default 64).
        decimal_size: int, side of the decimal heatmap, the number of sub-bin intervals per
            axis (default 8).
        integer_sigma: float, integer heatmap Gaussian std in integer bins (default 1.5).
        decimal_sigma: float, decimal heatmap Gaussian std in decimal bins (default 1.0).
        num_landmarks: optional int; when given, ``encode`` checks ``N``.

    Returns from ``encode``: ``{"integer": (S, S, N), "decimal": (d, d, N)}``; from
    ``decode``: ``(coords (B, N, 2), scores (B, N))``.

    Example:
        >>> import numpy as np
        >>> import zoo.codecs
        >>> codec = zoo.codecs.HIHCodec(input_size=256)
        >>> targets = codec.encode(np.array([[142.84, 188.72]], "float32"))
        >>> batch = {k: v[None] for k, v in targets.items()}
        >>> coords, scores = codec.decode(batch)
        >>> bool(np.abs(np.asarray(coords)[0] - [[142.84, 188.72]]).max() <= 0.25)
        True

    Reference:
        Lan et al., "HIH: Towards More Accurate Face Alignment via Heatmap in Heatmap", 2021.
    """

    target_keys = ("integer", "decimal")
    target_ranks = (4, 4)

    def __init__(self, input_size, integer_size=64, decimal_size=8, integer_sigma=1.5,
                 decimal_sigma=1.0, num_landmarks=None):
        self.input_size = base.check_positive_int("input_size", input_size)
        self.integer_size = base.check_positive_int("integer_size", integer_size)
        if self.input_size % self.integer_size:
            raise ValueError(
                f"`integer_size` must divide `input_size` ({self.input_size}). Received: "
                f"integer_size={self.integer_size}")
        self.decimal_size = base.check_positive_int("decimal_size", decimal_size)
        self.integer_sigma = base.check_positive_float("integer_sigma", integer_sigma)
        self.decimal_sigma = base.check_positive_float("decimal_sigma", decimal_sigma)
        self.num_landmarks = (None if num_landmarks is None
                              else base.check_positive_int("num_landmarks", num_landmarks))

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
        landmarks = base.check_landmarks(landmarks, self.num_landmarks)
        u = base.to_heatmap_coordinate(landmarks, self.input_size, self.integer_size)
        integer = tf.floor(u + 0.5)  # nearest integer bin (round half up)
        offset = u - integer  # in [-0.5, 0.5)
        decimal = (offset + 0.5) * self.decimal_size - 0.5
        targets = {}
        for key, centres, size, sigma in (
                ("integer", integer, self.integer_size, self.integer_sigma),
                ("decimal", decimal, self.decimal_size, self.decimal_sigma)):
            profiles = base.gaussian_1d(centres, size, sigma)  # (N, 2, size)
            heatmap = profiles[:, 1, :, None] * profiles[:, 0, None, :]
            targets[key] = tf.transpose(heatmap, [1, 2, 0])
        return targets

    def decode(self, outputs):
        """Batched HIH heatmaps -> ``(coords (B, N, 2), scores (B, N))`` (``keras.ops``).

        Args:
            outputs: dict ``{"integer": (B, S, S, N), "decimal": (B, d, d, N)}``.

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
        # The decimal heatmap spans one integer bin: interval centre (i + 0.5) / d - 0.5.
        x = ix + (dx + 0.5) / self.decimal_size - 0.5
        y = iy + (dy + 0.5) / self.decimal_size - 0.5
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
        }
