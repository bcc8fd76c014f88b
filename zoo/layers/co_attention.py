"""Co-attention between the x and y branches of the 1D heatmap heads (Eq. 9-10 of the paper)."""
import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class CoAttention(keras.layers.Layer):
    """Co-attention between the x-branch and y-branch features, Eq. 9-10.

    Both inputs are laid out ``(B, m, n, C)``: ``m`` positions along the axis the branch keeps
    (x for the x-branch, y for the y-branch), ``n`` the compressed other axis, ``C`` channels.
    For each channel ``k`` let ``X = D^x_k`` (m x n) and ``Y = (D^y_k)^T`` (m x n, the y-branch
    slice in the same layout). Then

    ``X' = X + gamma * softmax(X Q Y^T / sqrt(n)) Y``  (Eq. 9 ``W^yx``, Eq. 10 ``D^x'``)
    ``Y' = Y + gamma * softmax(Y P X^T / sqrt(n)) X``  (Eq. 9 ``W^xy``, Eq. 10 ``D^y'``)

    with the softmax over each row and ``P``, ``Q`` trainable ``(n, n)`` matrices shared by the
    channels (weights ``p`` and ``q``). ``gamma = 0`` switches the module off (the paper's
    ablation, Fig. 3). Only matmul, transpose, reshape and softmax are used, so the layer
    exports to TFLite and ONNX.

    Args:
        gamma: float >= 0, the weight of the attentive feature (Eq. 10). The paper uses 0.4 on
            300W and 300VW and 0.5 on AFLW.
        **kwargs: standard layer arguments (``name``, ``dtype``, ...).

    Returns:
        A list ``[x_out, y_out]`` with the shapes of the inputs.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> layer = zoo.layers.CoAttention(gamma=0.4)
        >>> dx = np.random.rand(2, 64, 8, 16).astype("float32")
        >>> dy = np.random.rand(2, 64, 8, 16).astype("float32")
        >>> x_out, y_out = layer([dx, dy])
        >>> tuple(x_out.shape)
        (2, 64, 8, 16)

    Reference:
        Yin et al., "Attentive One-Dimensional Heatmap Regression for Facial Landmark Detection
        and Tracking", ACM MM 2020, Section 4.1, Eq. 9-10.
    """

    def __init__(self, gamma=0.4, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or gamma < 0 \
                or not math.isfinite(gamma):
            raise ValueError(
                f"`gamma` must be a finite float >= 0 (0 switches co-attention off). "
                f"Received: gamma={gamma!r}"
            )
        self.gamma = float(gamma)

    def _check_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "CoAttention takes a list of two tensors [x_features, y_features]. "
                f"Received: input_shape={input_shape}"
            )
        x_shape, y_shape = (tuple(s) for s in input_shape)
        if len(x_shape) != 4 or x_shape[1:] != y_shape[1:]:
            raise ValueError(
                "CoAttention needs two 4D inputs of the same shape (B, m, n, C) (a square "
                "feature map compressed equally on both branches). "
                f"Received: input_shape={input_shape}"
            )
        if any(d is None for d in x_shape[1:]):
            raise ValueError(
                f"CoAttention needs static m, n, C. Received: input_shape={input_shape}"
            )
        return x_shape

    def build(self, input_shape):
        x_shape = self._check_shapes(input_shape)
        n = x_shape[2]
        # P and Q of Eq. 9: (n x n), d = n columns, shared by all channels.
        self.p = self.add_weight(name="p", shape=(n, n), initializer="glorot_uniform")
        self.q = self.add_weight(name="q", shape=(n, n), initializer="glorot_uniform")

    def _attend(self, a, b, weight, n):
        """Returns softmax(A W B^T / sqrt(n)) B for A, B of shape (B, C, m, n)."""
        # A W as a 2D matmul (avoids the N-D x 2-D tensordot lowering, TOOLCHAIN.md). The
        # reshape back uses the static (C, m, n) (no Shape/StridedSlice/Pack ops in LiteRT).
        a_weight = ops.reshape(ops.matmul(ops.reshape(a, (-1, n)), weight),
                               (-1,) + tuple(a.shape[1:]))
        affinity = ops.matmul(a_weight, ops.transpose(b, (0, 1, 3, 2))) / math.sqrt(n)
        affinity = ops.softmax(affinity, axis=-1)  # Eq. 9: softmax over each row
        return ops.matmul(affinity, b)

    def call(self, inputs):
        x_features, y_features = inputs
        if self.gamma == 0.0:
            # Ablation (Fig. 3, gamma = 0): the module is discarded.
            return [x_features, y_features]
        n = x_features.shape[2]
        # (B, m, n, C) -> (B, C, m, n): one (m x n) matrix per channel k.
        x_mat = ops.transpose(x_features, (0, 3, 1, 2))
        y_mat = ops.transpose(y_features, (0, 3, 1, 2))
        # Eq. 10: D^x' = D^x + gamma * W^yx (D^y)^T, W^yx = softmax(D^x Q D^y / sqrt(d))
        x_out = x_mat + self.gamma * self._attend(x_mat, y_mat, self.q, n)
        # Eq. 10: D^y' = D^y + gamma * (W^xy D^x)^T, W^xy = softmax((D^y)^T P (D^x)^T / sqrt(d))
        y_out = y_mat + self.gamma * self._attend(y_mat, x_mat, self.p, n)
        return [ops.transpose(x_out, (0, 2, 3, 1)), ops.transpose(y_out, (0, 2, 3, 1))]

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        return [tuple(input_shape[0]), tuple(input_shape[1])]

    def get_config(self):
        config = super().get_config()
        config.update({"gamma": self.gamma})
        return config
