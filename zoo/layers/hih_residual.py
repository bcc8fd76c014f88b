"""The bottleneck residual block of HIH's stacked hourglass (Newell et al.'s ``Residual``)."""
import keras
from keras import ops


def check_batch_norm_args(momentum, epsilon):
    """Validates the batch-norm momentum (Keras convention, 0..1) and epsilon (> 0)."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
            or not 0.0 <= momentum < 1.0:
        raise ValueError(f"`batch_norm_momentum` must be a float in [0, 1). Received: "
                         f"batch_norm_momentum={momentum!r}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
        raise ValueError(f"`batch_norm_epsilon` must be a float > 0. Received: "
                         f"batch_norm_epsilon={epsilon!r}")


@keras.saving.register_keras_serializable(package="zoo")
class HIHResidual(keras.layers.Layer):
    """Bottleneck residual block: 1x1 (C/2) -> 3x3 (C/2) -> 1x1 (C), each conv-BN(-ReLU).

    ``out = relu(bn(conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(x)))))))) + skip(x))`` where
    ``skip`` is a 1x1 conv + BN when the width changes and the identity otherwise. This is the
    ``Residual`` module of the HIH authors' hourglass (``lib/model/get_hourglass.py``; every
    convolution bias-free). Their module also *builds* the 1x1 skip conv + BN when the width
    does not change and never uses it; this layer builds it only when it is used, so a
    model's parameter count excludes those unused weights (``zoo.models.hih`` reports both
    conventions).

    Args:
        filters: int, output channels C (even).
        batch_norm_momentum: float, Keras BN momentum (0.9 = PyTorch's momentum 0.1).
        batch_norm_epsilon: float, BN epsilon (1e-5, PyTorch's default).
        kernel_initializer: Keras initializer (identifier or serialized dict) of the convs.
        **kwargs: standard layer arguments.

    Returns:
        A tensor ``(B, H, W, filters)``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> block = zoo.layers.HIHResidual(32)
        >>> tuple(block(np.zeros((1, 8, 8, 16), "float32")).shape)
        (1, 8, 8, 32)

    Reference:
        Newell et al., "Stacked Hourglass Networks for Human Pose Estimation", ECCV 2016;
        Lan et al., "HIH: Towards More Accurate Face Alignment via Heatmap in Heatmap", 2021.
    """

    def __init__(self, filters, batch_norm_momentum=0.9, batch_norm_epsilon=1e-5,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 2 \
                or filters % 2:
            raise ValueError(f"`filters` must be a positive even int. Received: "
                             f"filters={filters!r}")
        check_batch_norm_args(batch_norm_momentum, batch_norm_epsilon)
        self.filters = filters
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer))
        half = filters // 2
        self.convs = [self._conv(half, 1, "conv1"), self._conv(half, 3, "conv2"),
                      self._conv(filters, 1, "conv3")]
        self.norms = [self._norm(f"bn{i + 1}") for i in range(3)]
        self.skip_conv = None
        self.skip_norm = None

    def _conv(self, filters, kernel_size, name):
        return keras.layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=False, name=name,
            kernel_initializer=keras.initializers.get(self.kernel_initializer))

    def _norm(self, name):
        return keras.layers.BatchNormalization(momentum=self.batch_norm_momentum,
                                               epsilon=self.batch_norm_epsilon, name=name)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"HIHResidual takes (B, H, W, C) input with a known C. Received: "
                             f"input_shape={input_shape}")
        shape = input_shape
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            norm.build(shape)
        if input_shape[-1] != self.filters:
            self.skip_conv = self._conv(self.filters, 1, "skip_conv")
            self.skip_norm = self._norm("skip_bn")
            self.skip_conv.build(input_shape)
            self.skip_norm.build(shape)

    def call(self, inputs, training=None):
        hidden = inputs
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            hidden = norm(conv(hidden), training=training)
            if index < 2:
                hidden = ops.relu(hidden)
        residual = inputs
        if self.skip_conv is not None:
            residual = self.skip_norm(self.skip_conv(inputs), training=training)
        return ops.relu(hidden + residual)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters,
                       "batch_norm_momentum": self.batch_norm_momentum,
                       "batch_norm_epsilon": self.batch_norm_epsilon,
                       "kernel_initializer": self.kernel_initializer})
        return config
