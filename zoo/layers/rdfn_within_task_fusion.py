"""``WithinTaskFusion``: RDFN's within-task feature fusion (dense multi-scale aggregation)."""
import keras
from keras import ops


def _conv(filters, kernel_size, separable, name):
    if separable and kernel_size != 1:
        return keras.layers.SeparableConv2D(filters, kernel_size, padding="same", use_bias=False,
                                            name=name)
    return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=name)


@keras.saving.register_keras_serializable(package="zoo")
class WithinTaskFusion(keras.layers.Layer):
    """Multi-scale context with short gradient paths for the localisation subnetwork.

    The abstract of RDFN: "a within-task feature fusion scheme to capture the multi-scale
    context and improve the gradient flow for the landmark localization subnetwork". Designed
    here as a densely connected stack of multi-scale blocks:

    * block ``k`` reads ``concat(x, y_1, ..., y_{k-1})`` (dense connections, DenseNet) through
      a 1x1 transition ``t_k`` (BN, ReLU, conv) to ``filters`` channels;
    * it has one branch per scale ``s`` in ``scales``: ``s x s`` average pooling, a 3x3 conv
      (BN, ReLU), bilinear upsampling back by ``s`` (``s = 1``: no pooling); the branches are
      summed and added to ``t_k``: ``y_k = t_k + sum_s up_s(conv(pool_s(t_k)))``, so context
      from ``s`` times the receptive field enters every block (multi-scale context);
    * the output is ``x + conv1x1(concat(y_1, ..., y_K))``: every block is one 1x1 convolution
      away from the output and the input one addition away (short gradient paths).

    Args:
        filters: int, channels of the input, of every block and of the output.
        num_blocks: int >= 1, ``K``.
        scales: tuple of ints >= 1, the branch scales (H and W must be multiples of each).
        separable: bool, depth-wise separable 3x3 convolutions (small presets).
        **kwargs: standard layer arguments.

    Returns:
        ``(B, H, W, filters)``.

    Example:
        >>> import numpy as np
        >>> import zoo.layers
        >>> fusion = zoo.layers.WithinTaskFusion(16, num_blocks=2, scales=(1, 2))
        >>> tuple(fusion(np.zeros((1, 8, 8, 16), "float32")).shape)
        (1, 8, 8, 16)

    Reference:
        Lin & Liang, Mathematics 11(19) 4026, 2023 (abstract); Huang et al., "Densely
        Connected Convolutional Networks", CVPR 2017.
    """

    def __init__(self, filters, num_blocks=4, scales=(1, 2, 4), separable=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ValueError(f"`filters` must be an int >= 1. Received: filters={filters!r}")
        if not isinstance(num_blocks, int) or isinstance(num_blocks, bool) or num_blocks < 1:
            raise ValueError(f"`num_blocks` must be an int >= 1. Received: num_blocks={num_blocks!r}")
        try:
            scales = tuple(int(s) for s in scales)
        except (TypeError, ValueError):
            scales = ()
        if not scales or min(scales) < 1 or len(set(scales)) != len(scales):
            raise ValueError(f"`scales` must be distinct ints >= 1. Received: scales={scales!r}")
        self.filters = filters
        self.num_blocks = num_blocks
        self.scales = scales
        self.separable = bool(separable)
        self.transition_norms = [keras.layers.BatchNormalization(name=f"t{k}_bn")
                                 for k in range(num_blocks)]
        self.transitions = [keras.layers.Conv2D(filters, 1, use_bias=False, name=f"t{k}_conv")
                            for k in range(num_blocks)]
        self.branch_convs = [[_conv(filters, 3, self.separable, name=f"b{k}_s{s}_conv")
                              for s in scales] for k in range(num_blocks)]
        self.branch_norms = [[keras.layers.BatchNormalization(name=f"b{k}_s{s}_bn")
                              for s in scales] for k in range(num_blocks)]
        self.aggregate = keras.layers.Conv2D(filters, 1, use_bias=False, name="aggregate")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] != self.filters:
            raise ValueError(f"WithinTaskFusion takes (B, H, W, {self.filters}) input. "
                             f"Received: input_shape={input_shape}")
        for size in input_shape[1:3]:
            if size is None or any(size % s for s in self.scales):
                raise ValueError(f"H and W must be multiples of every scale {self.scales}. "
                                 f"Received: input_shape={input_shape}")
        height, width = input_shape[1], input_shape[2]
        channels = self.filters
        for k in range(self.num_blocks):
            shape = (None, height, width, channels)
            self.transition_norms[k].build(shape)
            self.transitions[k].build(shape)
            for s, conv, norm in zip(self.scales, self.branch_convs[k], self.branch_norms[k]):
                pooled = (None, height // s, width // s, self.filters)
                conv.build(pooled)
                norm.build(pooled)
            channels += self.filters
        self.aggregate.build((None, height, width, self.filters * self.num_blocks))

    def call(self, inputs, training=None):
        height, width = inputs.shape[1], inputs.shape[2]
        features = [inputs]
        outputs = []
        for k in range(self.num_blocks):
            joint = features[0] if len(features) == 1 else ops.concatenate(features, axis=-1)
            transition = self.transitions[k](
                ops.relu(self.transition_norms[k](joint, training=training)))
            block = transition
            for s, conv, norm in zip(self.scales, self.branch_convs[k], self.branch_norms[k]):
                hidden = transition if s == 1 else ops.average_pool(
                    transition, s, strides=s, padding="valid", data_format="channels_last")
                hidden = ops.relu(norm(conv(hidden), training=training))
                if s > 1:
                    hidden = ops.image.resize(hidden, (height, width), interpolation="bilinear",
                                              data_format="channels_last")
                block = block + hidden
            features.append(block)
            outputs.append(block)
        joint = outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)
        return inputs + self.aggregate(joint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "num_blocks": self.num_blocks,
                       "scales": list(self.scales), "separable": self.separable})
        return config
