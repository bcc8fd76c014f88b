"""Inference models: a training model's last stack plus the codec's decoding layer."""
import keras

from zoo.layers.select_stack import SelectStack


def _resolve_codec(model, codec):
    """The codec for ``model``: given, or its preset's, fitted to the model's sizes."""
    from zoo.models import presets

    # zoo.create(name, heatmap_length=..., input_size=...) may have overridden the preset's
    # sizes: the registry fits the codec to the model so the decoder always matches it.
    return presets.model_codec(model, codec)


def last_stack_outputs(model):
    """The last stack of every output of a stacked training model, as tensors of its graph.

    A detector returns every stack, ``(B, S, ...)``, stacked by ``Reshape`` (and, for S > 1,
    ``Concatenate``) layers named ``<key>_stack<i>``
    (``zoo.models.hourglass_backbone.stack_outputs``); the input of ``<key>_stack<S-1>`` is
    the last stack itself. Reading it there gives the same values as ``[:, -1]`` of the
    stacked output, without ``Reshape``'s run-time batch size (SHAPE, STRIDED_SLICE, PACK in
    LiteRT) and the strided slice, which XNNPACK leaves out of its delegate (issue 13: they
    split the exported graph). Outputs built another way get ``SelectStack(-1)``.

    Args:
        model: a functional model with dict outputs ``{key: (B, S, ...)}``.

    Returns:
        dict ``{key: (B, ...)}`` of symbolic tensors (``keras.Model(model.input, ...)`` makes
        a model of them).

    Example:
        >>> import zoo
        >>> from zoo.models.inference import last_stack_outputs
        >>> model = zoo.create("aheat1d_mobile_300w")
        >>> {key: tuple(t.shape) for key, t in last_stack_outputs(model).items()}
        {'x': (None, 68, 384), 'y': (None, 68, 384)}
    """
    outputs = {}
    for key, tensor in model.output.items():
        layer = None
        if len(tensor.shape) >= 3 and tensor.shape[1] is not None:
            try:
                layer = model.get_layer(f"{key}_stack{tensor.shape[1] - 1}")
            except ValueError:
                layer = None
        if layer is not None and tuple(layer.input.shape[1:]) == tuple(tensor.shape[2:]):
            outputs[key] = layer.input
        else:
            outputs[key] = SelectStack(-1, name=f"{key}_last")(tensor)
    return outputs


def make_inference_model(model_or_name, codec=None):
    """Wraps a training model into an inference model: images -> landmarks, scores, heatmaps.

    The heatmaps of the last stack (the one used for inference) are decoded by
    ``zoo.layers.HeatmapDecoder(codec)``; the weights are shared with the training model.

    Args:
        model_or_name: a training model (``zoo.create(...)``, ``build_aheat1d``, ...) or a
            preset name (the model is then built with fresh weights).
        codec: a codec, or its ``{"class_name", "config"}`` dict; None takes the preset's
            codec (found by the model's name) with the input size and heatmap size of the
            model.

    Returns:
        A ``keras.Model`` from images ``(B, F, F, 3)`` (float32 RGB in [0, 255]) to
        ``{"landmarks": (B, N, 2), "scores": (B, N), "x": (B, N, L), "y": (B, N, L)}`` for
        1D detectors (``"heatmap": (B, H, W, N)`` instead of ``x``/``y`` for 2D ones).

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> from zoo.models.inference import make_inference_model
        >>> inference = make_inference_model("aheat1d_mobile_300w")
        >>> out = inference(np.zeros((1, 128, 128, 3), "float32"))
        >>> tuple(out["landmarks"].shape)
        (1, 68, 2)
    """
    from zoo.layers.heatmap_decoder import HeatmapDecoder
    from zoo.models import presets

    # Layers.
    if isinstance(model_or_name, str):
        model = presets.create(model_or_name)
    elif isinstance(model_or_name, keras.Model):
        model = model_or_name
    else:
        raise ValueError(
            "`model_or_name` must be a keras.Model or a preset name. "
            f"Received: model_or_name={model_or_name!r}")
    if not isinstance(model.output, dict):
        raise ValueError(
            "make_inference_model needs a training model with dict outputs of shape (B, S, ...). "
            f"Received: model.output={model.output!r}")
    decoder = HeatmapDecoder(_resolve_codec(model, codec), name="decoder")

    # Functional graph: last stack of every heatmap output, then the decoder.
    heatmaps = last_stack_outputs(model)
    decoded = decoder(heatmaps)
    outputs = {"landmarks": decoded["landmarks"], "scores": decoded["scores"], **heatmaps}

    # Config.
    return keras.Model(model.input, outputs, name=f"{model.name}_inference")
