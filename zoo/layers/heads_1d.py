"""The 1D heatmap heads of the attentive detector: CNN_1, co-attention, CNN_2 (Fig. 2a)."""
import keras
from keras import ops

from zoo.layers.co_attention import CoAttention


def check_heatmap_length(heatmap_length, feature_width):
    """Checks L against the feature width W and returns the deconvolution factor M.

    The transposed convolution with kernel = stride = M turns length W into ``L = M * W``, so
    for ``L >= W``, L must be a multiple of W. For ``L < W`` (e.g. L = 32 at W = 64) CNN_2 first
    compresses the kept axis by ``W / L`` with a strided convolution and M = 1, so W must then be
    a multiple of L.

    Args:
        heatmap_length: int, L, the number of bins of every 1D heatmap.
        feature_width: int, W, the width of the feature map the heads take.

    Returns:
        ``(M, kept_stride)``: the deconvolution kernel/stride and the stride CNN_2 applies
        along the kept axis (1 unless L < W).

    Example:
        >>> import zoo.layers.heads_1d
        >>> zoo.layers.heads_1d.check_heatmap_length(768, 64)
        (12, 1)
    """
    if not isinstance(heatmap_length, int) or isinstance(heatmap_length, bool) \
            or heatmap_length < 1:
        raise ValueError(
            f"`heatmap_length` must be a positive int. Received: heatmap_length={heatmap_length!r}"
        )
    if heatmap_length >= feature_width:
        if heatmap_length % feature_width:
            raise ValueError(
                f"`heatmap_length` L must be a multiple of the feature width W = "
                f"{feature_width} (the 1D deconvolution has kernel = stride = M = L / W), or a "
                f"divisor of it. Allowed e.g.: {[feature_width * k for k in (1, 2, 4, 6, 8, 12)]}. "
                f"Received: heatmap_length={heatmap_length}"
            )
        return heatmap_length // feature_width, 1
    if feature_width % heatmap_length:
        raise ValueError(
            f"`heatmap_length` L smaller than the feature width W = {feature_width} must divide "
            f"it (CNN_2 then compresses the kept axis by W / L). "
            f"Received: heatmap_length={heatmap_length}"
        )
    return 1, feature_width // heatmap_length


def transpose_conv_1d_as_matmul(inputs, layer):
    """A ``Conv1DTranspose`` with ``kernel_size <= strides`` computed as one matmul.

    With kernel size ``k`` no larger than the stride ``s`` (no padding: ``"valid"`` with
    ``k = s``, or ``"same"`` with ``k <= s``, whose padding ``max(k - s, 0)`` is 0) the output
    blocks do not overlap: ``out[i * s + t] = x[i] . kernel[t] + bias`` for ``t < k`` and
    ``bias`` for ``k <= t < s``. That is ``x (B*W, C) @ kernel (C, s*F)`` and a reshape with
    static sizes: the same values as ``layer(inputs)``, but Keras' TensorFlow transposed
    convolution computes its output shape from ``tf.shape`` at run time, which leaves a
    dynamic tensor (and everything after it) outside LiteRT's XNNPACK delegate.

    Args:
        inputs: ``(B, W, C)`` tensor with static W and C.
        layer: a built ``keras.layers.Conv1DTranspose`` (its kernel ``(k, F, C)``, bias,
            activation).

    Returns:
        ``(B, W * s, F)``, equal to ``layer(inputs)``.

    Example:
        >>> import keras, numpy as np
        >>> import zoo.layers.heads_1d
        >>> deconv = keras.layers.Conv1DTranspose(4, 3, strides=3)
        >>> x = np.random.rand(2, 5, 8).astype("float32")
        >>> y = deconv(x)
        >>> fast = zoo.layers.heads_1d.transpose_conv_1d_as_matmul(x, deconv)
        >>> bool(np.allclose(y, fast, atol=1e-5))
        True
    """
    kernel_size, stride = layer.kernel_size[0], layer.strides[0]
    if kernel_size > stride or (layer.padding == "valid" and kernel_size != stride) \
            or layer.dilation_rate[0] != 1 or layer.output_padding is not None:
        raise ValueError(
            "transpose_conv_1d_as_matmul needs kernel_size <= strides ('same') or kernel_size "
            f"== strides ('valid'), no dilation or output_padding. Received: "
            f"layer={layer.name} (kernel_size={kernel_size}, strides={stride}, "
            f"padding={layer.padding!r})")
    width, channels = inputs.shape[1], inputs.shape[2]
    kernel = layer.kernel  # (k, F, C)
    filters = kernel.shape[1]
    if stride > kernel_size:  # taps t >= k add nothing: zero kernel rows
        kernel = ops.concatenate(
            [kernel, ops.zeros((stride - kernel_size, filters, channels), kernel.dtype)],
            axis=0)
    # (s, F, C) -> (C, s * F): column t * F + f holds kernel[t, f, :].
    matrix = ops.reshape(ops.transpose(kernel, (2, 0, 1)), (channels, stride * filters))
    outputs = ops.matmul(ops.reshape(inputs, (-1, channels)), ops.cast(matrix, inputs.dtype))
    outputs = ops.reshape(outputs, (-1, width * stride, filters))
    if layer.use_bias:
        outputs = outputs + ops.cast(layer.bias, outputs.dtype)
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


def _conv_bn_relu(filters, kernel_size, strides, padding, separable, name):
    if separable and kernel_size not in (1, (1, 1)):
        # Depth-wise separable: TF's depth-wise convolution takes equal strides only, so the
        # (2, 1) / (1, 2) stride goes to the point-wise 1x1 convolution.
        convs = [keras.layers.DepthwiseConv2D(kernel_size, padding=padding, use_bias=False,
                                              name=f"{name}_depthwise"),
                 keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                     name=f"{name}_conv")]
    else:
        convs = [keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                                     use_bias=False, name=f"{name}_conv")]
    return convs + [keras.layers.BatchNormalization(name=f"{name}_bn"),
                    keras.layers.ReLU(name=f"{name}_relu")]


def _build_chain(layers, shape):
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


def _run_chain(layers, inputs, training):
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            inputs = layer(inputs, training=training)
        else:
            inputs = layer(inputs)
    return inputs


class _SqueezeAxis2(keras.layers.Layer):
    """``(B, m, 1, c) -> (B, m, c)`` with static sizes (``keras.layers.Reshape`` reads the
    batch size with ``ops.shape`` at run time, a dynamic tensor in LiteRT)."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1, inputs.shape[1], inputs.shape[3]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[3])


@keras.saving.register_keras_serializable(package="zoo")
class Heatmap1DHeads(keras.layers.Layer):
    """The x and y 1D heatmap heads with co-attention (the green and red boxes of Fig. 2a).

    From a square feature map ``F`` (B, H, W, C) (H = y, W = x):

    * CNN_1^x compresses F along y with ``compress_steps`` convolutions of stride (2, 1);
      CNN_1^y compresses along x with stride (1, 2). Their outputs, laid out (B, m, n, c) with
      m the kept axis and n = H / 2**compress_steps, are D^x and D^y.
    * ``zoo.layers.CoAttention(gamma)`` fuses them (Eq. 9-10) into D^x', D^y'.
    * CNN_2 removes the rest of the compressed axis with a (1, n) valid convolution, and a 1D
      transposed convolution with kernel = stride = M = L / W produces N heatmaps of length L.
      If L < W the kept axis is first compressed by W / L with a strided 1D convolution.

    Args:
        num_landmarks: int, N.
        heatmap_length: int, L (the paper: 3x the input size, 768 for 256).
        channels: int, channels of CNN_1 and CNN_2.
        compress_steps: int >= 0, stride-2 convolutions in CNN_1 (n = H / 2**steps).
        gamma: float >= 0, the co-attention weight of Eq. 10 (0 switches it off).
        separable: bool, depth-wise separable 3x3 convolutions in CNN_1 (mobile presets).
        **kwargs: standard layer arguments.

    Returns:
        A list ``[heatmaps_x, heatmaps_y]``, each ``(B, N, L)``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> heads = zoo.layers.Heatmap1DHeads(num_landmarks=5, heatmap_length=24, channels=8,
        ...                                   compress_steps=1, gamma=0.4)
        >>> hx, hy = heads(np.zeros((1, 8, 8, 16), "float32"))
        >>> tuple(hx.shape), tuple(hy.shape)
        ((1, 5, 24), (1, 5, 24))

    Reference:
        Yin et al., "Attentive One-Dimensional Heatmap Regression for Facial Landmark Detection
        and Tracking", ACM MM 2020, Section 4.1, Fig. 2a.
    """

    def __init__(self, num_landmarks, heatmap_length, channels=128, compress_steps=3,
                 gamma=0.4, separable=False, **kwargs):
        super().__init__(**kwargs)
        for arg, value, low in (("num_landmarks", num_landmarks, 1), ("channels", channels, 1),
                                ("compress_steps", compress_steps, 0),
                                ("heatmap_length", heatmap_length, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"`{arg}` must be an int >= {low}. Received: {arg}={value!r}")
        self.num_landmarks = num_landmarks
        self.heatmap_length = heatmap_length
        self.channels = channels
        self.compress_steps = compress_steps
        self.gamma = gamma
        self.separable = bool(separable)

        # CNN_1^x: stride along y (axis 1); CNN_1^y: stride along x (axis 2).
        self.cnn1_x, self.cnn1_y = [], []
        for i in range(compress_steps):
            self.cnn1_x += _conv_bn_relu(channels, 3, (2, 1), "same", separable, f"cnn1_x{i}")
            self.cnn1_y += _conv_bn_relu(channels, 3, (1, 2), "same", separable, f"cnn1_y{i}")
        self.co_attention = CoAttention(gamma, name="co_attention")
        self.cnn2_x = None  # built in build(): the kernel size depends on n
        self.cnn2_y = None

    def _cnn2(self, axis, compressed, kept_stride, factor):
        layers = _conv_bn_relu(self.channels, (1, compressed), 1, "valid", False,
                               f"cnn2_{axis}")
        layers.append(_SqueezeAxis2(name=f"cnn2_{axis}_squeeze"))
        if kept_stride > 1:
            layers += [
                keras.layers.Conv1D(self.channels, kept_stride, strides=kept_stride,
                                    use_bias=False, name=f"cnn2_{axis}_pool_conv"),
                keras.layers.BatchNormalization(name=f"cnn2_{axis}_pool_bn"),
                keras.layers.ReLU(name=f"cnn2_{axis}_pool_relu"),
            ]
        # The deconvolution module: kernel = stride = M, so L = M * W.
        layers.append(keras.layers.Conv1DTranspose(self.num_landmarks, factor, strides=factor,
                                                   name=f"cnn2_{axis}_deconv"))
        return layers

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[1] != input_shape[2]:
            raise ValueError(
                "Heatmap1DHeads takes a square feature map (B, H, W, C) with static H = W. "
                f"Received: input_shape={input_shape}"
            )
        size = input_shape[1]
        if size % (2 ** self.compress_steps):
            raise ValueError(
                f"The feature size {size} must be a multiple of 2**compress_steps = "
                f"{2 ** self.compress_steps}. Received: input_shape={input_shape}"
            )
        factor, kept_stride = check_heatmap_length(self.heatmap_length, size)
        compressed = size // 2 ** self.compress_steps
        shape_x = _build_chain(self.cnn1_x, input_shape)  # (B, n, W, c)
        shape_y = _build_chain(self.cnn1_y, input_shape)  # (B, H, n, c)
        shape_x = (shape_x[0], shape_x[2], shape_x[1], shape_x[3])  # (B, m = W, n, c)
        self.co_attention.build([shape_x, shape_y])
        self.cnn2_x = self._cnn2("x", compressed, kept_stride, factor)
        self.cnn2_y = self._cnn2("y", compressed, kept_stride, factor)
        _build_chain(self.cnn2_x, shape_x)
        _build_chain(self.cnn2_y, shape_y)

    def call(self, inputs, training=None):
        # CNN_1: D^x keeps x, D^y keeps y; both laid out (B, m, n, c).
        d_x = ops.transpose(_run_chain(self.cnn1_x, inputs, training), (0, 2, 1, 3))
        d_y = _run_chain(self.cnn1_y, inputs, training)
        # Eq. 9-10: co-attention between D^x and D^y.
        d_x, d_y = self.co_attention([d_x, d_y])
        # CNN_2, then the deconvolution (kernel = stride = M, L = M * W) as one matmul with
        # static shapes: (B, W, c) -> (B, L, N) -> (B, N, L).
        heatmaps = []
        for chain, features in ((self.cnn2_x, d_x), (self.cnn2_y, d_y)):
            hidden = _run_chain(chain[:-1], features, training)
            heatmaps.append(ops.transpose(transpose_conv_1d_as_matmul(hidden, chain[-1]),
                                          (0, 2, 1)))
        return heatmaps

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.num_landmarks, self.heatmap_length)
        return [shape, shape]

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_landmarks": self.num_landmarks,
            "heatmap_length": self.heatmap_length,
            "channels": self.channels,
            "compress_steps": self.compress_steps,
            "gamma": self.gamma,
            "separable": self.separable,
        })
        return config
