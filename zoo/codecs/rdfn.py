"""RDFN's codec: landmark score maps + region targets, decoded by location reweighting.

Targets (``encode``, TF ops, one face):

* ``heatmap`` ``(H, H, N)``: a peak-1 Gaussian per landmark on the input-frame grid
  (``heatmap_size``; RDFN pastes its region-frame score maps back onto this grid), ``sigma``
  in input pixels as ``Heatmap2DCodec``; the default is one heatmap bin (``F / H`` pixels:
  ``F / 64`` = 4 px at F = 256, H = 64, the zoo's ``default_sigma``, and still one bin at
  other sizes, because location reweighting sharpens the map by its power and a Gaussian
  narrower than ~0.7 bin is too coarsely sampled for a sub-pixel expectation).
* ``region_boxes`` ``(R, 4)``: the box ``(x0, y0, x1, y1)`` of every region, normalised to the
  input (0..1 = the image edges; ``zoo.layers.region_ops``): the landmark extent of the region
  (``"face"`` = every landmark, otherwise one of the scheme's ``areas``: eyes, nose, mouth,
  eyebrows, contour), each side at least ``region_min_size`` times the face box's larger side,
  then enlarged by ``region_margin`` of its size on every side.
* ``region_heatmap`` ``(h, h, R)``: a peak-1 Gaussian at each region box's centre on the region
  grid (``region_heatmap_size``, default ``F / 4``), ``region_sigma`` in input pixels (default
  two region cells: ``F / 32`` at ``F / 4``).

Decoding (``decode``, ``keras.ops``; ``method`` / ``decode_method``) of the ``heatmap``:

* ``"reweight"`` (default): location reweighting, a reweighted expectation around the peak
  (``zoo.layers.region_ops.location_reweighting``): ``w(p) = max(H(p) - tau m, 0)^gamma`` inside
  the ``(2r + 1)^2`` window around the peak ``p*`` (``m = H(p*)``), ``p_hat = sum w p / sum w``;
  ``radius`` r, ``power`` gamma, ``threshold`` tau.
* ``"argmax"``: the peak cell (``r = 0``).
* ``"soft_argmax"``: integral regression over the whole map with ``relu`` weights (``r = None,
  gamma = 1, tau = 0``).

The score is the peak value. ``decode_regions`` turns ``region_boxes`` into input pixels.
"""
from keras import ops

from zoo.codecs import base
from zoo.layers import region_ops

METHODS = ("reweight", "argmax", "soft_argmax")
FACE = "face"


def default_regions(scheme):
    """``("face",)`` followed by the scheme's area names, in the scheme's order.

    Example:
        >>> import zoo.codecs.rdfn
        >>> zoo.codecs.rdfn.default_regions("300w")
        ('face', 'contour', 'eyebrows', 'nose', 'eyes', 'mouth')
    """
    import zoo.schemes

    return (FACE,) + tuple(zoo.schemes.get_scheme(scheme).areas)


@base.register_codec
class RDFNCodec(base.Codec):
    """Landmarks <-> RDFN targets: input-frame score maps, region boxes and region heatmaps.

    Args:
        input_size: int, side ``F`` of the square network input.
        heatmap_size: int, side of the landmark score maps (input frame); commensurate with F.
        scheme: landmark scheme name (its ``areas`` give the component regions).
        regions: tuple of region names (``"face"`` or area names of the scheme); None:
            ``default_regions(scheme)``.
        sigma: float or None, landmark Gaussian std in input pixels (None: one bin,
            ``F / heatmap_size``; kept None in the config so ``fit_to`` rescales it).
        region_heatmap_size: int or None, side of the region centre heatmaps (None: ``F / 4``).
        region_sigma: float or None, region-centre Gaussian std in input pixels (None: two
            region cells, ``2 F / region_heatmap_size``).
        region_margin: float >= 0, enlargement of each region box on every side (fraction of
            its size).
        region_min_size: float > 0, smallest region side as a fraction of the face box's
            larger side (areas of one or two points, e.g. COFW's chin).
        method: ``"reweight"`` (default), ``"argmax"`` or ``"soft_argmax"``.
        radius: int >= 0 or None, location-reweighting window half side in bins.
        power: float > 0, location-reweighting exponent.
        threshold: float in [0, 1), location-reweighting threshold (fraction of the peak).
        num_landmarks: optional int; must equal the scheme's count when given.

    Returns from ``encode``: ``{"heatmap": (H, H, N), "region_heatmap": (h, h, R),
    "region_boxes": (R, 4)}``; from ``decode``: ``(coords (B, N, 2), scores (B, N))``.

    Example:
        >>> import numpy as np
        >>> import zoo.codecs
        >>> codec = zoo.codecs.RDFNCodec(input_size=128, heatmap_size=32, scheme="aflw")
        >>> landmarks = np.random.default_rng(0).uniform(30, 90, (19, 2)).astype("float32")
        >>> targets = codec.encode(landmarks)
        >>> tuple(targets["heatmap"].shape), tuple(targets["region_boxes"].shape)
        ((32, 32, 19), (6, 4))
        >>> coords, _ = codec.decode({k: v[None] for k, v in targets.items()})
        >>> bool(np.abs(np.asarray(coords)[0] - landmarks).max() < 0.05)
        True

    Reference:
        Lin & Liang, "Region-Aware Deep Feature-Fused Network for Robust Facial Landmark
        Localization", Mathematics 11(19) 4026, 2023 (location reweighting: abstract).
    """

    target_keys = ("heatmap", "region_heatmap", "region_boxes")
    target_ranks = (4, 4, 3)
    size_fields = {"heatmap_size": ("heatmap", 0), "region_heatmap_size": ("region_heatmap", 0)}
    decode_methods = METHODS

    def __init__(self, input_size, heatmap_size, scheme="300w", regions=None, sigma=None,
                 region_heatmap_size=None, region_sigma=None, region_margin=0.1,
                 region_min_size=0.1, method="reweight", radius=3, power=2.0, threshold=0.0,
                 num_landmarks=None):
        import zoo.schemes
        from zoo.layers.region_boxes import check_reweighting

        self.input_size = base.check_positive_int("input_size", input_size)
        self.heatmap_size = base.check_positive_int("heatmap_size", heatmap_size)
        base.check_commensurate(self.input_size, self.heatmap_size)
        scheme_object = zoo.schemes.get_scheme(scheme)
        self.scheme = scheme_object.name
        allowed = (FACE,) + tuple(scheme_object.areas)
        if regions is None:
            regions = allowed
        if isinstance(regions, str) or not regions or any(r not in allowed for r in regions) \
                or len(set(regions)) != len(regions):
            raise ValueError(f"`regions` must be distinct names of regions of scheme "
                             f"{self.scheme!r}. Allowed: {list(allowed)}. "
                             f"Received: regions={regions!r}")
        self.regions = tuple(regions)
        self.region_indices = tuple(
            tuple(range(scheme_object.num_landmarks)) if r == FACE
            else tuple(scheme_object.areas[r]) for r in self.regions)
        self._num_scheme_landmarks = scheme_object.num_landmarks
        if num_landmarks is not None:
            num_landmarks = base.check_positive_int("num_landmarks", num_landmarks)
            if num_landmarks != scheme_object.num_landmarks:
                raise ValueError(f"Scheme {self.scheme!r} has {scheme_object.num_landmarks} "
                                 f"landmarks. Received: num_landmarks={num_landmarks}")
        self.num_landmarks = num_landmarks
        self._sigma = None if sigma is None else base.check_positive_float("sigma", sigma)
        self.sigma = (float(self.input_size) / self.heatmap_size if sigma is None
                      else self._sigma)
        self.region_heatmap_size = (max(1, self.input_size // 4) if region_heatmap_size is None
                                    else base.check_positive_int("region_heatmap_size",
                                                                 region_heatmap_size))
        self._region_sigma = (None if region_sigma is None
                              else base.check_positive_float("region_sigma", region_sigma))
        self.region_sigma = (2.0 * self.input_size / self.region_heatmap_size
                             if region_sigma is None else self._region_sigma)
        if isinstance(region_margin, bool) or not isinstance(region_margin, (int, float)) \
                or region_margin < 0:
            raise ValueError(f"`region_margin` must be a float >= 0. "
                             f"Received: region_margin={region_margin!r}")
        self.region_margin = float(region_margin)
        self.region_min_size = base.check_positive_float("region_min_size", region_min_size)
        if method not in METHODS:
            raise ValueError(f"Unknown decoding `method`. Allowed: {list(METHODS)}. "
                             f"Received: method={method!r}")
        self.method = method
        check_reweighting(radius, power, threshold)
        self.radius = radius
        self.power = float(power)
        self.threshold = float(threshold)

    # Interface --------------------------------------------------------------------------------
    @property
    def num_regions(self):
        """R, the number of regions."""
        return len(self.regions)

    @property
    def decode_method(self):
        """The decoding ``method``."""
        return self.method

    def _decode_fields(self, method):
        return {"method": method}

    def encode(self, landmarks):
        """Landmarks ``(N, 2)`` in input pixels -> the three RDFN targets (TF ops).

        Args:
            landmarks: float tensor ``(N, 2)`` of ``(x, y)`` in 0-based input pixels.

        Returns:
            dict ``{"heatmap": (H, H, N), "region_heatmap": (h, h, R), "region_boxes": (R, 4)}``
            float32.

        Raises:
            ValueError: wrong shape, N not the scheme's count, or NaN/inf (eager).
        """
        tf = base.tf_module()
        landmarks = base.check_landmarks(landmarks, self._num_scheme_landmarks)
        size = float(self.input_size)
        # Landmark score maps: separable Gaussians, as Heatmap2DCodec (Eq. 2 of the 1D paper).
        centres = base.to_heatmap_coordinate(landmarks, self.input_size, self.heatmap_size)
        bins = self.sigma * self.heatmap_size / size
        profiles = base.gaussian_1d(centres, self.heatmap_size, bins)  # (N, 2, H)
        heatmap = tf.transpose(profiles[:, 1, :, None] * profiles[:, 0, None, :], [1, 2, 0])
        # Region boxes in normalised units (pixel centre p sits at (p + 0.5) / F).
        points = (landmarks + 0.5) / size
        face_side = tf.reduce_max(tf.reduce_max(points, 0) - tf.reduce_min(points, 0))
        boxes = []
        for indices in self.region_indices:
            region = tf.gather(points, list(indices))
            low, high = tf.reduce_min(region, 0), tf.reduce_max(region, 0)
            centre = 0.5 * (low + high)
            extent = tf.maximum(high - low, self.region_min_size * face_side)
            half = 0.5 * extent * (1.0 + 2.0 * self.region_margin)
            boxes.append(tf.concat([centre - half, centre + half], 0))
        boxes = tf.stack(boxes)  # (R, 4)
        # Region centre heatmaps on the region grid.
        cells = self.region_heatmap_size
        region_centres = 0.5 * (boxes[:, :2] + boxes[:, 2:]) * cells - 0.5  # (R, 2)
        region_bins = self.region_sigma * cells / size
        region_profiles = base.gaussian_1d(region_centres, cells, region_bins)  # (R, 2, h)
        region_heatmap = tf.transpose(
            region_profiles[:, 1, :, None] * region_profiles[:, 0, None, :], [1, 2, 0])
        return {"heatmap": heatmap, "region_heatmap": region_heatmap, "region_boxes": boxes}

    def _heatmap(self, outputs):
        if not isinstance(outputs, dict) or "heatmap" not in outputs:
            raise ValueError(f"RDFNCodec.decode expects a dict with key 'heatmap' (and "
                             f"optionally the region outputs). Received: outputs="
                             f"{sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__}")
        return base.check_outputs({"heatmap": outputs["heatmap"]}, ("heatmap",), (4,),
                                  "RDFNCodec")["heatmap"]

    def decode(self, outputs):
        """Batched score maps ``{"heatmap": (B, H, H, N), ...}`` -> coords and scores.

        Only ``heatmap`` is read (the region outputs may be present, as the inference model
        passes every output).

        Args:
            outputs: dict with ``"heatmap"`` ``(B, H, H, N)``.

        Returns:
            tuple ``coords (B, N, 2)`` float32 in input pixels, ``scores (B, N)`` peak values.
        """
        heatmap = self._heatmap(outputs)
        size = self.heatmap_size
        if tuple(heatmap.shape[1:3]) != (size, size):
            raise ValueError(f"outputs['heatmap'] must be (B, {size}, {size}, N). Received: "
                             f"outputs['heatmap'].shape={tuple(heatmap.shape)}")
        if self.method == "reweight":
            radius, power, threshold = self.radius, self.power, self.threshold
        elif self.method == "argmax":
            radius, power, threshold = 0, 1.0, 0.0
        else:  # soft_argmax: integral regression with relu weights over the whole map
            radius, power, threshold = None, 1.0, 0.0
        x, y, peak = region_ops.location_reweighting(heatmap, radius, power, threshold)
        coords = ops.stack([x, y], axis=-1)
        return base.to_input_coordinate(coords, self.input_size, size), peak

    def decode_regions(self, outputs):
        """``{"region_boxes": (B, R, 4)}`` (normalised) -> boxes in input pixels ``(B, R, 4)``.

        Example:
            >>> import numpy as np
            >>> import zoo.codecs
            >>> codec = zoo.codecs.RDFNCodec(256, 64)
            >>> box = codec.decode_regions({"region_boxes": np.array([[[0, 0, 1, 1]] * 6], "float32")})
            >>> np.asarray(box)[0, 0].tolist()
            [-0.5, -0.5, 255.5, 255.5]
        """
        boxes = outputs["region_boxes"] if isinstance(outputs, dict) else outputs
        boxes = ops.cast(ops.convert_to_tensor(boxes), "float32")
        return boxes * float(self.input_size) - 0.5

    def count_landmarks(self, shapes):
        """``N`` from the batched target shapes (``None`` when unknown)."""
        return shapes["heatmap"][-1]

    def __hash__(self):
        # The base hashes the config items; ``regions`` is a list there (JSON).
        config = dict(self.get_config(), regions=self.regions)
        return hash((type(self).__name__, tuple(sorted(config.items()))))

    def get_config(self):
        return {
            "input_size": self.input_size,
            "heatmap_size": self.heatmap_size,
            "scheme": self.scheme,
            "regions": list(self.regions),
            "sigma": self._sigma,
            "region_heatmap_size": self.region_heatmap_size,
            "region_sigma": self._region_sigma,
            "region_margin": self.region_margin,
            "region_min_size": self.region_min_size,
            "method": self.method,
            "radius": self.radius,
            "power": self.power,
            "threshold": self.threshold,
            "num_landmarks": self.num_landmarks,
        }
