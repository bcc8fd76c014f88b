"""``RegionBoxes``: RDFN's region detection output, region heatmaps + size maps -> boxes."""
import math

import keras
import numpy as np
from keras import ops

from zoo.layers import region_ops


@keras.saving.register_keras_serializable(package="zoo")
class RegionBoxes(keras.layers.Layer):
    """Decodes region boxes from centre heatmaps and log-size maps (CenterNet-style).

    For region ``r``: the centre is the location reweighting
    (``zoo.layers.region_ops.location_reweighting``) of its centre heatmap ``C_r`` plus a weak
    prior bump at the image centre; the box size is ``prior_r * exp(s)`` per axis with ``s``
    the log-size maps ``S_r`` averaged under the same reweighting weights (clipped to
    ``+-max_log_scale``). So a fresh network (zero-initialised heads: ``C = S = 0``) predicts
    the prior box of every region (centred, side ``prior_sizes[r]``), and pooling from the
    predicted face box starts as pooling from a well-cropped input's face; the gradients of a
    box loss reach the heatmaps and size maps through the reweighting weights. (The prior
    centre is a little off the exact image centre on an even grid, where the window around
    the first of the two central peak cells is one cell lopsided: 0.482 on 16 cells.)

    Args:
        prior_sizes: list of R floats, the prior side of each region (normalised units).
        center_prior: float >= 0, height of the prior bump (a Gaussian of std 1/4 of the map)
            added to the centre heatmaps before decoding (not to the heatmap output).
        radius: int >= 0 or None, location-reweighting window half side (cells).
        power: float > 0, location-reweighting exponent.
        threshold: float in [0, 1), location-reweighting threshold.
        max_log_scale: float > 0, clip of the log-size.
        **kwargs: standard layer arguments.

    Returns (from ``call([centres (B, h, w, R), log_sizes (B, h, w, 2R)])``):
        ``(B, R, 4)`` boxes ``(x0, y0, x1, y1)`` normalised to the input (0..1 = the image).

    Example:
        >>> import numpy as np
        >>> import zoo.layers
        >>> layer = zoo.layers.RegionBoxes(prior_sizes=[0.8, 0.3])
        >>> boxes = layer([np.zeros((1, 16, 16, 2), "float32"), np.zeros((1, 16, 16, 4), "float32")])
        >>> [[round(float(v), 3) for v in box] for box in np.asarray(boxes)[0]]
        [[0.082, 0.082, 0.882, 0.882], [0.332, 0.332, 0.632, 0.632]]
    """

    def __init__(self, prior_sizes, center_prior=0.05, radius=3, power=2.0, threshold=0.0,
                 max_log_scale=3.0, **kwargs):
        super().__init__(**kwargs)
        try:
            sizes = [float(s) for s in prior_sizes]
        except (TypeError, ValueError):
            sizes = []
        if not sizes or not all(math.isfinite(s) and s > 0 for s in sizes):
            raise ValueError("`prior_sizes` must be a non-empty list of positive floats. "
                             f"Received: prior_sizes={prior_sizes!r}")
        self.prior_sizes = sizes
        if not isinstance(center_prior, (int, float)) or isinstance(center_prior, bool) \
                or center_prior < 0:
            raise ValueError(f"`center_prior` must be a float >= 0. "
                             f"Received: center_prior={center_prior!r}")
        self.center_prior = float(center_prior)
        check_reweighting(radius, power, threshold)
        self.radius = radius
        self.power = float(power)
        self.threshold = float(threshold)
        if not isinstance(max_log_scale, (int, float)) or max_log_scale <= 0:
            raise ValueError(f"`max_log_scale` must be a float > 0. "
                             f"Received: max_log_scale={max_log_scale!r}")
        self.max_log_scale = float(max_log_scale)

    def build(self, input_shape):
        centres_shape, sizes_shape = (tuple(s) for s in input_shape)
        regions = len(self.prior_sizes)
        if len(centres_shape) != 4 or centres_shape[-1] != regions or None in centres_shape[1:3]:
            raise ValueError(f"RegionBoxes takes centre heatmaps (B, h, w, {regions}) (one per "
                             f"prior size). Received: shape={centres_shape}")
        if tuple(sizes_shape[1:]) != tuple(centres_shape[1:3]) + (2 * regions,):
            raise ValueError(f"RegionBoxes takes log-size maps (B, h, w, {2 * regions}). "
                             f"Received: shape={sizes_shape}")
        height, width = centres_shape[1], centres_shape[2]
        rows = (np.arange(height) + 0.5) / height - 0.5
        cols = (np.arange(width) + 0.5) / width - 0.5
        bump = np.exp(-(rows[:, None] ** 2 + cols[None, :] ** 2) / (2 * 0.25 ** 2))
        self._bump = (self.center_prior * bump)[None, :, :, None].astype("float32")

    def call(self, inputs):
        centres, log_sizes = inputs
        centres = ops.cast(centres, "float32")
        log_sizes = ops.cast(log_sizes, "float32")
        height, width = centres.shape[1], centres.shape[2]
        regions = len(self.prior_sizes)
        weights, valid, peak_x, peak_y, _ = region_ops.reweighting_weights(
            centres + ops.convert_to_tensor(self._bump), self.radius, self.power,
            self.threshold)  # (B, R, h, w)
        x = ops.sum(ops.sum(weights, axis=2) * ops.arange(width, dtype="float32"), axis=-1)
        y = ops.sum(ops.sum(weights, axis=3) * ops.arange(height, dtype="float32"), axis=-1)
        x, y = ops.where(valid, x, peak_x), ops.where(valid, y, peak_y)
        centre_x, centre_y = (x + 0.5) / width, (y + 0.5) / height
        # Log-sizes (B, h, w, 2R) as (B, R, 2, h, w), averaged under the centre's weights.
        sizes = ops.transpose(ops.reshape(log_sizes, (-1, height, width, regions, 2)),
                              (0, 3, 4, 1, 2))
        log_scale = ops.sum(sizes * weights[:, :, None], axis=(3, 4))  # (B, R, 2)
        log_scale = ops.clip(log_scale, -self.max_log_scale, self.max_log_scale)
        prior = ops.convert_to_tensor(np.asarray(self.prior_sizes, "float32"))
        half = 0.5 * prior[None, :, None] * ops.exp(log_scale)
        return ops.stack([centre_x - half[..., 0], centre_y - half[..., 1],
                          centre_x + half[..., 0], centre_y + half[..., 1]], axis=-1)

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape[0])[0], len(self.prior_sizes), 4)

    def get_config(self):
        config = super().get_config()
        config.update({"prior_sizes": list(self.prior_sizes), "center_prior": self.center_prior,
                       "radius": self.radius, "power": self.power, "threshold": self.threshold,
                       "max_log_scale": self.max_log_scale})
        return config


def check_reweighting(radius, power, threshold):
    """Raises ValueError for bad location-reweighting arguments (radius, power, threshold)."""
    if radius is not None and (not isinstance(radius, int) or isinstance(radius, bool)
                               or radius < 0):
        raise ValueError(f"`radius` must be None or an int >= 0. Received: radius={radius!r}")
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not power > 0:
        raise ValueError(f"`power` must be a float > 0. Received: power={power!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0 <= threshold < 1:
        raise ValueError(f"`threshold` must be a float in [0, 1). Received: threshold={threshold!r}")
