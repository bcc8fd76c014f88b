"""The hierarchical, parallel, multi-scale residual block of FAN (Bulat & Tzimiropoulos 2017)."""
import keras
from keras import ops


def _conv(filters, kernel_size, separable, name, strides=1, padding="same"):
    """A bias-free 2D convolution, depth-wise separable when asked (for the mobile presets)."""
    if separable and kernel_size != 1:
        return keras.layers.SeparableConv2D(filters, kernel_size, strides=strides,
                                            padding=padding, use_bias=False, name=name)
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                               use_bias=False, name=name)


@keras.saving.register_keras_serializable(package="zoo")
class MultiScaleResidualBlock(keras.layers.Layer):
    """FAN's hierarchical, parallel and multi-scale residual block ("ConvBlock").

    Three pre-activated 3x3 convolutions in a chain (``filters/2``, ``filters/4``,
    ``filters/4`` channels, receptive fields 3, 5, 7) whose outputs are concatenated to
    ``filters`` channels and added to the (1x1-projected when the width changes) input:
    ``out = concat(c1, c2, c3) + skip(x)``, each ``c_i = conv3x3(relu(bn(c_{i-1})))``.

    Args:
        filters: int, output channels, a multiple of 4.
        separable: bool, use depth-wise separable 3x3 convolutions (mobile presets).
        **kwargs: standard layer arguments.

    Returns:
        A tensor ``(B, H, W, filters)``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> block = zoo.layers.MultiScaleResidualBlock(32)
        >>> tuple(block(np.zeros((1, 16, 16, 8), "float32")).shape)
        (1, 16, 16, 32)

    Reference:
        Bulat & Tzimiropoulos, "Binarized Convolutional Landmark Localizers for Human Pose
        Estimation and Face Alignment with Limited Resources", ICCV 2017 (Fig. 4b); used by
        FAN, "How far are we from solving the 2D & 3D Face Alignment problem?", ICCV 2017.
    """

    def __init__(self, filters, separable=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 4 \
                or filters % 4:
            raise ValueError(
                f"`filters` must be a positive multiple of 4. Received: filters={filters!r}"
            )
        self.filters = filters
        self.separable = bool(separable)
        widths = (filters // 2, filters // 4, filters // 4)
        self.norms = [keras.layers.BatchNormalization(name=f"bn{i + 1}") for i in range(3)]
        self.convs = [_conv(w, 3, self.separable, name=f"conv{i + 1}")
                      for i, w in enumerate(widths)]
        self.skip_norm = None
        self.skip_conv = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(
                f"MultiScaleResidualBlock takes (B, H, W, C) input. "
                f"Received: input_shape={input_shape}"
            )
        shape = input_shape
        for norm, conv in zip(self.norms, self.convs):
            norm.build(shape)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        if input_shape[-1] != self.filters:
            # FAN's downsample branch: BN, ReLU, 1x1 convolution to the new width.
            self.skip_norm = keras.layers.BatchNormalization(name="skip_bn")
            self.skip_conv = keras.layers.Conv2D(self.filters, 1, use_bias=False,
                                                 name="skip_conv")
            self.skip_norm.build(input_shape)
            self.skip_conv.build(input_shape)

    def call(self, inputs, training=None):
        branches = []
        hidden = inputs
        for norm, conv in zip(self.norms, self.convs):
            hidden = conv(ops.relu(norm(hidden, training=training)))
            branches.append(hidden)
        out = ops.concatenate(branches, axis=-1)
        residual = inputs
        if self.skip_conv is not None:
            residual = self.skip_conv(ops.relu(self.skip_norm(inputs, training=training)))
        return out + residual

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "separable": self.separable})
        return config
