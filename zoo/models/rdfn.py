"""RDFN: the region-aware deep feature-fused network (Lin & Liang 2023), designed from its abstract.

Only the abstract of the paper is available and no code exists, so every part below is a
design of this zoo, each written down in :func:`build_rdfn`'s docstring and each a builder
argument (a preset config field). The registry record and the presets ``rdfn_300w``,
``rdfn_aflw``, ``rdfn_cofw`` (paper-sized: built, never trained here) and ``rdfn_small_300w``
(CPU-sized, for real-face training on this machine) are registered at import.

Example:
    >>> import zoo
    >>> model = zoo.create("rdfn_small_300w")
    >>> sorted(model.output)
    ['heatmap', 'region_boxes', 'region_heatmap']
"""
import keras

from zoo import losses
from zoo.layers.rdfn_cross_task_fusion import CrossTaskFusion
from zoo.layers.rdfn_within_task_fusion import WithinTaskFusion
from zoo.layers.region_boxes import RegionBoxes, check_reweighting
from zoo.layers.hourglass import Hourglass
from zoo.layers.region_sampler import RegionSampler
from zoo.layers.residual_block import MultiScaleResidualBlock
from zoo.models import presets
from zoo.models.hourglass_backbone import check_int, normalization_layer, stack_outputs

# The prior side of the face region: a well-cropped input's face box (the crop is the box
# enlarged by the pipeline's margin 0.25, so the box spans 1 / 1.25 of the input).
FACE_PRIOR_SIZE = 0.8
COMPONENT_PRIOR_SIZE = 0.3


def _conv_bn_relu(x, filters, kernel_size, name, strides=1):
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                            use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _check_float(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or (
            high is not None and value >= high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(f"`{name}` must be a float {bounds}. Received: {name}={value!r}")


def build_rdfn(num_landmarks=68, num_regions=6, input_size=256, width=256, region_depth=4,
               pool_size=64, pool_region=0, pool_margin=0.1, pool_square=True,
               heatmap_size=64, num_stacks=2, fusion_blocks=3, fusion_scales=(1, 2, 4),
               attention_reduction=16, spatial_kernel=7, region_prior_sizes=None,
               center_prior=0.05, reweight_radius=3, reweight_power=2.0, reweight_threshold=0.0,
               box_gradient=False, separable=False, normalization=None, name="rdfn"):
    """Builds RDFN's training model: region detection, region-wise localisation, fusions.

    Design (the paper's abstract names the parts; how each is built is this zoo's choice):

    * **Shared stem** (FAN's): 7x7 stride-2 conv (``width/4``), BN, ReLU, multi-scale residual
      block (``width/2``), 2x2 average pooling, blocks to ``width``: ``F/4 x F/4`` features
      ``X`` of the loosely cropped input. These are the localisation branch's features.
    * **Region detection subnetwork** (abstract: "explicitly solve the input initialization
      problem"): an hourglass of depth ``region_depth`` on ``X``, a residual block and a 1x1
      conv-BN-ReLU give the region features ``D``; two zero-initialised 1x1 heads give the
      region *centre heatmaps* ``(F/4, F/4, R)`` and *log-size maps* ``(F/4, F/4, 2R)``, and
      ``zoo.layers.RegionBoxes`` decodes boxes ``(R, 4)`` (centre by location reweighting, size
      ``prior * exp(s)``) for the regions of the codec: the face and the scheme's component
      areas (eyes, nose, mouth, eyebrows, contour). Zero-initialised heads predict the prior
      boxes (``region_prior_sizes``: the face 0.8 = a well-cropped face, components 0.3,
      centred), so training starts from pooling a well-cropped face.
    * **Region-wise localisation subnetwork**: the box of region ``pool_region`` (the face),
      made square (``pool_square``) and enlarged by ``pool_margin``, is pooled with the
      exportable bilinear sampler ``zoo.layers.RegionSampler`` to ``pool_size x pool_size``
      from both ``X`` and ``concat(D, centre heatmaps)``; the landmark score maps are computed
      in this region frame (a normalised, face-centred view however loose the input box) and
      pasted back into the input frame (``heatmap_size x heatmap_size``, the same sampler
      inverted), so targets and decoding stay in input coordinates
      (``zoo.codecs.RDFNCodec``). The box is a constant for the sampler (``box_gradient=False``,
      RoIAlign's convention); the boxes are trained by their own loss.
    * **Cross-task feature fusion** (``zoo.layers.CrossTaskFusion``): the pooled region
      detection features (the "multi-semantic region features": where the face and each
      component are) are fused into the pooled localisation features with a global channel
      attention and a global spatial attention (CBAM-style, ``attention_reduction``,
      ``spatial_kernel``) and a residual on the localisation branch.
    * **Within-task feature fusion** (``zoo.layers.WithinTaskFusion``): each of ``num_stacks``
      localisation stages is ``fusion_blocks`` densely connected multi-scale blocks (branches at
      ``fusion_scales``: pool, conv, bilinear upsampling, summed) aggregated by a 1x1 conv with a
      residual: multi-scale context with short gradient paths. Each stage ends in a 1x1
      conv-BN-ReLU and a 1x1 conv to N score maps (intermediate supervision, as FAN); the next
      stage reads ``z + conv1x1(features) + conv1x1(score maps)``.
    * **Location reweighting** (inference): the codec decodes the pasted score maps by a
      reweighted expectation around the peak (``zoo.layers.region_ops.location_reweighting``);
      the region centres inside the network use the same formula with ``reweight_radius``,
      ``reweight_power``, ``reweight_threshold``.

    Args:
        num_landmarks: int, N.
        num_regions: int, R (the codec's regions: 6 = face + 5 areas for every scheme here).
        input_size: int, F; a multiple of ``4 * 2**region_depth``.
        width: int, channels of the stem, region features and localisation stages (multiple of 4).
        region_depth: int >= 1, depth of the region-detection hourglass.
        pool_size: int, side P of the pooled region frame (a multiple of every fusion scale).
        pool_region: int, index of the region pooled for localisation (0 = the face).
        pool_margin: float >= 0, enlargement of the pooled box's side.
        pool_square: bool, pool a square box (the face's larger side).
        heatmap_size: int, side of the input-frame score maps (the codec's ``heatmap_size``).
        num_stacks: int >= 1, localisation stages (outputs ``(B, S, ...)``).
        fusion_blocks: int >= 1, multi-scale blocks per stage.
        fusion_scales: tuple of ints, the branch scales of the within-task fusion.
        attention_reduction: int >= 1, channel-attention MLP reduction.
        spatial_kernel: odd int, spatial-attention kernel.
        region_prior_sizes: list of R floats or None (face 0.8, components 0.3).
        center_prior: float >= 0, prior bump added to the centre heatmaps when decoding boxes.
        reweight_radius, reweight_power, reweight_threshold: location reweighting of the region
            centres (window half side, exponent, threshold; see ``RDFNCodec``).
        box_gradient: bool, let the localisation losses move the pooled box.
        separable: bool, depth-wise separable 3x3 convolutions (small presets).
        normalization: dict ``{"mean": [3], "std": [3]}`` in [0, 1] units (default 0.5 / 0.5).
        name: model name (the preset name for presets).

    Returns:
        A ``keras.Model`` from float32 RGB ``(B, F, F, 3)`` in [0, 255] to
        ``{"heatmap": (B, S, H, H, N), "region_heatmap": (B, 1, F/4, F/4, R),
        "region_boxes": (B, 1, R, 4)}`` (boxes normalised to the input, 0..1).

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> model = zoo.models.build_rdfn(num_landmarks=5, num_regions=2, input_size=32,
        ...                               width=16, region_depth=1, pool_size=8,
        ...                               heatmap_size=8, num_stacks=1, fusion_blocks=1,
        ...                               fusion_scales=(1, 2))
        >>> outputs = model(np.zeros((1, 32, 32, 3), "float32"))
        >>> tuple(outputs["heatmap"].shape), tuple(outputs["region_boxes"].shape)
        ((1, 1, 8, 8, 5), (1, 1, 2, 4))

    Reference:
        Lin & Liang, "Region-Aware Deep Feature-Fused Network for Robust Facial Landmark
        Localization", Mathematics 11(19) 4026, 2023 (abstract only: 300W 3.28, AFLW 1.48,
        COFW 3.43 NME).
    """
    # Layers: validate first, so bad configs fail before any graph is built.
    for key, value, low in (("num_landmarks", num_landmarks, 1), ("num_regions", num_regions, 1),
                            ("region_depth", region_depth, 1), ("pool_size", pool_size, 1),
                            ("pool_region", pool_region, 0), ("heatmap_size", heatmap_size, 1),
                            ("num_stacks", num_stacks, 1), ("input_size", input_size, 4)):
        check_int(key, value, low)
    if not isinstance(width, int) or isinstance(width, bool) or width < 16 or width % 16:
        raise ValueError(f"`width` must be a multiple of 16 (the stem uses width/4 and the "
                         f"blocks split channels by 4). Received: width={width!r}")
    factor = 4 * 2 ** region_depth
    if input_size % factor:
        raise ValueError(f"`input_size` must be a multiple of 4 * 2**region_depth = {factor}. "
                         f"Received: input_size={input_size}")
    if pool_region >= num_regions:
        raise ValueError(f"`pool_region` must index one of the {num_regions} regions. "
                         f"Received: pool_region={pool_region}")
    _check_float("pool_margin", pool_margin, 0.0)
    if region_prior_sizes is None:
        region_prior_sizes = [COMPONENT_PRIOR_SIZE] * num_regions
        region_prior_sizes[pool_region] = FACE_PRIOR_SIZE
    if len(list(region_prior_sizes)) != num_regions:
        raise ValueError(f"`region_prior_sizes` needs one size per region ({num_regions}). "
                         f"Received: region_prior_sizes={region_prior_sizes!r}")
    check_reweighting(reweight_radius, reweight_power, reweight_threshold)
    fusion_scales = tuple(fusion_scales)

    # Functional graph.
    images = keras.Input((input_size, input_size, 3), dtype="float32", name="images")
    x = normalization_layer(normalization)(images)
    x = _conv_bn_relu(x, width // 4, 7, "stem", strides=2)
    x = MultiScaleResidualBlock(width // 2, separable=separable, name="stem_block1")(x)
    x = keras.layers.AveragePooling2D(2, name="stem_pool")(x)
    x = MultiScaleResidualBlock(width // 2, separable=separable, name="stem_block2")(x)
    stem = MultiScaleResidualBlock(width, separable=separable, name="stem_block3")(x)

    # Region detection subnetwork.
    region = Hourglass(width, region_depth, separable=separable, name="region_hourglass")(stem)
    region = MultiScaleResidualBlock(width, separable=separable, name="region_block")(region)
    region = _conv_bn_relu(region, width, 1, "region_features")
    centres = keras.layers.Conv2D(num_regions, 1, kernel_initializer="zeros",
                                  name="region_centres")(region)
    log_sizes = keras.layers.Conv2D(2 * num_regions, 1, kernel_initializer="zeros",
                                    name="region_log_sizes")(region)
    boxes = RegionBoxes(list(region_prior_sizes), center_prior=center_prior,
                        radius=reweight_radius, power=reweight_power,
                        threshold=reweight_threshold, name="region_box_decoder")(
        [centres, log_sizes])

    # Region-wise pooling (crop-and-resize of the face box) and cross-task fusion.
    def sampler(mode, size, label):
        return RegionSampler(size, mode=mode, box_gradient=box_gradient, region=pool_region,
                             margin=pool_margin, square=pool_square, name=label)

    pooled_localisation = sampler("crop", pool_size, "pool_localisation")([stem, boxes])
    region_features = keras.layers.Concatenate(name="region_semantics")([region, centres])
    pooled_region = sampler("crop", pool_size, "pool_region")([region_features, boxes])
    fused = CrossTaskFusion(width, reduction=attention_reduction, spatial_kernel=spatial_kernel,
                            name="cross_task_fusion")([pooled_localisation, pooled_region])

    # Region-wise localisation stages with within-task fusion; score maps pasted back.
    heatmaps = []
    for stack in range(num_stacks):
        features = WithinTaskFusion(width, num_blocks=fusion_blocks, scales=fusion_scales,
                                    separable=separable, name=f"within_task_fusion{stack}")(fused)
        features = _conv_bn_relu(features, width, 1, f"stage{stack}_head")
        maps = keras.layers.Conv2D(num_landmarks, 1, name=f"score_maps{stack}")(features)
        heatmaps.append(sampler("paste", heatmap_size, f"paste{stack}")([maps, boxes]))
        if stack + 1 < num_stacks:
            remap_features = keras.layers.Conv2D(width, 1, name=f"stage{stack}_remap")(features)
            remap_maps = keras.layers.Conv2D(width, 1, name=f"stage{stack}_remap_maps")(maps)
            fused = keras.layers.Add(name=f"stage{stack}_add")([fused, remap_features,
                                                                 remap_maps])
    outputs = {
        "heatmap": stack_outputs(heatmaps, "heatmap"),
        "region_heatmap": stack_outputs([centres], "region_heatmap"),
        "region_boxes": stack_outputs([boxes], "region_boxes"),
    }

    # Config: a plain functional model; its name carries the preset name.
    return keras.Model(images, outputs, name=name)


# Presets -----------------------------------------------------------------------------------------

def _codec(input_size, heatmap_size, scheme):
    return {"class_name": "RDFNCodec",
            "config": {"input_size": input_size, "heatmap_size": heatmap_size, "scheme": scheme}}


def _paper_config(num_landmarks):
    # Paper-sized (the paper's sizes are not in the abstract): a FAN-width (256) stem and
    # region hourglass of depth 4 on a 256 input, 2 localisation stages of 3 dense multi-scale
    # blocks at scales 1, 2, 4 on a 64 x 64 pooled face, 64 x 64 score maps.
    return {"num_landmarks": num_landmarks, "num_regions": 6, "width": 256, "region_depth": 4,
            "pool_size": 64, "heatmap_size": 64, "num_stacks": 2, "fusion_blocks": 3,
            "fusion_scales": [1, 2, 4], "separable": False}


def _register():
    presets.register_architecture(presets.Architecture(
        name="rdfn", builder=build_rdfn, task="image",
        losses=losses.rdfn_losses,  # Eq. 11 on score maps and region heatmaps + box L1
        codec={"class_name": "RDFNCodec", "config": {}},
        tiny_config={"input_size": 32, "width": 16, "region_depth": 1, "pool_size": 8,
                     "heatmap_size": 8, "num_stacks": 1, "fusion_blocks": 1,
                     "fusion_scales": [1, 2],
                     # 8 hidden units in the channel attention at width 16 (1 or 2 ReLUs of
                     # the presets' reductions can all be dead on a random tiny model).
                     "attention_reduction": 2},
        train_fields={"heatmap_length": "heatmap_size"},
        tracker=None,
        description="Region-aware deep feature-fused network (Lin & Liang 2023), designed "
                    "from its abstract"), overwrite=True)
    paper = ("RDFN (Lin & Liang 2023), designed from the abstract: FAN stem + region "
             "hourglass (face + 5 component boxes), 64x64 pooled face, cross-task attention "
             "fusion, 2 stages of dense multi-scale fusion, location reweighting; paper NME "
             "{nme} on {dataset}")
    for name, num_landmarks, scheme, nme, dataset, params in (
            ("rdfn_300w", 68, "300w", "3.28", "300W", 18497635),
            ("rdfn_aflw", 19, "aflw", "1.48", "AFLW", 18459905),
            ("rdfn_cofw", 29, "cofw", "3.43", "COFW", 18467605)):
        presets.register_preset(presets.Preset(
            name=name, architecture="rdfn", config=_paper_config(num_landmarks),
            input_size=256, normalization=dict(presets.IMAGENET_NORMALIZATION), scheme=scheme,
            codec=_codec(256, 64, scheme),
            description=paper.format(nme=nme, dataset=dataset) + ".",
            num_params=params), overwrite=True)
    presets.register_preset(presets.Preset(
        name="rdfn_small_300w", architecture="rdfn",
        config={"num_landmarks": 68, "num_regions": 6, "width": 32, "region_depth": 3,
                "pool_size": 32, "heatmap_size": 32, "num_stacks": 1, "fusion_blocks": 2,
                "fusion_scales": [1, 2, 4], "attention_reduction": 8, "separable": True},
        input_size=128, normalization=dict(presets.IMAGENET_NORMALIZATION), scheme="300w",
        codec=_codec(128, 32, "300w"),
        description="CPU-sized RDFN for real-face training here: 128 input, width 32 with "
                    "depth-wise separable convolutions, region hourglass of depth 3, 32x32 "
                    "pooled face, one stage of 2 dense multi-scale blocks, 32x32 score maps.",
        num_params=42527), overwrite=True)


_register()
