"""HIH: the heatmap-in-heatmap face alignment network (Lan et al., seed 003), trainable.

The authors released inference code only (github.com/starhiking/HeatmapInHeatmap); this module
rebuilds their network from ``lib/model/get_hourglass.py`` (``StackedHourGlass`` with
``HIH_head``), registers the presets and the training hooks (the CSC loss of ``zoo.losses``,
the codec fitted to the model), so the recipes train, evaluate and export it like any detector.

Presets (all with the authors' codec ``HIHCodec(256, 64, 8, 1.5, 1.0)``, argmax decode):

* ``hih_wflw``, ``hih_cofw``, ``hih_300w``: HIH_B, 4 stacks (paper: WFLW 4.08, COFW 3.21,
  300W 3.09 NME);
* ``hih_t_wflw`` (HIH_T, 1 stack, paper 4.27) and ``hih_s_wflw`` (HIH_S, 2 stacks, 4.13);
* ``hih_mobile_300w``: a CPU-sized HIH (input 128, width 64, 1 stack of depth 3, decimal head
  of 96 channels; 32 x 32 integer and 8 x 8 decimal maps) for real-face training here.
"""
import math

import keras

from zoo.layers.hih_hourglass import UPSAMPLING, HIHHourglass
from zoo.layers.hih_residual import HIHResidual, check_batch_norm_args
from zoo.models.hourglass_backbone import check_int, normalization_layer, stack_outputs

# Parameter counts of HIH_B (98 landmarks) that the authors quote: 22.68 M with the 1x1 skip
# convs their Residual module builds and never uses, about 18.96 M without them.
AUTHORS_PARAMS_HIH_B = 22.68e6
AUTHORS_PARAMS_HIH_B_WITHOUT_UNUSED_SKIPS = 18.96e6


def _conv_bn(x, filters, kernel_size, name, stride=1, relu=True, settings=None):
    """The authors' ``ConvBNReLu``: bias-free conv (PyTorch padding (k - 1) / 2), BN, ReLU.

    Strided convolutions pad explicitly and symmetrically, as PyTorch does (TF's "same" pads
    an odd total at the bottom/right only, which would shift the strided sampling grid).
    """
    padding = "same"
    if stride > 1:
        padding = "valid"
        if kernel_size > 1:
            x = keras.layers.ZeroPadding2D((kernel_size - 1) // 2, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(filters, kernel_size, strides=stride, padding=padding,
                            use_bias=False, name=f"{name}_conv",
                            kernel_initializer=settings["kernel_initializer"])(x)
    x = keras.layers.BatchNormalization(momentum=settings["batch_norm_momentum"],
                                        epsilon=settings["batch_norm_epsilon"],
                                        name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _residual(x, filters, name, settings):
    return HIHResidual(filters, batch_norm_momentum=settings["batch_norm_momentum"],
                       batch_norm_epsilon=settings["batch_norm_epsilon"],
                       kernel_initializer=settings["kernel_initializer"], name=name)(x)


def _down_block(x, filters, name, settings):
    """The authors' ``Down_Block``: 3x3 s2 conv-BN-ReLU, 3x3 conv-BN, + 1x1 s2 conv-BN, ReLU."""
    hidden = _conv_bn(x, filters, 3, f"{name}_a", stride=2, settings=settings)
    hidden = _conv_bn(hidden, filters, 3, f"{name}_b", relu=False, settings=settings)
    shortcut = _conv_bn(x, filters, 1, f"{name}_shortcut", stride=2, relu=False,
                        settings=settings)
    x = keras.layers.Add(name=f"{name}_add")([hidden, shortcut])
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def decimal_head_steps(heatmap_size, decimal_size):
    """Number of stride-2 down-blocks of the decimal head, after checking the sizes chain.

    The head max-pools the ``heatmap_size`` map (3x3, stride 2, no padding: 64 -> 31), then
    ``log2(heatmap_size / decimal_size) - 1`` down-blocks halve it (31 -> 16 -> 8), as the
    authors' ``HIH_head``.

    Raises:
        ValueError: when that chain does not end at ``decimal_size``.
    """
    ratio = heatmap_size / decimal_size
    steps = int(round(math.log2(ratio))) - 1 if ratio >= 1 else -1
    size = (heatmap_size - 3) // 2 + 1 if heatmap_size >= 3 else 0
    for _ in range(max(steps, 0)):
        size = (size + 1) // 2
    if steps < 1 or 2 ** (steps + 1) != ratio or size != decimal_size:
        raise ValueError(
            f"`decimal_size` must be heatmap_size / 2**k with k >= 2 (the decimal head max-"
            f"pools then halves the {heatmap_size} x {heatmap_size} map k - 1 times), e.g. "
            f"{[heatmap_size // 2 ** k for k in (2, 3) if heatmap_size // 2 ** k >= 2]}. "
            f"Received: decimal_size={decimal_size!r}")
    return steps


def build_hih(num_landmarks=98, input_size=256, num_stacks=4, width=256, hourglass_depth=4,
              decimal_size=8, decimal_channels=384, upsampling="bilinear", init_stddev=0.001,
              batch_norm_momentum=0.9, batch_norm_epsilon=1e-5, normalization=None,
              name="hih"):
    """Builds HIH's training model: stacked hourglass, integer heatmaps, one decimal head.

    The network of the authors' code (``StackedHourGlass`` + ``HIH_head``):

    * stem (FAN-style): 7x7 stride-2 conv-BN-ReLU to ``width / 4``, residual to ``width / 2``,
      2x2 max-pool, residual ``width / 2``, residual to ``width``: 256 -> 64 x 64 features;
    * per stack: hourglass (``zoo.layers.HIHHourglass``, bottleneck residuals, max-pooling,
      bilinear upsampling), residual, 1x1 conv-BN-ReLU (the stack features), a 1x1 conv with
      bias to the N integer heatmaps (intermediate supervision on every stack); then the
      residual stream ``x = x + conv1x1_bn_relu(features) + conv1x1_bn_relu(heatmaps)``, after
      the last stack too;
    * decimal head on the last stack's residual stream ``x``: 1x1 conv-BN-ReLU to
      ``decimal_channels`` (384), 3x3 stride-2 max-pool (64 -> 31), ``log2(S / d) - 1``
      down-blocks (3x3 s2 conv-BN-ReLU, 3x3 conv-BN, + 1x1 s2 conv-BN shortcut, ReLU:
      31 -> 16 -> 8), 1x1 conv-BN-ReLU, 1x1 conv to N decimal logits (without the authors'
      bias: a constant per landmark cancels in the softmax over the cells, so it never
      trains and changes no decode).

    Outputs are channels-last, like every zoo detector: ``integer`` ``(B, S, H, W, N)`` (S
    stacks, ``H = W = input_size / 4``) and ``decimal`` ``(B, 1, d, d, N)``, one entry on the
    stack axis as the authors' ``offset.unsqueeze(1)``, so the last stack of every output is
    what inference decodes (``(B, d, d, N)`` after ``zoo.models.inference``).

    Design choices the paper and the code leave open, each a keyword here:

    * ``upsampling="bilinear"``: half-pixel bilinear (``align_corners=False``); the authors'
      code calls ``align_corners=True`` (see ``zoo.layers.HIHHourglass``).
    * ``init_stddev=0.001``: the authors initialise every conv and linear weight from
      N(0, 0.001) (BN weight 1, bias 0) and train from scratch (their ``pretrained_path`` is
      never set); None keeps Keras' defaults (Glorot uniform).
    * ``batch_norm_momentum=0.9``, ``batch_norm_epsilon=1e-5``: PyTorch's BN defaults
      (momentum 0.1 in PyTorch's convention), which the authors use.
    * ``decimal_channels=384``: the authors' ``target_o``.
    * The unused weights: the authors' ``Residual`` builds a 1x1 conv + BN skip even when
      the width does not change and never uses it, and their decimal logits conv has a bias
      the softmax cancels; neither is built here, so ``model.count_params()`` excludes them
      (``parameter_counts`` reports both conventions).
    * Normalisation: the presets use ImageNet mean/std, the authors' test transform.
    * The codec's open choices (decode ``method``, ``decimal_target``) are fields of
      ``zoo.codecs.HIHCodec`` in each preset's codec config.

    Args:
        num_landmarks: int, N (98 WFLW, 29 COFW, 68 300W).
        input_size: int, the face crop size F (256); a multiple of ``4 * 2**hourglass_depth``.
        num_stacks: int, hourglass stacks (HIH_T 1, HIH_S 2, HIH_B 4).
        width: int, backbone channels (256), a multiple of 8.
        hourglass_depth: int, down-sampling levels per hourglass (4).
        decimal_size: int, side d of the decimal heatmap (8); ``(F / 4) / d`` a power of 2
            >= 4.
        decimal_channels: int, channels of the decimal head (384).
        upsampling: ``"bilinear"`` or ``"nearest"``.
        init_stddev: float or None, the conv weight initialiser's std (see above).
        batch_norm_momentum: float, Keras BN momentum.
        batch_norm_epsilon: float, BN epsilon.
        normalization: dict ``{"mean": [3], "std": [3]}`` in [0, 1] units applied inside the
            model to the [0, 255] RGB input; default mean = std = 0.5.
        name: model name (presets use the preset name, so inference can find the preset).

    Returns:
        A ``keras.Model`` taking float32 RGB ``(B, F, F, 3)`` in [0, 255] and returning
        ``{"integer": (B, S, F/4, F/4, N), "decimal": (B, 1, d, d, N)}``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> model = zoo.models.build_hih(num_landmarks=5, input_size=64, num_stacks=1,
        ...                              width=16, hourglass_depth=2, decimal_size=4,
        ...                              decimal_channels=8)
        >>> outputs = model(np.zeros((1, 64, 64, 3), "float32"))
        >>> tuple(outputs["integer"].shape), tuple(outputs["decimal"].shape)
        ((1, 1, 16, 16, 5), (1, 1, 4, 4, 5))

    Reference:
        Lan et al., "HIH: Towards More Accurate Face Alignment via Heatmap in Heatmap", 2021
        (arXiv:2104.03100), Sec. 3; code: github.com/starhiking/HeatmapInHeatmap.
    """
    # Layers: validate first, so bad configs fail before any graph is built.
    check_int("num_landmarks", num_landmarks, 1)
    check_int("num_stacks", num_stacks, 1)
    check_int("hourglass_depth", hourglass_depth, 1)
    check_int("input_size", input_size, 4)
    check_int("decimal_channels", decimal_channels, 1)
    if isinstance(width, bool) or not isinstance(width, int) or width < 8 or width % 8:
        raise ValueError(f"`width` must be a multiple of 8 (the stem uses width/4 and its "
                         f"bottlenecks halve that). Received: width={width!r}")
    factor = 4 * 2 ** hourglass_depth
    if input_size % factor:
        raise ValueError(f"`input_size` must be a multiple of 4 * 2**hourglass_depth = {factor} "
                         f"(stem stride 4, then {hourglass_depth} poolings). Received: "
                         f"input_size={input_size}")
    heatmap_size = input_size // 4
    check_int("decimal_size", decimal_size, 2)
    steps = decimal_head_steps(heatmap_size, decimal_size)
    if upsampling not in UPSAMPLING:
        raise ValueError(f"Unknown `upsampling`. Allowed: {UPSAMPLING}. Received: "
                         f"upsampling={upsampling!r}")
    if init_stddev is not None and (isinstance(init_stddev, bool)
                                    or not isinstance(init_stddev, (int, float))
                                    or init_stddev <= 0):
        raise ValueError(f"`init_stddev` must be a float > 0 or None. Received: "
                         f"init_stddev={init_stddev!r}")
    check_batch_norm_args(batch_norm_momentum, batch_norm_epsilon)
    initializer = ("glorot_uniform" if init_stddev is None else
                   keras.initializers.serialize(
                       keras.initializers.RandomNormal(stddev=float(init_stddev))))
    settings = {"kernel_initializer": initializer,
                "batch_norm_momentum": float(batch_norm_momentum),
                "batch_norm_epsilon": float(batch_norm_epsilon)}

    def head_conv(filters, layer_name, use_bias=True):  # the 1x1 convs that give heatmaps
        return keras.layers.Conv2D(filters, 1, name=layer_name, use_bias=use_bias,
                                   kernel_initializer=keras.initializers.get(initializer))

    # Functional graph: stem.
    images = keras.Input((input_size, input_size, 3), dtype="float32", name="images")
    x = normalization_layer(normalization)(images)
    x = _conv_bn(x, width // 4, 7, "stem", stride=2, settings=settings)
    x = _residual(x, width // 2, "stem_res1", settings)
    x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
    x = _residual(x, width // 2, "stem_res2", settings)
    x = _residual(x, width, "stem_res3", settings)

    # Stacks: hourglass, integer heatmaps, the residual stream.
    integer = []
    for stack in range(num_stacks):
        hidden = HIHHourglass(width, hourglass_depth, upsampling=upsampling,
                              batch_norm_momentum=settings["batch_norm_momentum"],
                              batch_norm_epsilon=settings["batch_norm_epsilon"],
                              kernel_initializer=initializer, name=f"hourglass{stack}")(x)
        hidden = _residual(hidden, width, f"stack{stack}_res", settings)
        features = _conv_bn(hidden, width, 1, f"stack{stack}_lin", settings=settings)
        heatmaps = head_conv(num_landmarks, f"integer_{stack}")(features)
        integer.append(heatmaps)
        merged_features = _conv_bn(features, width, 1, f"stack{stack}_merge_features",
                                   settings=settings)
        merged_heatmaps = _conv_bn(heatmaps, width, 1, f"stack{stack}_merge_heatmaps",
                                   settings=settings)
        x = keras.layers.Add(name=f"stack{stack}_add")([x, merged_features, merged_heatmaps])

    # Decimal head on the last stack's residual stream.
    hidden = _conv_bn(x, decimal_channels, 1, "decimal_in", settings=settings)
    hidden = keras.layers.MaxPooling2D(3, strides=2, padding="valid",
                                       name="decimal_pool")(hidden)
    for step in range(steps):
        hidden = _down_block(hidden, decimal_channels, f"decimal_down{step}", settings)
    hidden = _conv_bn(hidden, decimal_channels, 1, "decimal_out", settings=settings)
    # No bias: a per-landmark constant on all d x d logits cancels in the softmax of the CSC
    # loss and in both decoders (it would get no gradient; the authors' conv has one).
    decimal = head_conv(num_landmarks, "decimal_logits", use_bias=False)(hidden)
    decimal = keras.layers.Reshape((1, decimal_size, decimal_size, num_landmarks),
                                   name="decimal")(decimal)

    # Config: the model is a plain functional model; its name carries the preset name.
    return keras.Model(images, {"integer": stack_outputs(integer, "integer"),
                                "decimal": decimal}, name=name)


def parameter_counts(model):
    """Parameter counts of a HIH model in both conventions.

    Args:
        model: a model from ``build_hih``.

    Returns:
        dict with ``"trainable"`` (PyTorch's ``parameters()``: weights, biases, BN scale and
        shift; about 18.96 M for HIH_B), ``"unused_skip_convs"`` (the 1x1 conv + BN skips the
        authors' ``Residual`` builds but never uses: one per equal-width block),
        ``"decimal_bias"`` (the N biases of their decimal logits conv) and ``"authors"`` (the
        sum, the authors' 22.68 M for HIH_B), plus ``"all"`` (``model.count_params()``, which
        also counts BN moving statistics).
    """
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    decimal_bias = int(model.get_layer("decimal_logits").filters)
    unused = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, HIHResidual) and layer.skip_conv is None:
            # conv1 reads the block's input: its kernel is (1, 1, C_in, C / 2).
            channels_in = int(layer.convs[0].kernel.shape[2])
            unused += channels_in * layer.filters + 2 * layer.filters
    return {"trainable": trainable, "unused_skip_convs": unused, "decimal_bias": decimal_bias,
            "authors": trainable + unused + decimal_bias, "all": int(model.count_params())}


def _hih_codec(input_size=256, integer_size=64):
    # The authors' targets and decode (HIHC_64x8_hg_l2.py: heatmap 64 sigma 1.5, offset 8
    # sigma 1.0); HIHCodec's defaults.
    return {"class_name": "HIHCodec",
            "config": {"input_size": input_size, "integer_size": integer_size,
                       "decimal_size": 8, "integer_sigma": 1.5, "decimal_sigma": 1.0,
                       "method": "argmax", "decimal_target": "rounded"}}


def _paper_config(num_landmarks, num_stacks=4):
    return {"num_landmarks": num_landmarks, "num_stacks": num_stacks, "width": 256,
            "hourglass_depth": 4, "decimal_size": 8, "decimal_channels": 384,
            "upsampling": "bilinear", "init_stddev": 0.001, "batch_norm_momentum": 0.9,
            "batch_norm_epsilon": 1e-5}


def _register():
    from zoo import losses
    from zoo.models import presets

    # The registry record (zoo.models.presets.Architecture).
    presets.register_architecture(presets.Architecture(
        name="hih", builder=build_hih, task="image",
        losses=losses.hih_losses,  # CSC: MSE on integer (every stack) + 0.05 KL on decimal
        codec={"class_name": "HIHCodec", "config": {}},
        # Glorot weights: with the authors' N(0, 0.001) a tiny random model's heatmaps are
        # flat to float noise, and the export parity checks would compare argmax ties.
        tiny_config={"input_size": 32, "num_stacks": 1, "width": 16, "hourglass_depth": 1,
                     "decimal_size": 2, "decimal_channels": 8, "init_stddev": None},
        tracker=None,
        description="Heatmap in heatmap (Lan et al. 2021): stacked hourglass, integer "
                    "heatmaps + one decimal heatmap, CSC loss"), overwrite=True)
    paper = ("HIH (Lan et al. 2021), the authors' network: stacked hourglass of width 256, "
             "depth 4, bilinear upsampling, 64x64 integer heatmaps from every stack, one 8x8 "
             "decimal head on the last stack's residual stream")
    # num_params: model.count_params() (Keras: also BN moving statistics); the authors' 22.68 M
    # convention is zoo.models.hih.parameter_counts(model)["authors"].
    for name, num_landmarks, stacks, scheme, extra, params in (
            ("hih_wflw", 98, 4, "wflw", "HIH_B, 4 stacks (paper: WFLW 4.08 NME)", 19034184),
            ("hih_cofw", 29, 4, "cofw", "HIH_B, 4 stacks (paper: COFW 3.21 NME)", 18866100),
            ("hih_300w", 68, 4, "300w", "HIH_B, 4 stacks (paper: 300W 3.09 full)", 18961104),
            ("hih_t_wflw", 98, 1, "wflw", "HIH_T, 1 stack (paper: WFLW 4.27 NME)", 9449250),
            ("hih_s_wflw", 98, 2, "wflw", "HIH_S, 2 stacks (paper: WFLW 4.13 NME)", 12644228)):
        presets.register_preset(presets.Preset(
            name=name, architecture="hih", config=_paper_config(num_landmarks, stacks),
            input_size=256, normalization=dict(presets.IMAGENET_NORMALIZATION), scheme=scheme,
            codec=_hih_codec(), description=f"{paper}; {extra}.", num_params=params),
            overwrite=True)
    presets.register_preset(presets.Preset(
        name="hih_mobile_300w", architecture="hih",
        config={"num_landmarks": 68, "num_stacks": 1, "width": 64, "hourglass_depth": 3,
                "decimal_size": 8, "decimal_channels": 96, "upsampling": "bilinear",
                "init_stddev": 0.001, "batch_norm_momentum": 0.9, "batch_norm_epsilon": 1e-5},
        input_size=128, normalization=dict(presets.IMAGENET_NORMALIZATION), scheme="300w",
        codec=_hih_codec(128, 32),
        description="CPU-sized HIH for real-face training here (a choice of this zoo, not the "
                    "paper's): 128 input, 1 hourglass stack of width 64 and depth 3, 32x32 "
                    "integer and 8x8 decimal heatmaps (0.5 px decimal cells), decimal head of "
                    "96 channels (1.5 x width, as 384 = 1.5 x 256).",
        num_params=393780), overwrite=True)


_register()
