"""Temporal refinement of detected heatmaps (the tracker of the 1D-heatmap paper, Sec. 4.2).

The detected heatmaps of frame t, ``E_t`` (one axis: ``(N, L)``; or 2D heatmaps ``(H, W, N)``),
are encoded by CNN_3 to features ``U_t``; past frames are fused in feature space,

    V_t = U_t + sum_{tau < t} lambda^(t - tau) U_tau          (Eq. 13)
        = U_t + lambda * V_{t-1},  V_0 = 0                     (its recursive form)

CNN_4 decodes ``V_t`` to a refinement ``E'_t`` and the output is ``E_t + E'_t``. CNN_3's
strided convolution has a kernel at least as long as its stride, so every heatmap bin reaches
the state and every bin of ``E'_t`` is decoded from it (no bin is left unrefined).

Three forms share one :class:`TemporalRefinementCell` (and so one set of weights):

* clips ``(B, T, ...)``: :class:`TemporalRefinement` (``keras.layers.RNN`` over T, with an
  ``unroll`` option for a fixed T, which export needs: no while loop in TFLite/int8);
* video streaming: ``TemporalRefinement(stateful=True)`` keeps ``V`` in a variable between
  calls, ``reset_state()`` starts a new video (batch size must be static);
* explicit state, one frame per call (for ONNX, which drops stateful updates):
  ``output, [new_state] = layer.cell(frame_heatmaps, [state])``, with
  ``layer.cell.get_initial_state(batch_size)`` giving zeros.

State bound: CNN_3 ends in ``tanh``, so every entry of ``U_t`` lies in [-1, 1] and, for
``lambda < 1``, every entry of ``V_t`` lies in ``[-1/(1-lambda), 1/(1-lambda)]``; the Euclidean
norm of ``V_t`` (per sample) is at most ``sqrt(D) / (1 - lambda)`` with ``D`` the state size,
for any input and any video length. With ``lambda = 1`` (allowed by the paper) the bound grows
as ``t``. With ``identity=True`` the inputs themselves must be bounded.
"""
import math

import keras
from keras import ops

from zoo.layers.heads_1d import transpose_conv_1d_as_matmul


def conv_1d_as_conv_2d(inputs, layer):
    """A built ``keras.layers.Conv1D`` computed as a 2D convolution over ``(B, 1, L, C)``.

    The same values as ``layer(inputs)`` (TensorFlow runs a 1D convolution as this very 2D
    one), but the extra axis is made with static-size reshapes instead of the ``ExpandDims``
    of TensorFlow's ``conv1d``: LiteRT's XNNPACK delegate does not take EXPAND_DIMS, and each
    one splits the exported graph (issue 13: 6 in the tracker step's refinement).

    Args:
        inputs: ``(B, L, C)`` tensor with static L and C.
        layer: a built ``Conv1D`` (channels last, ``"same"`` or ``"valid"`` padding, one group).

    Returns:
        ``(B, L', F)``, equal to ``layer(inputs)``.

    Example:
        >>> import keras, numpy as np
        >>> from zoo.layers.temporal_refinement import conv_1d_as_conv_2d
        >>> conv = keras.layers.Conv1D(4, 3, strides=2, padding="same", activation="relu")
        >>> x = np.random.rand(2, 10, 8).astype("float32")
        >>> bool(np.allclose(conv(x), conv_1d_as_conv_2d(x, conv), atol=1e-6))
        True
    """
    if layer.padding not in ("same", "valid") or layer.groups != 1 \
            or layer.data_format != "channels_last":
        raise ValueError(
            "conv_1d_as_conv_2d needs a channels-last Conv1D with 'same' or 'valid' padding "
            f"and one group. Received: layer={layer.name} (padding={layer.padding!r}, "
            f"groups={layer.groups}, data_format={layer.data_format!r})")
    length, channels = inputs.shape[1], inputs.shape[2]
    kernel = ops.cast(layer.kernel, inputs.dtype)  # (k, C, F)
    outputs = ops.conv(ops.reshape(inputs, (-1, 1, length, channels)),
                       ops.reshape(kernel, (1,) + tuple(kernel.shape)),
                       strides=(1, layer.strides[0]), padding=layer.padding,
                       dilation_rate=(1, layer.dilation_rate[0]))
    outputs = ops.reshape(outputs, (-1, outputs.shape[2], outputs.shape[3]))
    if layer.use_bias:
        outputs = outputs + ops.cast(layer.bias, outputs.dtype)
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_decay(decay):
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay <= 1.0:
        raise ValueError(f"`decay` (lambda of Eq. 13) must be a number in [0, 1]. "
                         f"Received: decay={decay!r}")


@keras.saving.register_keras_serializable(package="zoo")
class TemporalRefinementCell(keras.layers.Layer):
    """One step of the temporal refinement: ``(E_t, [V_{t-1}]) -> (E_t + E'_t, [V_t])``.

    1D heatmaps (``rank=1``), per step ``(B, N, L)``: landmarks are channels and CNN_3 is a
    strided ``Conv1D`` over L (``L -> L / downsample``) followed by a ``Conv1D`` with ``tanh``;
    CNN_4 is a ``Conv1DTranspose`` back to L and a 1x1 ``Conv1D`` to N channels. 2D heatmaps
    (``rank=2``), per step ``(B, H, W, N)`` channels last: the same with 2D convolutions (the
    recurrent refinement of the 2D baseline tracker).

    Args:
        decay: lambda of Eq. 13, in [0, 1]. 0 removes temporal information (paper ablation);
            the paper's cross-validated value is 0.3.
        filters: channels of the feature ``U_t`` / state ``V_t``.
        kernel_size: kernel size of every convolution.
        downsample: stride of CNN_3 (and of CNN_4's transposed convolution); the heatmap
            length (rank 1) or height and width (rank 2) must be divisible by it, and it must
            not exceed ``kernel_size``: with a stride larger than the kernel, CNN_3 never
            reads some bins (kernel 3, stride 4: bins 4i+3) and CNN_4 writes only its bias
            there, so those bins could not be refined over time.
        rank: 1 for per-axis 1D heatmaps ``(N, L)``, 2 for 2D heatmaps ``(H, W, N)``.
        identity: replace CNN_3 and CNN_4 by identity maps (``U_t = E_t``, ``E'_t = V_t``);
            used to check Eq. 13 in closed form. The state then has the heatmap's shape.
        output_initializer: initializer of CNN_4's last (1x1) kernel. The default ``"zeros"``
            makes a fresh tracker output exactly the detector's heatmaps, so training starts
            from the detector checkpoint's accuracy.
        **kwargs: passed to ``keras.layers.Layer``.

    Returns:
        Called as ``cell(inputs, states)`` with ``states = [V_{t-1}]``: a tuple
        ``(refined heatmaps, [V_t])``; refined heatmaps have the input's shape.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> cell = zoo.layers.TemporalRefinementCell(decay=0.3, filters=8)
        >>> heatmaps = np.random.rand(2, 68, 64).astype("float32")
        >>> state = cell.get_initial_state(batch_size=2, input_shape=heatmaps.shape)[0]
        >>> refined, [state] = cell(heatmaps, [state])
        >>> refined.shape, state.shape
        (TensorShape([2, 68, 64]), TensorShape([2, 32, 8]))

    Reference:
        Yin et al., "Attentive One-Dimensional Heatmap Regression for Facial Landmark
        Detection and Tracking", ACM MM 2020, Sec. 4.2, Fig. 2b, Eq. 13.
    """

    def __init__(self, decay=0.3, filters=32, kernel_size=3, downsample=2, rank=1,
                 identity=False, output_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        _check_decay(decay)
        _check_positive_int("filters", filters)
        _check_positive_int("kernel_size", kernel_size)
        _check_positive_int("downsample", downsample)
        if not identity and kernel_size < downsample:
            # Every bin must reach U_t (and be written from V_t): a stride larger than the
            # kernel skips bins (kernel 3, stride 4 never reads bins 4i+3).
            raise ValueError(
                "`kernel_size` must be >= `downsample`, or CNN_3 skips heatmap bins and CNN_4 "
                "writes only a constant there. Received: "
                f"kernel_size={kernel_size}, downsample={downsample}")
        if rank not in (1, 2):
            raise ValueError(f"`rank` must be 1 or 2. Received: rank={rank!r}")
        if not isinstance(identity, bool):
            raise ValueError(f"`identity` must be a bool. Received: identity={identity!r}")
        self.decay = float(decay)
        self.filters = filters
        self.kernel_size = kernel_size
        self.downsample = downsample
        self.rank = rank
        self.identity = identity
        self.output_initializer = keras.initializers.serialize(
            keras.initializers.get(output_initializer))
        self.state_shape = None
        self.output_projection = None
        if not identity:
            conv = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
            conv_transpose = (keras.layers.Conv1DTranspose if rank == 1
                              else keras.layers.Conv2DTranspose)
            # CNN_3: heatmaps -> U_t; tanh keeps every entry of U_t in [-1, 1] (state bound).
            self.encoder_down = conv(filters, kernel_size, strides=downsample, padding="same",
                                     activation="relu", name="cnn3_down")
            self.encoder_out = conv(filters, kernel_size, padding="same", activation="tanh",
                                    name="cnn3_out")
            # CNN_4: V_t -> E'_t (the 1x1 projection to N channels is made in build()).
            self.decoder_up = conv_transpose(filters, kernel_size, strides=downsample,
                                             padding="same", activation="relu", name="cnn4_up")

    # The feature/state shape depends on the heatmap shape, known at build time.
    def _heatmap_dims(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"TemporalRefinementCell(rank={self.rank}) expects per-frame heatmaps of rank "
                f"{self.rank + 2} ((B, N, L) or (B, H, W, N)). Received: input_shape={input_shape}")
        dims = input_shape[1:]
        if any(d is None for d in dims):
            raise ValueError(
                f"Heatmap dimensions must be static. Received: input_shape={input_shape}")
        return dims

    def compute_state_shape(self, input_shape):
        """Shape of ``V_t`` without the batch axis, for per-frame heatmaps ``input_shape``."""
        dims = self._heatmap_dims(input_shape)
        if self.identity:
            return tuple(dims)
        spatial = (dims[1],) if self.rank == 1 else tuple(dims[:2])
        for size in spatial:
            if size % self.downsample:
                raise ValueError(
                    f"Heatmap size must be divisible by `downsample`={self.downsample}. "
                    f"Received: input_shape={tuple(input_shape)}")
        return tuple(s // self.downsample for s in spatial) + (self.filters,)

    def build(self, inputs_shape, states_shape=None):
        dims = self._heatmap_dims(inputs_shape)
        self.state_shape = self.compute_state_shape(inputs_shape)
        if self.identity:
            return
        num_channels = dims[0] if self.rank == 1 else dims[-1]
        spatial = (dims[1],) if self.rank == 1 else tuple(dims[:2])
        features_shape = (None,) + spatial + (num_channels,)
        self.encoder_down.build(features_shape)
        down_shape = self.encoder_down.compute_output_shape(features_shape)
        self.encoder_out.build(down_shape)
        self.decoder_up.build((None,) + self.state_shape)
        up_shape = self.decoder_up.compute_output_shape((None,) + self.state_shape)
        conv = keras.layers.Conv1D if self.rank == 1 else keras.layers.Conv2D
        self.output_projection = conv(
            num_channels, 1, kernel_initializer=keras.initializers.get(self.output_initializer),
            name="cnn4_out")
        self.output_projection.build(up_shape)

    @property
    def state_size(self):
        """Number of entries of ``V_t`` per sample (``keras.layers.RNN`` bookkeeping)."""
        if self.state_shape is None:
            raise AttributeError("TemporalRefinementCell.state_size is known after build().")
        return int(math.prod(self.state_shape))

    def get_initial_state(self, batch_size, input_shape=None):
        """Zero state ``V_0``, shape ``(batch_size, *state_shape)``.

        Args:
            batch_size: int or scalar tensor.
            input_shape: per-frame heatmap shape (batch first); needed only before build.

        Returns:
            A list with one zero tensor (the ``keras.layers.RNN`` convention).
        """
        shape = self.state_shape if input_shape is None else self.compute_state_shape(input_shape)
        if shape is None:
            raise ValueError(
                "Pass `input_shape` or build the cell first. Received: input_shape=None")
        return [ops.zeros((batch_size,) + tuple(shape), dtype=self.compute_dtype)]

    def _to_channels_last(self, heatmaps):
        # (B, N, L) -> (B, L, N): landmarks are the channels of CNN_3/CNN_4.
        return ops.transpose(heatmaps, (0, 2, 1)) if self.rank == 1 else heatmaps

    def _from_channels_last(self, features):
        return ops.transpose(features, (0, 2, 1)) if self.rank == 1 else features

    def _conv(self, layer, inputs, training):
        if self.rank == 1:
            # Same values as layer(inputs); no EXPAND_DIMS in LiteRT graphs.
            return conv_1d_as_conv_2d(inputs, layer)
        return layer(inputs, training=training)

    def call(self, inputs, states, training=None):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        if self.identity:
            encoded = inputs
        else:
            encoded = self._conv(self.encoder_down, self._to_channels_last(inputs), training)
            encoded = self._conv(self.encoder_out, encoded, training)  # U_t, entries in [-1, 1]
        # Eq. 13, recursive form: V_t = U_t + lambda * V_{t-1}.
        state = encoded + self.decay * previous
        if self.identity:
            refinement = state
        else:
            if self.rank == 1 and self.kernel_size <= self.downsample:
                # Same values as decoder_up(state); static shapes for LiteRT/XNNPACK.
                refinement = transpose_conv_1d_as_matmul(state, self.decoder_up)
            else:
                refinement = self.decoder_up(state, training=training)
            refinement = self._from_channels_last(
                self._conv(self.output_projection, refinement, training))  # E'_t
        return inputs + refinement, [state]

    def compute_output_shape(self, inputs_shape, states_shape=None):
        input_shape = tuple(inputs_shape)
        state_shape = (input_shape[0],) + self.compute_state_shape(input_shape)
        return input_shape, [state_shape]

    def get_config(self):
        config = super().get_config()
        config.update({
            "decay": self.decay,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "downsample": self.downsample,
            "rank": self.rank,
            "identity": self.identity,
            "output_initializer": self.output_initializer,
        })
        return config


@keras.saving.register_keras_serializable(package="zoo")
class TemporalRefinement(keras.layers.Layer):
    """Temporal refinement over clips ``(B, T, ...)``: an RNN of :class:`TemporalRefinementCell`.

    Args:
        decay: lambda of Eq. 13, in [0, 1].
        filters: channels of ``U_t``/``V_t``.
        kernel_size: kernel size of every convolution of CNN_3/CNN_4.
        downsample: stride of CNN_3 over the heatmap axis (axes); at most ``kernel_size``
            (so every bin is read and written).
        rank: 1 for clips of per-axis 1D heatmaps ``(B, T, N, L)``, 2 for 2D heatmaps
            ``(B, T, H, W, N)``.
        identity: CNN_3 and CNN_4 are identity maps (tests of Eq. 13).
        output_initializer: initializer of CNN_4's last kernel (``"zeros"``: output = input
            before training).
        stateful: keep ``V`` between calls (video streaming; static batch size needed);
            :meth:`reset_state` starts a new video.
        unroll: unroll the recursion over a static T (no while loop: needed for dynamic-batch
            TFLite and full-int8 export).
        return_state: also return the last state ``V_T`` (shape ``(B, *state_shape)``).
        **kwargs: passed to ``keras.layers.Layer``.

    Returns:
        Called on heatmap clips (and optionally ``initial_state``): refined heatmaps with the
        input's shape, and ``V_T`` if ``return_state``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> layer = zoo.layers.TemporalRefinement(decay=0.3, filters=8)
        >>> clips = np.random.rand(2, 5, 68, 64).astype("float32")
        >>> layer(clips).shape
        TensorShape([2, 5, 68, 64])
        >>> step = layer.cell  # explicit-state single step, same weights
        >>> state = step.get_initial_state(batch_size=2)[0]
        >>> refined, [state] = step(clips[:, 0], [state])

    Reference:
        Yin et al., ACM MM 2020, Sec. 4.2, Eq. 13.
    """

    def __init__(self, decay=0.3, filters=32, kernel_size=3, downsample=2, rank=1,
                 identity=False, output_initializer="zeros", stateful=False, unroll=False,
                 return_state=False, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("stateful", stateful), ("unroll", unroll),
                            ("return_state", return_state)):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
        self.decay = float(decay) if not isinstance(decay, bool) else decay
        self.filters = filters
        self.kernel_size = kernel_size
        self.downsample = downsample
        self.rank = rank
        self.identity = identity
        self.stateful = stateful
        self.unroll = unroll
        self.return_state = return_state
        self.cell = TemporalRefinementCell(
            decay=decay, filters=filters, kernel_size=kernel_size, downsample=downsample,
            rank=rank, identity=identity, output_initializer=output_initializer,
            name=f"{self.name}_cell")
        self.output_initializer = self.cell.output_initializer
        # keras.layers.RNN reads the cell's state size in its constructor, and the state size
        # follows from the heatmap shape; so the RNN wrapper is made in build().
        self.rnn = None

    def build(self, inputs_shape, initial_state_shape=None):
        input_shape = tuple(inputs_shape)
        if len(input_shape) != self.rank + 3:
            raise ValueError(
                f"TemporalRefinement(rank={self.rank}) expects clips of rank {self.rank + 3} "
                f"((B, T, N, L) or (B, T, H, W, N)). Received: input_shape={input_shape}")
        step_shape = (input_shape[0],) + input_shape[2:]
        self.cell.build(step_shape)
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, return_state=True,
                                    stateful=self.stateful, unroll=self.unroll, name="rnn")
        self.rnn.build(input_shape)

    @property
    def state_shape(self):
        """Shape of ``V_t`` without batch (after build)."""
        return self.cell.state_shape

    def reset_state(self):
        """Zeros the streaming state (``stateful=True``): call at a new video or a lost face."""
        if self.rnn is not None:
            self.rnn.reset_state()

    def call(self, inputs, initial_state=None, training=None):
        if initial_state is not None and not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        outputs, last_state = self.rnn(inputs, initial_state=initial_state, training=training)
        if self.return_state:
            return outputs, last_state
        return outputs

    def compute_output_shape(self, inputs_shape, initial_state_shape=None):
        input_shape = tuple(inputs_shape)
        if not self.return_state:
            return input_shape
        step_shape = (input_shape[0],) + input_shape[2:]
        return input_shape, (input_shape[0],) + self.cell.compute_state_shape(step_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "decay": self.decay,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "downsample": self.downsample,
            "rank": self.rank,
            "identity": self.identity,
            "output_initializer": self.output_initializer,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "return_state": self.return_state,
        })
        return config
