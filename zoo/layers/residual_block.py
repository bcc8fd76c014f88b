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

    With ``preactivation=False`` (this zoo's option for the phone tracker, not FAN's) each
    branch is ``c_i = relu(bn(conv3x3(c_{i-1})))`` and the projection ``bn(conv1x1(x))``: the
    same shapes and receptive fields, but at export every batch norm folds into the
    convolution before it and every ReLU fuses into it, so a block is 8 LiteRT ops instead of
    17 (the pre-activated batch norms are a multiply and an add over the feature map each).

    Args:
        filters: int, output channels, a multiple of 4.
        separable: bool, use depth-wise separable 3x3 convolutions (mobile presets).
        preactivation: bool, FAN's BN-ReLU-conv order (True) or conv-BN-ReLU (False).
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

    def __init__(self, filters, separable=False, preactivation=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 4 \
                or filters % 4:
            raise ValueError(
                f"`filters` must be a positive multiple of 4. Received: filters={filters!r}"
            )
        self.filters = filters
        self.separable = bool(separable)
        self.preactivation = bool(preactivation)
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
            if self.preactivation:
                norm.build(shape)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if not self.preactivation:
                norm.build(shape)
        if input_shape[-1] != self.filters:
            # FAN's downsample branch: BN, ReLU, 1x1 convolution to the new width
            # (post-activated: 1x1 convolution, BN).
            self.skip_norm = keras.layers.BatchNormalization(name="skip_bn")
            self.skip_conv = keras.layers.Conv2D(self.filters, 1, use_bias=False,
                                                 name="skip_conv")
            self.skip_conv.build(input_shape)
            self.skip_norm.build(input_shape if self.preactivation
                                 else tuple(input_shape[:-1]) + (self.filters,))

    def call(self, inputs, training=None):
        branches = []
        hidden = inputs
        for norm, conv in zip(self.norms, self.convs):
            if self.preactivation:
                hidden = conv(ops.relu(norm(hidden, training=training)))
            else:
                hidden = ops.relu(norm(conv(hidden), training=training))
            branches.append(hidden)
        out = ops.concatenate(branches, axis=-1)
        residual = inputs
        if self.skip_conv is not None:
            if self.preactivation:
                residual = self.skip_conv(ops.relu(self.skip_norm(inputs, training=training)))
            else:
                residual = self.skip_norm(self.skip_conv(inputs), training=training)
        return out + residual

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "separable": self.separable,
                       "preactivation": self.preactivation})
        return config
