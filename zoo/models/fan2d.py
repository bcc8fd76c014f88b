"""The 2D heatmap baseline: FAN's stacked hourglass with 2D heatmaps (the paper's Table 1)."""
import keras

from zoo import losses
from zoo.models.hourglass_backbone import (check_backbone_args, check_int, normalization_layer,
                                           stack_outputs, stacked_hourglass)
from zoo.models import presets


def _heatmap_head(stack_features, num_landmarks, width, factor, stack):
    """FAN's per-stack heatmap output at resolution ``factor * F/4``.

    In FAN the heatmaps are the stacked hourglass's own output: a 1x1 convolution to N channels
    reading the stack's full-width features (1x1 conv + BN + ReLU) *at the heatmap's
    resolution*. The backbone's stack features are F/4 x F/4, so for a larger heatmap the
    features are first carried to L x L (parameter-free bilinear upsampling, so the heatmap is
    not piecewise constant) and FAN's head convolution (1x1, ``width`` channels, BN, ReLU) runs
    there before the 1x1 convolution to N heatmaps. At L = F/4 the backbone's own stack
    convolution is that head and only the 1x1 convolution to N is added (FAN exactly).
    """
    if factor == 1:
        return keras.layers.Conv2D(num_landmarks, 1, name=f"heatmap_{stack}")(stack_features)
    x = keras.layers.UpSampling2D(factor, interpolation="bilinear",
                                  name=f"head{stack}_upsample")(stack_features)
    x = keras.layers.Conv2D(width, 1, use_bias=False, name=f"head{stack}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"head{stack}_bn")(x)
    x = keras.layers.ReLU(name=f"head{stack}_relu")(x)
    return keras.layers.Conv2D(num_landmarks, 1, name=f"heatmap_{stack}")(x)


def build_fan2d(num_landmarks=68, input_size=256, num_stacks=4, width=256, hourglass_depth=4,
                heatmap_size=64, separable=False, normalization=None, name="fan2d"):
    """Builds the 2D heatmap detector (FAN) on the same backbone as ``build_aheat1d``.

    Every stack outputs N heatmaps of ``heatmap_size`` x ``heatmap_size`` (intermediate
    supervision, Eq. 11 summed over stacks); the last stack is used for inference.

    The paper's 2D baseline "is the same as FAN [2], which takes the output of the stacked
    hourglass network as 2D heatmaps" (Sec. 5.2), at L = 64, 128 and 256 (Table 1). In FAN the
    heatmaps come from a 1x1 convolution over the stack's full-width (``width`` channels)
    features at the heatmap's own resolution. So at ``heatmap_size`` = F/4 (64, FAN itself) each
    stack ends with a 1x1 convolution to N heatmaps; for a larger ``heatmap_size`` the stack's
    full-width features are carried to L x L (bilinear upsampling by L / (F/4)) and FAN's head
    convolution (1x1, ``width`` channels, BN, ReLU) runs at L x L before the 1x1 convolution to
    N. This is what makes the 2D baseline's memory grow with ``width * L^2`` per stack, the cost
    the paper reports as out of memory (32 GiB) at L = 256.

    Args:
        num_landmarks: int, N.
        input_size: int, the face crop size F (256).
        num_stacks: int, hourglass stacks (4 in FAN).
        width: int, backbone channels (256 in FAN).
        hourglass_depth: int, down-sampling levels per hourglass (4 in FAN).
        heatmap_size: int, H = W of the heatmaps, a multiple of the feature size F/4
            (64, 128 or 256 for a 256 input).
        separable: bool, depth-wise separable 3x3 convolutions.
        normalization: dict ``{"mean": [3], "std": [3]}`` in [0, 1] units (see aheat1d).
        name: model name (the preset name for presets).

    Returns:
        A ``keras.Model`` taking float32 RGB ``(B, F, F, 3)`` in [0, 255] and returning
        ``{"heatmap": (B, S, H, W, N)}``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> model = zoo.models.build_fan2d(num_landmarks=5, input_size=32, num_stacks=1,
        ...                                width=16, hourglass_depth=2, heatmap_size=16)
        >>> tuple(model(np.zeros((1, 32, 32, 3), "float32"))["heatmap"].shape)
        (1, 1, 16, 16, 5)

    Reference:
        Bulat & Tzimiropoulos, "How far are we from solving the 2D & 3D Face Alignment
        problem?", ICCV 2017; used as the 2D baseline in Table 1 of Yin et al., ACM MM 2020.
    """
    # Layers: validate.
    check_int("num_landmarks", num_landmarks, 1)
    feature_size = check_backbone_args(input_size, num_stacks, width, hourglass_depth)
    if not isinstance(heatmap_size, int) or isinstance(heatmap_size, bool) \
            or heatmap_size < feature_size or heatmap_size % feature_size:
        raise ValueError(
            f"`heatmap_size` must be a multiple of the feature size input_size/4 = "
            f"{feature_size} (e.g. {[feature_size * k for k in (1, 2, 4)]}). "
            f"Received: heatmap_size={heatmap_size!r}"
        )
    factor = heatmap_size // feature_size

    # Functional graph.
    images = keras.Input((input_size, input_size, 3), dtype="float32", name="images")
    features = stacked_hourglass(normalization_layer(normalization)(images), num_stacks, width,
                                 hourglass_depth, separable)
    heatmaps = [_heatmap_head(stack_features, num_landmarks, width, factor, stack)
                for stack, stack_features in enumerate(features)]

    # Config.
    return keras.Model(images, {"heatmap": stack_outputs(heatmaps, "heatmap")}, name=name)


# The registry record (zoo.models.presets.Architecture).
presets.register_architecture(presets.Architecture(
    name="fan2d", builder=build_fan2d, task="image",
    losses=losses.heatmap_losses,  # Eq. 11 on the 2D heatmaps (summed over stacks)
    codec={"class_name": "Heatmap2DCodec", "config": {}},
    tiny_config={"input_size": 32, "num_stacks": 1, "width": 16, "hourglass_depth": 1,
                 "heatmap_size": 16},
    train_fields={"heatmap_length": "heatmap_size"},
    tracker="fan2d_tracker",
    shape_probe={"num_stacks": 1, "width": 16},
    description="2D heatmap baseline (FAN, Bulat & Tzimiropoulos 2017; the paper's Table 1)"),
    overwrite=True)
