"""``CrossTaskFusion``: RDFN's cross-task feature fusion (global channel + spatial attention)."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class CrossTaskFusion(keras.layers.Layer):
    """Fuses region-detection features into the localisation branch, weighted by attention.

    The abstract of RDFN: "a cross-task feature fusion scheme to extract multi-semantic region
    features while trading off their importance in different dimensions via global channel
    attention and global spatial attention". Designed here (the paper's text is not available)
    as CBAM-style attention over the concatenation of the two tasks' region features:

    1. ``z = concat(localisation, region)`` (``C_l + C_r`` channels: the "multi-semantic"
       region features, both pooled from the detected region);
    2. global channel attention: ``a = sigmoid(MLP(avgpool(z)) + MLP(maxpool(z)))`` over the
       whole map (a shared two-layer MLP with ``reduction``), ``z <- z * a``: how much each
       task's channels count;
    3. global spatial attention: ``s = sigmoid(conv_k([mean_c(z), max_c(z)]))``, a ``k x k``
       convolution of the channel-pooled maps, ``z <- z * s``: where in the region they count;
    4. ``out = relu(bn(conv1x1(z))) + skip(localisation)`` (a 1x1 projection when the widths
       differ): a residual on the localisation branch, so the fusion can start as identity.

    Args:
        filters: int, output channels.
        reduction: int >= 1, channel reduction of the attention MLP.
        spatial_kernel: odd int, kernel size ``k`` of the spatial attention.
        **kwargs: standard layer arguments.

    Returns (from ``call([localisation (B, H, W, C_l), region (B, H, W, C_r)])``):
        ``(B, H, W, filters)``.

    Example:
        >>> import numpy as np
        >>> import zoo.layers
        >>> fusion = zoo.layers.CrossTaskFusion(16, reduction=4)
        >>> out = fusion([np.ones((1, 8, 8, 16), "float32"), np.ones((1, 8, 8, 6), "float32")])
        >>> tuple(out.shape)
        (1, 8, 8, 16)

    Reference:
        Lin & Liang, "Region-Aware Deep Feature-Fused Network for Robust Facial Landmark
        Localization", Mathematics 11(19) 4026, 2023 (abstract); Woo et al., "CBAM:
        Convolutional Block Attention Module", ECCV 2018.
    """

    def __init__(self, filters, reduction=16, spatial_kernel=7, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("filters", filters), ("reduction", reduction)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
        if not isinstance(spatial_kernel, int) or isinstance(spatial_kernel, bool) \
                or spatial_kernel < 1 or spatial_kernel % 2 == 0:
            raise ValueError(f"`spatial_kernel` must be an odd int >= 1. "
                             f"Received: spatial_kernel={spatial_kernel!r}")
        self.filters = filters
        self.reduction = reduction
        self.spatial_kernel = spatial_kernel
        self.channel_hidden = None
        self.channel_out = None
        self.spatial_conv = keras.layers.Conv2D(1, spatial_kernel, padding="same",
                                                name="spatial_conv")
        self.project = keras.layers.Conv2D(filters, 1, use_bias=False, name="project")
        self.project_norm = keras.layers.BatchNormalization(name="project_bn")
        self.skip = None

    def build(self, input_shape):
        localisation_shape, region_shape = (tuple(s) for s in input_shape)
        if len(localisation_shape) != 4 or len(region_shape) != 4 \
                or tuple(localisation_shape[1:3]) != tuple(region_shape[1:3]):
            raise ValueError("CrossTaskFusion takes two (B, H, W, C) maps of the same H, W. "
                             f"Received: shapes={localisation_shape}, {region_shape}")
        channels = localisation_shape[-1] + region_shape[-1]
        hidden = max(1, channels // self.reduction)
        # The attention MLP's widths are the input channels, known only here: its two Dense
        # layers are the one exception to creating sublayers in __init__.
        self.channel_hidden = keras.layers.Dense(hidden, activation="relu", name="channel_hidden")
        self.channel_out = keras.layers.Dense(channels, name="channel_out")
        self.channel_hidden.build((None, channels))
        self.channel_out.build((None, hidden))
        joint = tuple(localisation_shape[:-1]) + (channels,)
        self.spatial_conv.build(tuple(localisation_shape[:-1]) + (2,))
        self.project.build(joint)
        self.project_norm.build(tuple(localisation_shape[:-1]) + (self.filters,))
        if localisation_shape[-1] != self.filters:
            self.skip = keras.layers.Conv2D(self.filters, 1, use_bias=False, name="skip")
            self.skip.build(localisation_shape)

    def _channel_mlp(self, pooled):
        return self.channel_out(self.channel_hidden(pooled))

    def call(self, inputs, training=None):
        localisation, region = inputs
        joint = ops.concatenate([localisation, region], axis=-1)
        # Global channel attention: pooled over the whole map, (B, C) -> Dense on 2-D tensors
        # (ONNX-safe, see TOOLCHAIN.md).
        channel = ops.sigmoid(self._channel_mlp(ops.mean(joint, axis=(1, 2)))
                              + self._channel_mlp(ops.max(joint, axis=(1, 2))))
        joint = joint * channel[:, None, None, :]
        # Global spatial attention: pooled over all channels.
        pooled = ops.concatenate([ops.mean(joint, axis=-1, keepdims=True),
                                  ops.max(joint, axis=-1, keepdims=True)], axis=-1)
        joint = joint * ops.sigmoid(self.spatial_conv(pooled))
        fused = ops.relu(self.project_norm(self.project(joint), training=training))
        skip = localisation if self.skip is None else self.skip(localisation)
        return fused + skip

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "reduction": self.reduction,
                       "spatial_kernel": self.spatial_kernel})
        return config
