"""``HeatmapDecoder``: a codec's ``decode`` as a Keras layer for inference/export models."""
import keras
from keras import ops

import zoo.codecs


@keras.saving.register_keras_serializable(package="zoo")
class HeatmapDecoder(keras.layers.Layer):
    """Turns the network's heatmap dict into landmarks and scores with a codec's ``decode``.

    The layer has no weights. It stores the codec as its serialized dict
    (``zoo.codecs.serialize``), so a saved model carries everything needed to decode. It takes
    the last stack's dict (``{"x": (B, N, L), "y": (B, N, L)}`` for the 1D codec). A training
    model's stacked output (one more axis after the batch, ``(B, S, ...)``) is also accepted:
    the layer then decodes the last stack ``[:, -1]``, the one used for inference.

    Args:
        codec: a codec instance or its ``{"class_name": ..., "config": ...}`` dict.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Returns (from ``call``):
        dict ``{"landmarks": (B, N, 2) float32 input pixels, "scores": (B, N)}``.

    Example:
        >>> import numpy as np
        >>> import zoo.codecs, zoo.layers
        >>> codec = zoo.codecs.Heatmap1DCodec(input_size=256, heatmap_size=768)
        >>> layer = zoo.layers.HeatmapDecoder(codec)
        >>> targets = codec.encode(np.array([[10.0, 20.0]], "float32"))
        >>> out = layer({k: v[None] for k, v in targets.items()})
        >>> tuple(out["landmarks"].shape), tuple(out["scores"].shape)
        ((1, 1, 2), (1, 1))
    """

    def __init__(self, codec, **kwargs):
        super().__init__(**kwargs)
        try:
            codec_object = zoo.codecs.get(codec)
        except ValueError as error:
            raise ValueError(f"`codec` is not a codec or codec config ({error}). Received: "
                             f"codec={codec!r}") from None
        self._codec = codec_object
        self.codec = zoo.codecs.serialize(codec_object)

    def _last_stack(self, inputs):
        if not isinstance(inputs, dict):
            raise ValueError(
                f"HeatmapDecoder expects a dict with keys {list(self._codec.target_keys)}. "
                f"Received: inputs={type(inputs).__name__}")
        selected = {}
        for key, rank in zip(self._codec.target_keys, self._codec.target_ranks):
            if key not in inputs:
                raise ValueError(
                    f"HeatmapDecoder expects keys {list(self._codec.target_keys)}. Received: "
                    f"inputs.keys()={sorted(inputs)}")
            tensor = inputs[key]
            if len(tensor.shape) == rank + 1:
                tensor = tensor[:, -1]
            selected[key] = tensor
        return selected

    def call(self, inputs):
        coords, scores = self._codec.decode(self._last_stack(inputs))
        return {"landmarks": coords, "scores": scores}

    def compute_output_shape(self, input_shape):
        shapes = {}
        for key, rank in zip(self._codec.target_keys, self._codec.target_ranks):
            shape = tuple(input_shape[key])
            if len(shape) == rank + 1:
                shape = shape[:1] + shape[2:]
            shapes[key] = shape
        batch = shapes[self._codec.target_keys[0]][0]
        num_landmarks = self._codec.count_landmarks(shapes)
        return {"landmarks": (batch, num_landmarks, 2), "scores": (batch, num_landmarks)}

    def get_config(self):
        config = super().get_config()
        config.update({"codec": self.codec})
        return config
