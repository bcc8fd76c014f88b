"""One hourglass module of FAN's stacked hourglass backbone."""
import keras
from keras import ops

from zoo.layers.residual_block import MultiScaleResidualBlock


def _upsample_nearest_2x(inputs):
    """Nearest-neighbour 2x upsampling, ``out[i, j] = in[i // 2, j // 2]``.

    The same values as ``keras.layers.UpSampling2D(2, interpolation="nearest")``, whose
    TensorFlow form is two ``repeat``s (Shape/Tile/Reshape chains that LiteRT's XNNPACK
    delegate does not take), and as a 2x nearest resize (one RESIZE_NEAREST_NEIGHBOR op, which
    XNNPACK does not take either: each one split the exported graph into another delegate
    partition). Written as two concatenations and two static reshapes, ops that XNNPACK runs:
    ``concat([x, x], -1)`` reshaped to ``(H, 2W, C)`` repeats every pixel along the row, and
    ``concat([y, y], 2)`` reshaped to ``(2H, 2W, C)`` repeats every row. Bit-exact.
    """
    height, width, channels = inputs.shape[1], inputs.shape[2], inputs.shape[3]
    rows = ops.reshape(ops.concatenate([inputs, inputs], axis=-1),
                       (-1, height, 2 * width, channels))
    return ops.reshape(ops.concatenate([rows, rows], axis=2),
                       (-1, 2 * height, 2 * width, channels))


@keras.saving.register_keras_serializable(package="zoo")
class Hourglass(keras.layers.Layer):
    """A recursive hourglass (Newell et al. 2016) built from FAN's multi-scale residual blocks.

    At each of ``depth`` levels: an upper branch (one block at the current resolution) and a
    lower branch (2x2 average pooling, one block, the next level, one block, nearest 2x
    upsampling); the two are added. The bottom level has one extra block. This is FAN's
    ``HourGlass`` module; the input and output widths are both ``filters``.

    Args:
        filters: int, channels of every block (a multiple of 4; FAN uses 256).
        depth: int >= 1, number of down/up-sampling levels (FAN uses 4: 64 -> 4 pixels).
        separable: bool, depth-wise separable 3x3 convolutions in the blocks (mobile presets).
        preactivation: bool, the blocks' order (see ``MultiScaleResidualBlock``).
        **kwargs: standard layer arguments.

    Returns:
        A tensor of the input's shape ``(B, H, W, filters)``; H and W must be multiples of
        ``2**depth``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> hourglass = zoo.layers.Hourglass(filters=16, depth=2)
        >>> tuple(hourglass(np.zeros((1, 8, 8, 16), "float32")).shape)
        (1, 8, 8, 16)

    Reference:
        Bulat & Tzimiropoulos, "How far are we from solving the 2D & 3D Face Alignment
        problem?", ICCV 2017 (FAN); Newell et al., "Stacked Hourglass Networks for Human Pose
        Estimation", ECCV 2016.
    """

    def __init__(self, filters, depth=4, separable=False, preactivation=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ValueError(f"`depth` must be an int >= 1. Received: depth={depth!r}")
        self.filters = filters
        self.depth = depth
        self.separable = bool(separable)
        self.preactivation = bool(preactivation)

        def block(name):
            return MultiScaleResidualBlock(filters, separable=separable,
                                           preactivation=self.preactivation, name=name)

        # Level i (0 = full resolution): upper block, lower blocks before/after the recursion.
        self.upper = [block(f"up{i}") for i in range(depth)]
        self.lower_in = [block(f"low_in{i}") for i in range(depth)]
        self.lower_out = [block(f"low_out{i}") for i in range(depth)]
        self.bottom = block("bottom")
        self.pool = keras.layers.AveragePooling2D(2, name="pool")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] != self.filters:
            raise ValueError(
                f"Hourglass takes (B, H, W, {self.filters}) input (channels = filters). "
                f"Received: input_shape={input_shape}"
            )
        factor = 2 ** self.depth
        for size in input_shape[1:3]:
            if size is None or size % factor:
                raise ValueError(
                    f"Hourglass of depth {self.depth} needs H and W that are multiples of "
                    f"{factor}. Received: input_shape={input_shape}"
                )
        shape = input_shape
        for i in range(self.depth):
            self.upper[i].build(shape)
            shape = (shape[0], shape[1] // 2, shape[2] // 2, shape[3])
            self.lower_in[i].build(shape)
            self.lower_out[i].build(shape)
        self.bottom.build(shape)

    def _level(self, inputs, level, training):
        upper = self.upper[level](inputs, training=training)
        lower = self.lower_in[level](self.pool(inputs), training=training)
        if level + 1 < self.depth:
            lower = self._level(lower, level + 1, training)
        else:
            lower = self.bottom(lower, training=training)
        lower = self.lower_out[level](lower, training=training)
        return upper + _upsample_nearest_2x(lower)

    def call(self, inputs, training=None):
        return self._level(inputs, 0, training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"filters": self.filters, "depth": self.depth, "separable": self.separable,
             "preactivation": self.preactivation}
        )
        return config
