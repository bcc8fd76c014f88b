"""FAN's stacked hourglass backbone, shared by the 1D (aheat1d) and 2D (fan2d) detectors.

The backbone is written as functional-graph helpers (not a layer), so the per-stack features
stay visible in the model summary and the heads of every stack can attach to them.
"""
import keras

from zoo.layers.hourglass import Hourglass
from zoo.layers.residual_block import MultiScaleResidualBlock

DEFAULT_NORMALIZATION = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


def check_int(name, value, low):
    """Raises ValueError unless ``value`` is an int >= ``low``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")


def check_backbone_args(input_size, num_stacks, width, hourglass_depth):
    """Validates the backbone configuration and returns the feature size (input_size / 4)."""
    check_int("num_stacks", num_stacks, 1)
    check_int("hourglass_depth", hourglass_depth, 1)
    check_int("input_size", input_size, 4)
    if not isinstance(width, int) or isinstance(width, bool) or width < 16 or width % 16:
        raise ValueError(
            f"`width` must be a multiple of 16 (the stem uses width/4 and the blocks split "
            f"channels by 4). Received: width={width!r}"
        )
    factor = 4 * 2 ** hourglass_depth
    if input_size % factor:
        raise ValueError(
            f"`input_size` must be a multiple of 4 * 2**hourglass_depth = {factor} (stem "
            f"stride 4, then {hourglass_depth} poolings). Received: input_size={input_size}"
        )
    return input_size // 4


def normalization_layer(normalization):
    """A Keras ``Normalization`` layer from ``{"mean": [3], "std": [3]}`` in [0, 1] units.

    The model takes float32 RGB in [0, 255]; ``(x / 255 - mean) / std`` is computed as
    ``(x - 255 mean) / (255 std)`` by one layer, so exported graphs can take uint8 pixels.
    """
    normalization = normalization or DEFAULT_NORMALIZATION
    try:
        mean = [255.0 * float(m) for m in normalization["mean"]]
        variance = [(255.0 * float(s)) ** 2 for s in normalization["std"]]
    except (KeyError, TypeError) as error:
        raise ValueError(
            "`normalization` must be a dict {'mean': [r, g, b], 'std': [r, g, b]} in [0, 1] "
            f"units. Received: normalization={normalization!r}"
        ) from error
    if len(mean) != 3 or len(variance) != 3 or min(variance) <= 0:
        raise ValueError(
            "`normalization` needs 3 means and 3 positive stds. "
            f"Received: normalization={normalization!r}"
        )
    return keras.layers.Normalization(mean=mean, variance=variance, name="normalize")


STEMS = ("fan", "lite")


def stacked_hourglass(images, num_stacks, width, hourglass_depth, separable=False, stem="fan",
                      preactivation=True):
    """FAN's stem and ``num_stacks`` hourglasses; yields the features of every stack.

    Stem (FAN): 7x7 conv stride 2 (width/4), BN, ReLU, block (width/2), 2x2 average pooling,
    block (width/2), block (width): a 256 input gives 64x64 features. ``stem="lite"`` (issue
    13, for the phone tracker; not in FAN or the paper): 3x3 conv stride 2 (width/4), BN,
    ReLU, a separable 3x3 conv stride 2 (width/2), BN, ReLU, block (width): the same F/4
    features with no full-resolution block (FAN's stem is 55 of the width-128 mobile
    detector's 127 M MACs at 128 px, the lite stem about 5). Each stack: hourglass,
    block, 1x1 conv + BN + ReLU -> the stack features ``F`` the heads read. Between stacks,
    ``next = previous + conv1x1(F)``: FAN also adds a 1x1 remap of its 2D heatmaps; we pass on
    the stack features only, in both the 1D and the 2D detector, because 1D heatmaps of length
    L have no pixel grid to add to a 64x64 map without rebuilding an L x L map (the memory
    the paper removes), and so the two detectors differ in their heads only.

    Args:
        images: normalised input tensor (B, F, F, 3).
        num_stacks, width, hourglass_depth, separable, stem, preactivation: see
            ``zoo.models.build_aheat1d``.

    Returns:
        A list of ``num_stacks`` tensors (B, F/4, F/4, width).
    """
    if stem not in STEMS:
        raise ValueError(f"`stem` must be one of {STEMS}. Received: stem={stem!r}")
    def block(filters, name):
        return MultiScaleResidualBlock(filters, separable=separable, preactivation=preactivation,
                                       name=name)

    # Both stems open with a stride-2 conv + BN + ReLU (7x7 in FAN, 3x3 in the lite stem).
    x = keras.layers.Conv2D(width // 4, 3 if stem == "lite" else 7, strides=2, padding="same",
                            use_bias=False, name="stem_conv")(images)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    if stem == "lite":
        x = keras.layers.SeparableConv2D(width // 2, 3, strides=2, padding="same",
                                         use_bias=False, name="stem_down")(x)
        x = keras.layers.BatchNormalization(name="stem_down_bn")(x)
        x = keras.layers.ReLU(name="stem_down_relu")(x)
    else:
        x = block(width // 2, "stem_block1")(x)
        x = keras.layers.AveragePooling2D(2, name="stem_pool")(x)
        x = block(width // 2, "stem_block2")(x)
    x = block(width, "stem_block3")(x)

    features = []
    previous = x
    for stack in range(num_stacks):
        hidden = Hourglass(width, hourglass_depth, separable=separable,
                           preactivation=preactivation, name=f"hourglass{stack}")(previous)
        hidden = block(width, f"stack{stack}_block")(hidden)
        hidden = keras.layers.Conv2D(width, 1, use_bias=False, name=f"stack{stack}_conv")(hidden)
        hidden = keras.layers.BatchNormalization(name=f"stack{stack}_bn")(hidden)
        hidden = keras.layers.ReLU(name=f"stack{stack}_relu")(hidden)
        features.append(hidden)
        if stack + 1 < num_stacks:
            passed_on = keras.layers.Conv2D(width, 1, name=f"stack{stack}_pass")(hidden)
            previous = keras.layers.Add(name=f"stack{stack}_add")([previous, passed_on])
    return features


def stack_outputs(tensors, name):
    """Stacks per-stack outputs (B, ...) into (B, S, ...) with serialisable layers."""
    shape = tuple(tensors[0].shape[1:])
    expanded = [keras.layers.Reshape((1,) + shape, name=f"{name}_stack{i}")(t)
                for i, t in enumerate(tensors)]
    if len(expanded) == 1:
        return keras.layers.Identity(name=name)(expanded[0])
    return keras.layers.Concatenate(axis=1, name=name)(expanded)
