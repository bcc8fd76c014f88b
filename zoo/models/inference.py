"""Inference models: a training model's last stack plus the codec's decoding layer."""
import keras

from zoo.layers.select_stack import SelectStack


def _resolve_codec(model, codec):
    """The codec for ``model``: given, or its preset's, fitted to the model's sizes."""
    from zoo.models import presets

    # zoo.create(name, heatmap_length=..., input_size=...) may have overridden the preset's
    # sizes: the registry fits the codec to the model so the decoder always matches it.
    return presets.model_codec(model, codec)


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
    heatmaps = {key: SelectStack(-1, name=f"{key}_last")(tensor)
                for key, tensor in model.output.items()}
    decoded = decoder(heatmaps)
    outputs = {"landmarks": decoded["landmarks"], "scores": decoded["scores"], **heatmaps}

    # Config.
    return keras.Model(model.input, outputs, name=f"{model.name}_inference")
