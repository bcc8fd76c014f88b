"""The classic 2D Gaussian heatmap codec (Eq. 2 of the 1D-heatmap paper; HRNet, hourglass).

Target: ``H*(x, y) = exp(-((x - u)^2 + (y - v)^2) / (2 sigma^2))`` with peak 1, ``(u, v)`` the
continuous heatmap coordinate of the landmark (no rounding; convention in
``zoo.codecs.base``). Heatmaps are square (``heatmap_size`` x ``heatmap_size``) and channels
last ``(H, W, N)``.

``sigma`` is in **input pixels** (``sigma * heatmap_size / F`` bins), as in the 1D codec. The
default ``zoo.codecs.base.default_sigma`` is ``F / 64``: 4 px at F = 256, 1 bin on a 64 x 64
map (the stacked hourglass setting FAN inherits; HRNet's 300W config uses 1.5 bins = 6 px)
and 2 bins on 128 x 128. Before issue 11 sigma was 1.5 *bins* whatever the size (6 px at 64,
3 px at 128), so Table 1's 2D columns also differed in target width from each other and from
the 1D ones; a preset or ``--sigma`` can still set HRNet's 6 px.

Decoding methods (``method``, also ``decode_method``):

* ``"argmax"``: the bin of the maximum (the 2D counterpart of Eq. 7).
* ``"quarter_offset"`` (default; FAN's decoder): argmax moved a quarter bin towards the larger
  neighbour on each axis (FAN's ``get_preds_fromhm``, HRNet's ``get_final_preds``; not applied
  on the border bins).
* ``"parabola"``: log-parabola vertex along the row and the column through the argmax (exact on
  a Gaussian; same fit as the 1D codec).
* ``"integral"``: integral regression / soft-argmax, the expectation of the bin coordinates with
  weights ``relu(H) / sum(relu(H))``. ``integral_beta`` > 0 uses ``softmax(beta * H)`` instead
  (Sun et al., "Integral Human Pose Regression").

The score is the peak value of the heatmap.
"""
from keras import ops

from zoo.codecs import base

METHODS = ("argmax", "quarter_offset", "parabola", "integral")


@base.register_codec
class Heatmap2DCodec(base.Codec):
    """Landmarks <-> 2D Gaussian heatmaps ``(H, W, N)``.

    Args:
        input_size: int, side ``F`` of the square network input in pixels.
        heatmap_size: int, side of the square heatmap; an integer multiple or divisor of ``F``.
        sigma: float or None, Gaussian standard deviation in **input pixels** (``sigma *
            heatmap_size / F`` bins); None gives ``F / 64`` (4 px at F = 256, 1 bin at 64).
        method: one of ``"argmax"``, ``"quarter_offset"`` (default), ``"parabola"``,
            ``"integral"``.
        integral_beta: float or None; for ``method="integral"`` use ``softmax(beta * H)`` as
            weights instead of the normalised ``relu(H)``.
        num_landmarks: optional int; when given, ``encode`` checks ``N``.

    Returns from ``encode``: ``{"heatmap": (H, W, N)}``; from ``decode``:
    ``(coords (B, N, 2), scores (B, N))``.

    Example:
        >>> import numpy as np
        >>> import zoo.codecs
        >>> codec = zoo.codecs.Heatmap2DCodec(input_size=256, heatmap_size=64, method="argmax")
        >>> target = codec.encode(np.array([[100.0, 50.0]], "float32"))["heatmap"]
        >>> tuple(target.shape)
        (64, 64, 1)
        >>> coords, scores = codec.decode({"heatmap": target[None]})
        >>> bool(np.abs(np.asarray(coords) - [[[100.0, 50.0]]]).max() <= 2.0)
        True
        >>> codec.sigma, codec.sigma_bins
        (4.0, 1.0)

    Reference:
        Yin et al., ACM MM 2020, Eq. 1-5; Sun et al., "Deep High-Resolution Representation
        Learning" (HRNet), 2019; Newell et al., "Stacked Hourglass Networks", 2016.
    """

    target_keys = ("heatmap",)
    target_ranks = (4,)
    size_fields = {"heatmap_size": ("heatmap", 0)}  # H (= W), read off a model by fit_to
    resized_defaults = ("sigma",)  # input pixels at input_size
    decode_methods = METHODS

    def __init__(self, input_size, heatmap_size, sigma=None, method="quarter_offset",
                 integral_beta=None, num_landmarks=None):
        self.input_size = base.check_positive_int("input_size", input_size)
        self.heatmap_size = base.check_positive_int("heatmap_size", heatmap_size)
        base.check_commensurate(self.input_size, self.heatmap_size)
        self.sigma = base.check_sigma(sigma, self.input_size)
        if method not in METHODS:
            raise ValueError(f"Unknown decoding `method`; use one of {METHODS}. Received: "
                             f"method={method!r}")
        self.method = method
        self.integral_beta = (None if integral_beta is None
                              else base.check_positive_float("integral_beta", integral_beta))
        self.num_landmarks = (None if num_landmarks is None
                              else base.check_positive_int("num_landmarks", num_landmarks))

    @property
    def sigma_bins(self):
        """``sigma`` in heatmap bins (``sigma * heatmap_size / F``)."""
        return self.sigma * self.heatmap_size / self.input_size

    @property
    def decode_method(self):
        """The decoding ``method``."""
        return self.method

    def _decode_fields(self, method):
        return {"method": method}

    def encode(self, landmarks):
        """Landmarks ``(N, 2)`` in input pixels -> ``{"heatmap": (H, W, N)}`` (TF ops).

        Args:
            landmarks: float tensor ``(N, 2)`` of ``(x, y)`` in 0-based input pixels.

        Returns:
            dict with the float32 tensor ``"heatmap"`` of shape ``(H, W, N)``.

        Raises:
            ValueError: wrong shape, ``N != num_landmarks`` or NaN/inf (eager).
        """
        tf = base.tf_module()
        landmarks = base.check_landmarks(landmarks, self.num_landmarks)
        centres = base.to_heatmap_coordinate(landmarks, self.input_size, self.heatmap_size)
        profiles = base.gaussian_1d(centres, self.heatmap_size, self.sigma_bins)  # (N, 2, S)
        # Eq. 2 is separable: H*(x, y) = g(x - u) g(y - v).
        heatmap = profiles[:, 1, :, None] * profiles[:, 0, None, :]  # (N, H, W)
        return {"heatmap": tf.transpose(heatmap, [1, 2, 0])}

    def decode(self, outputs):
        """Batched heatmaps ``{"heatmap": (B, H, W, N)}`` -> ``(coords (B, N, 2), scores (B, N))``.

        Args:
            outputs: dict ``{"heatmap": (B, H, W, N)}``.

        Returns:
            tuple ``coords (B, N, 2)`` float32 in input pixels, ``scores (B, N)`` peak values.
        """
        heatmap = base.check_outputs(outputs, self.target_keys, self.target_ranks,
                                     type(self).__name__)["heatmap"]
        size = self.heatmap_size
        if tuple(heatmap.shape[1:3]) != (size, size):
            raise ValueError(
                f"outputs['heatmap'] must be (B, {size}, {size}, N). Received: "
                f"outputs['heatmap'].shape={tuple(heatmap.shape)}")
        x, y, peak = decode_2d(heatmap, self.method, self.integral_beta)
        coords = ops.stack([x, y], axis=-1)
        return base.to_input_coordinate(coords, self.input_size, size), peak

    def count_landmarks(self, shapes):
        """``N`` from the batched target shapes (``None`` when unknown)."""
        return shapes["heatmap"][-1]

    def get_config(self):
        return {
            "input_size": self.input_size,
            "heatmap_size": self.heatmap_size,
            "sigma": self.sigma,
            "method": self.method,
            "integral_beta": self.integral_beta,
            "num_landmarks": self.num_landmarks,
        }


def decode_2d(heatmap, method, integral_beta=None):
    """Decodes ``(B, H, W, N)`` heatmaps to continuous bin coordinates (``keras.ops``).

    Returns:
        ``(x, y, peak)``, each ``(B, N)`` float32; ``x``/``y`` in heatmap bins.
    """
    height, width = heatmap.shape[1], heatmap.shape[2]
    maps = ops.transpose(heatmap, (0, 3, 1, 2))  # (B, N, H, W)
    batch_shape = ops.shape(maps)[:2]
    flat = ops.reshape(maps, (batch_shape[0], batch_shape[1], height * width))
    index, peak = base.argmax_last(flat)
    if method == "integral":
        if integral_beta is None:
            weights = ops.relu(flat)
            weights = weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1e-4)
        else:
            weights = ops.softmax(integral_beta * flat, axis=-1)
        weights = ops.reshape(weights, (batch_shape[0], batch_shape[1], height, width))
        x = ops.sum(ops.sum(weights, axis=2) * ops.arange(width, dtype="float32"), axis=-1)
        y = ops.sum(ops.sum(weights, axis=3) * ops.arange(height, dtype="float32"), axis=-1)
        return x, y, peak
    # Row/column from the flat index in float arithmetic (exact below 2**24 bins); avoids
    # integer floor-div, which TFLite kernels take only for some integer types.
    y_index = ops.floor((index + 0.5) / width)
    x_index = index - y_index * width
    x, y = x_index, y_index
    if method in ("quarter_offset", "parabola"):
        x_int, y_int = ops.cast(x_index, "int32"), ops.cast(y_index, "int32")
        row = ops.sum(maps * ops.one_hot(y_int, height, dtype=maps.dtype)[..., None], axis=2)
        column = ops.sum(maps * ops.one_hot(x_int, width, dtype=maps.dtype)[..., None, :],
                         axis=3)
        offsets = []
        for line, line_index, length in ((row, x_int, width), (column, y_int, height)):
            left, right, interior = base.neighbours(line, line_index, length)
            if method == "quarter_offset":
                step = 0.25 * ops.sign(right - left)
                offsets.append(ops.where(interior, step, ops.zeros_like(step)))
            else:
                offsets.append(base.log_parabola_offset(left, peak, right, interior))
        x, y = x + offsets[0], y + offsets[1]
    return x, y, peak
