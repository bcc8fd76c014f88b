"""One hourglass of HIH's stacked hourglass: bottleneck blocks, max-pooling, bilinear upsampling."""
import keras
from keras import ops

from zoo.layers.hih_residual import HIHResidual, check_batch_norm_args

UPSAMPLING = ("bilinear", "nearest")


@keras.saving.register_keras_serializable(package="zoo")
class HIHHourglass(keras.layers.Layer):
    """A recursive hourglass of ``HIHResidual`` blocks (the HIH authors' ``Hourglass``).

    At each of ``depth`` levels: an upper branch (one block at the current resolution) and a
    lower branch (2x2 max-pooling, one block, the next level, one block, 2x upsampling); the
    two are added. The bottom level has one extra block. Input and output widths are both
    ``filters``.

    The authors upsample with ``F.interpolate(scale_factor=2, mode="bilinear",
    align_corners=True)``. ``upsampling="bilinear"`` here is bilinear with half-pixel centres
    (``keras.ops.image.resize``; ``align_corners=False``): the sampling grid of the zoo's
    coordinate convention (``zoo.codecs.base``), one RESIZE_BILINEAR op in LiteRT and one
    ``Resize`` in ONNX. It has no weights, so parameter counts are unchanged; a model trained
    here is not bit-compatible with the authors' weights (there are none for training anyway).
    ``"nearest"`` is offered for speed experiments.

    Args:
        filters: int, channels of every block (even; HIH uses 256).
        depth: int >= 1, down/up-sampling levels (HIH uses 4: 64 -> 4 pixels).
        upsampling: ``"bilinear"`` (default) or ``"nearest"``.
        batch_norm_momentum, batch_norm_epsilon, kernel_initializer: see ``HIHResidual``.
        **kwargs: standard layer arguments.

    Returns:
        A tensor of the input's shape ``(B, H, W, filters)``; H and W must be multiples of
        ``2**depth``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> hourglass = zoo.layers.HIHHourglass(filters=16, depth=2)
        >>> tuple(hourglass(np.zeros((1, 8, 8, 16), "float32")).shape)
        (1, 8, 8, 16)

    Reference:
        Newell et al., "Stacked Hourglass Networks for Human Pose Estimation", ECCV 2016;
        Lan et al., "HIH: Towards More Accurate Face Alignment via Heatmap in Heatmap", 2021.
    """

    def __init__(self, filters, depth=4, upsampling="bilinear", batch_norm_momentum=0.9,
                 batch_norm_epsilon=1e-5, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"`depth` must be an int >= 1. Received: depth={depth!r}")
        if upsampling not in UPSAMPLING:
            raise ValueError(f"Unknown `upsampling`. Allowed: {UPSAMPLING}. Received: "
                             f"upsampling={upsampling!r}")
        check_batch_norm_args(batch_norm_momentum, batch_norm_epsilon)
        self.filters = filters
        self.depth = depth
        self.upsampling = upsampling
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer))

        def block(name):
            return HIHResidual(filters, batch_norm_momentum=self.batch_norm_momentum,
                               batch_norm_epsilon=self.batch_norm_epsilon,
                               kernel_initializer=self.kernel_initializer, name=name)

        # Level i (0 = full resolution): res{n}_1 (upper), res{n}_2 / res{n}_3 (lower).
        self.upper = [block(f"up{i}") for i in range(depth)]
        self.lower_in = [block(f"low_in{i}") for i in range(depth)]
        self.lower_out = [block(f"low_out{i}") for i in range(depth)]
        self.bottom = block("bottom")
        self.pool = keras.layers.MaxPooling2D(2, name="pool")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] != self.filters:
            raise ValueError(f"HIHHourglass takes (B, H, W, {self.filters}) input (channels = "
                             f"filters). Received: input_shape={input_shape}")
        factor = 2 ** self.depth
        for size in input_shape[1:3]:
            if size is None or size % factor:
                raise ValueError(f"HIHHourglass of depth {self.depth} needs H and W that are "
                                 f"multiples of {factor}. Received: input_shape={input_shape}")
        shape = input_shape
        for i in range(self.depth):
            self.upper[i].build(shape)
            shape = (shape[0], shape[1] // 2, shape[2] // 2, shape[3])
            self.lower_in[i].build(shape)
            self.lower_out[i].build(shape)
        self.bottom.build(shape)

    def _upsample(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        return ops.image.resize(inputs, (2 * height, 2 * width), interpolation=self.upsampling,
                                data_format="channels_last")

    def _level(self, inputs, level, training):
        upper = self.upper[level](inputs, training=training)
        lower = self.lower_in[level](self.pool(inputs), training=training)
        if level + 1 < self.depth:
            lower = self._level(lower, level + 1, training)
        else:
            lower = self.bottom(lower, training=training)
        lower = self.lower_out[level](lower, training=training)
        return upper + self._upsample(lower)

    def call(self, inputs, training=None):
        return self._level(inputs, 0, training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "depth": self.depth,
                       "upsampling": self.upsampling,
                       "batch_norm_momentum": self.batch_norm_momentum,
                       "batch_norm_epsilon": self.batch_norm_epsilon,
                       "kernel_initializer": self.kernel_initializer})
        return config
