"""The 1D-heatmap codec of the attentive 1D heatmap regression paper (seed 001).

Targets per landmark are an x-vector and a y-vector of length ``L``: the marginals of the 2D
Gaussian target ``H*`` (Eq. 2), ``h^x* = sum_y H*(x, y)``, ``h^y* = sum_x H*(x, y)`` (Eq. 12).
The marginal of an isotropic 2D Gaussian is a 1D Gaussian with the same ``sigma``; we normalise
it to a **continuous peak of 1** (divide by ``sum_y exp(-(y - q)^2 / 2 sigma^2)``), so targets
lie in ``[0, 1]`` like 2D heatmap targets and do not depend on ``sigma`` in scale.

``sigma`` is in heatmap **bins**. The paper gives no value; the default is
``max(1, 2 * L / F)`` bins, i.e. 2 input pixels whatever the resolution (6 bins for the paper's
``L = 3F = 768``), so the peak's width in the image stays the same when ``L`` grows.

Decoding: Eq. 7, ``p = argmax(h^x) * F / L``, written with the bin-centre convention of
``zoo.codecs.base`` (``p = (argmax + 0.5) * F / L - 0.5``), plus (on by default) a sub-bin
refinement: the vertex of the parabola through the log values at the argmax and its two
neighbours. A Gaussian is a parabola in log space, so that fit is exact on clean targets and
is a local, graph-friendly operation (one-hot gathers, no loops).
"""
from keras import ops

from zoo.codecs import base


@base.register_codec
class Heatmap1DCodec(base.Codec):
    """Landmarks <-> 1D heatmaps (marginal Gaussians on the x and y axes).

    Args:
        input_size: int, side ``F`` of the square network input in pixels.
        heatmap_size: int, length ``L`` of each 1D heatmap. ``L`` must be an integer multiple
            or an integer divisor of ``F`` (the paper uses ``L = 3F``).
        sigma: float or None, Gaussian standard deviation in heatmap bins; None gives
            ``max(1, 2 * L / F)`` (2 input pixels).
        refine: bool, sub-bin log-parabola refinement in ``decode`` (default True); False is
            the paper's plain argmax (Eq. 7).
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

    Reference:
        Yin et al., "Attentive One-Dimensional Heatmap Regression for Facial Landmark
        Detection and Tracking", ACM MM 2020 (Eq. 2, 7, 12).
    """

    target_keys = ("x", "y")
    target_ranks = (3, 3)

    def __init__(self, input_size, heatmap_size, sigma=None, refine=True, num_landmarks=None):
        self.input_size = base.check_positive_int("input_size", input_size)
        self.heatmap_size = base.check_positive_int("heatmap_size", heatmap_size)
        base.check_commensurate(self.input_size, self.heatmap_size)
        if sigma is None:
            sigma = max(1.0, 2.0 * self.heatmap_size / self.input_size)
        self.sigma = base.check_positive_float("sigma", sigma)
        if not isinstance(refine, bool):
            raise ValueError(f"`refine` must be a bool. Received: refine={refine!r}")
        self.refine = refine
        self.num_landmarks = (None if num_landmarks is None
                              else base.check_positive_int("num_landmarks", num_landmarks))

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
        vectors = base.gaussian_1d(centres, self.heatmap_size, self.sigma)  # (N, 2, L)
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
        coords = ops.stack(coordinates, axis=-1)
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

    Returns:
        ``(position, peak)``: continuous bin coordinate and peak value, shape ``(...)``.
    """
    position, peak = base.argmax_last(heatmap)
    index = ops.cast(position, "int32")
    if refine:
        left, right, interior = base.neighbours(heatmap, index, length)
        position = position + base.log_parabola_offset(left, peak, right, interior)
    return position, peak
