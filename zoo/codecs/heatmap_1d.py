"""The 1D-heatmap codec of the attentive 1D heatmap regression paper (seed 001).

Targets per landmark are an x-vector and a y-vector of length ``L``: the marginals of the 2D
Gaussian target ``H*`` (Eq. 2), ``h^x* = sum_y H*(x, y)``, ``h^y* = sum_x H*(x, y)`` (Eq. 12).
The marginal of an isotropic 2D Gaussian is a 1D Gaussian with the same ``sigma``; we normalise
it to a **continuous peak of 1** (divide by ``sum_y exp(-(y - q)^2 / 2 sigma^2)``), so targets
lie in ``[0, 1]`` like 2D heatmap targets and do not depend on ``sigma`` in scale.

``sigma`` is in **input pixels** (``sigma * L / F`` bins), the same unit for every L and for
the 2D codec. The paper gives no value (Eq. 2 only names sigma). The default,
``zoo.codecs.base.default_sigma``, is ``F / 64`` = 4 px at F = 256: one bin at Table 1's
coarsest L = 64 and 12 bins at the paper's L = 3F = 768, the stacked hourglass' width
(sigma = 1 bin on 64 x 64 maps) that FAN uses. Before issue 11 sigma was in bins with the
default ``max(1, 2 L / F)`` (4 px at L = 64, 2 px at L >= 128), so the rows of Table 1 also
differed in target width; a preset or ``--sigma`` can still set any width.

Decoding (``decode_method``):

* ``"argmax"`` (``refine=False``): the paper's Eq. 7, ``p = argmax(h^x) * F / L``, written
  with the bin-centre convention of ``zoo.codecs.base`` (``p = (argmax + 0.5) * F / L - 0.5``).
  Its error is up to half a bin, so it shrinks as L grows: Table 1's trend.
* ``"refined"`` (``refine=True``, the default of the presets): argmax plus the vertex of the
  parabola through the log values at the argmax and its two neighbours. A Gaussian is a
  parabola in log space, so the fit is exact on clean targets (no quantisation error at any
  L, which hides the paper's trend on clean data) and is a local, graph-friendly operation
  (one-hot gathers, no loops). Not in the paper.
"""
from keras import ops

from zoo.codecs import base


@base.register_codec
class Heatmap1DCodec(base.Codec):
    """Landmarks <-> 1D heatmaps (marginal Gaussians on the x and y axes).

    Args:
        input_size: int, side ``F`` of the square network input in pixels.
        heatmap_size: int, length ``L`` of each 1D heatmap: a multiple of ``F / 4`` (Table 1:
            64, 128, 256, 384, 512, 640, 768 at F = 256; the paper's default ``L = 3F``) or an
            integer divisor of ``F``.
        sigma: float or None, Gaussian standard deviation in **input pixels** (``sigma * L /
            F`` bins); None gives ``F / 64`` (4 px at F = 256) for every L.
        refine: bool, sub-bin log-parabola refinement in ``decode`` (default True, decode
            method ``"refined"``); False is the paper's plain argmax (Eq. 7, ``"argmax"``).
        num_landmarks: optional int; when given, ``encode`` checks ``N``.

    Returns from ``encode``: ``{"x": (N, L), "y": (N, L)}`` float32.
    Returns from ``decode``: ``(coords (B, N, 2) float32, scores (B, N))``; the score is the
    smaller of the two peak values (about 1 on a clean target).

    Example:
        >>> import numpy as np
        >>> import zoo.codecs
        >>> codec = zoo.codecs.Heatmap1DCodec(input_size=256, heatmap_size=768)
        >>> targets = codec.encode(np.array([[142.84, 188.72]], "float32"))
        >>> batch = {k: v[None] for k, v in targets.items()}
        >>> coords, scores = codec.decode(batch)
        >>> bool(np.abs(np.asarray(coords)[0] - [[142.84, 188.72]]).max() < 1e-3)
        True
        >>> codec.sigma, codec.sigma_bins, codec.with_decode("argmax").decode_method
        (4.0, 12.0, 'argmax')

    Reference:
        Yin et al., "Attentive One-Dimensional Heatmap Regression for Facial Landmark
        Detection and Tracking", ACM MM 2020 (Eq. 2, 7, 12).
    """

    target_keys = ("x", "y")
    target_ranks = (3, 3)
    size_fields = {"heatmap_size": ("x", -1)}  # L, read off a model by fit_to
    resized_defaults = ("sigma",)  # input pixels at input_size
    decode_methods = ("argmax", "refined")

    def __init__(self, input_size, heatmap_size, sigma=None, refine=True, num_landmarks=None):
        self.input_size = base.check_positive_int("input_size", input_size)
        self.heatmap_size = base.check_positive_int("heatmap_size", heatmap_size)
        base.check_commensurate(self.input_size, self.heatmap_size, quarter_steps=True)
        self.sigma = base.check_sigma(sigma, self.input_size)
        if not isinstance(refine, bool):
            raise ValueError(f"`refine` must be a bool. Received: refine={refine!r}")
        self.refine = refine
        self.num_landmarks = (None if num_landmarks is None
                              else base.check_positive_int("num_landmarks", num_landmarks))

    @property
    def sigma_bins(self):
        """``sigma`` in heatmap bins (``sigma * L / F``)."""
        return self.sigma * self.heatmap_size / self.input_size

    @property
    def decode_method(self):
        """``"refined"`` or ``"argmax"`` (Eq. 7)."""
        return "refined" if self.refine else "argmax"

    def _decode_fields(self, method):
        return {"refine": method == "refined"}

    def encode(self, landmarks):
        """Landmarks ``(N, 2)`` in input pixels -> ``{"x": (N, L), "y": (N, L)}`` (TF ops).

        Args:
            landmarks: float tensor ``(N, 2)`` of ``(x, y)`` in 0-based input pixels.

        Returns:
            dict of float32 tensors ``{"x": (N, L), "y": (N, L)}``.

        Raises:
            ValueError: wrong shape, ``N != num_landmarks``, NaN/inf (eager; in a graph a
                ``tf.debugging`` assertion fails with the same message).
        """
        landmarks = base.check_landmarks(landmarks, self.num_landmarks)
        centres = base.to_heatmap_coordinate(landmarks, self.input_size, self.heatmap_size)
        # Eq. 12 with Eq. 2: the marginal of the separable 2D Gaussian is a 1D Gaussian.
        vectors = base.gaussian_1d(centres, self.heatmap_size, self.sigma_bins)  # (N, 2, L)
        return {"x": vectors[:, 0], "y": vectors[:, 1]}

    def decode(self, outputs):
        """Batched 1D heatmaps -> ``(coords (B, N, 2), scores (B, N))`` (``keras.ops`` only).

        Args:
            outputs: dict ``{"x": (B, N, L), "y": (B, N, L)}``.

        Returns:
            tuple of float32 tensors ``coords (B, N, 2)`` in input pixels, ``scores (B, N)``.
        """
        tensors = base.check_outputs(outputs, self.target_keys, self.target_ranks,
                                     type(self).__name__)
        coordinates, peaks = [], []
        for key in self.target_keys:
            heatmap = tensors[key]
            if heatmap.shape[-1] is not None and heatmap.shape[-1] != self.heatmap_size:
                raise ValueError(
                    f"outputs[{key!r}] must have length {self.heatmap_size} (heatmap_size). "
                    f"Received: outputs[{key!r}].shape={tuple(heatmap.shape)}")
            position, peak = decode_axis(heatmap, self.heatmap_size, self.refine)
            coordinates.append(
                base.to_input_coordinate(position, self.input_size, self.heatmap_size))
            peaks.append(peak)
        coords = _stack_last(coordinates)
        return coords, ops.minimum(peaks[0], peaks[1])

    def count_landmarks(self, shapes):
        """``N`` from the batched target shapes (``None`` when unknown)."""
        return shapes["x"][-2]

    def get_config(self):
        return {
            "input_size": self.input_size,
            "heatmap_size": self.heatmap_size,
            "sigma": self.sigma,
            "refine": self.refine,
            "num_landmarks": self.num_landmarks,
        }


def decode_axis(heatmap, length, refine):
    """Argmax (Eq. 7) of ``(..., L)`` heatmaps, optionally log-parabola refined.

    The same values as ``zoo.codecs.base.argmax_last``, ``neighbours`` and
    ``log_parabola_offset`` (the first maximum; its neighbours clamped at the borders; no
    offset at a border or where the log curve is not concave), written with arithmetic only:
    no comparison, ``where`` (SELECT_V2), cast, one-hot or slice. LiteRT's XNNPACK delegate
    takes none of the comparison, select and cast ops, and each one it leaves out splits the
    exported graph into more delegate partitions (issue 13: the tracker step was 12
    partitions, and 27 of the 47 ops XNNPACK left out were this decode's).

    Two exact identities replace the comparisons, for finite float32 values and integer-valued
    bin indices ``i``, ``j`` (a float difference of finite values is 0 only when they are
    equal, and ``ceil`` of a positive float is at least 1):

    * ``[x > 0] = min(ceil(max(x, 0)), 1)``; so ``[h < max(h)] = min(ceil(max(h) - h), 1)``;
    * ``[i == j] = max(1 - |i - j|, 0)`` (a one-hot mask).

    Args:
        heatmap: float tensor ``(..., L)``, finite values.
        length: int, ``L``.
        refine: bool, add the log-parabola offset.

    Returns:
        ``(position, peak)``: continuous bin coordinate and peak value, shape ``(...)``.

    Example:
        >>> import numpy as np
        >>> from zoo.codecs.heatmap_1d import decode_axis
        >>> heatmap = np.exp(-0.5 * (np.arange(8.0) - 2.25) ** 2)[None].astype("float32")
        >>> position, peak = decode_axis(heatmap, 8, refine=True)
        >>> round(float(position[0]), 4), round(float(peak[0]), 4)
        (2.25, 0.9692)
    """
    peak = ops.max(heatmap, axis=-1, keepdims=True)
    positions = ops.arange(length, dtype=heatmap.dtype)
    # First index of the maximum: bins below the peak are pushed past L, then the minimum.
    below_peak = ops.minimum(ops.ceil(peak - heatmap), 1.0)
    index = ops.min(positions + float(length) * below_peak, axis=-1, keepdims=True)
    position = ops.squeeze(index, axis=-1)
    if refine:
        left = _value_at(heatmap, positions, ops.maximum(index - 1.0, 0.0))
        right = _value_at(heatmap, positions, ops.minimum(index + 1.0, float(length - 1)))
        # 1 for 0 < index < L - 1, else 0 (index is an integer-valued float).
        interior = ops.minimum(position, 1.0) * ops.minimum(
            ops.relu(float(length - 1) - position), 1.0)
        centre = ops.squeeze(peak, axis=-1)
        position = position + _log_parabola_offset(left, centre, right, interior)
    return position, ops.squeeze(peak, axis=-1)


def _stack_last(tensors):
    """``ops.stack(tensors, axis=-1)`` as reshapes and one concatenation when the sizes after
    the batch are static (LiteRT's XNNPACK delegate does not take PACK)."""
    shape = tuple(tensors[0].shape[1:])
    if any(size is None for size in shape):
        return ops.stack(tensors, axis=-1)
    return ops.concatenate([ops.reshape(t, (-1,) + shape + (1,)) for t in tensors], axis=-1)


def _value_at(heatmap, positions, index):
    """``heatmap[..., index]`` for an integer-valued float ``index (..., 1)``: a one-hot sum."""
    one_hot = ops.relu(1.0 - ops.abs(positions - index))
    return ops.sum(heatmap * one_hot, axis=-1)


def _log_parabola_offset(left, centre, right, interior):
    """``zoo.codecs.base.log_parabola_offset`` with a 0/1 float ``interior`` and no select.

    Where the offset is not valid (border, or curvature not below ``-_MIN_CURVATURE``) the
    divisor is -1 and the result is multiplied by 0, as ``where(valid, offset, 0)`` does.
    """
    log_left = ops.log(ops.maximum(left, base._EPSILON))
    log_centre = ops.log(ops.maximum(centre, base._EPSILON))
    log_right = ops.log(ops.maximum(right, base._EPSILON))
    curvature = log_left - 2.0 * log_centre + log_right
    # [curvature < -_MIN_CURVATURE] = [-_MIN_CURVATURE - curvature > 0].
    concave = ops.minimum(ops.ceil(ops.relu(-base._MIN_CURVATURE - curvature)), 1.0)
    valid = interior * concave
    # curvature where valid, -1 elsewhere: one of the two terms is exactly 0.
    safe = valid * curvature - (1.0 - valid)
    offset = ops.clip(0.5 * (log_left - log_right) / safe, -0.5, 0.5)
    return valid * offset
