"""The serving signatures every export format shares.

An inference model (``zoo.models.inference.make_inference_model``) maps float32 images to a dict
``{"landmarks", "scores", "x", "y"}``; a streaming step model (``zoo.streaming``) maps
``(frame, state...)`` to ``landmarks``, ``scores``, heatmaps and the new state. The exported
graphs expose, with named inputs and outputs:

* ``serving_default``: the image input as **uint8** (cast to float32 inside; the model normalises
  itself), every other input (the tracker state) as it is; outputs everything except the raw
  heatmaps: ``landmarks`` (B, N, 2) in input-crop pixels and ``scores`` (B, N) (plus the new
  state for a step model, so that one call is one tracking step).
* ``heatmaps``: the same inputs; outputs the raw 1D heatmaps ``x``, ``y`` (B, N, L) (or
  ``heatmap`` for 2D models).
"""
import dataclasses
import inspect

import keras
import numpy as np



def heatmap_outputs(model):
    """The raw heatmap outputs of ``model``: its decoder codec's targets, else every codec's.

    The registry says what a heatmap output is (``zoo.codecs``): the ``target_keys`` of the
    codec in the model's ``HeatmapDecoder`` layer, or, for a model without one, of every
    registered codec.
    """
    import zoo.codecs

    keys = []
    for layer in getattr(model, "layers", ()):
        codec = getattr(layer, "codec", None)
        if isinstance(codec, dict) and "class_name" in codec:
            keys.extend(zoo.codecs.get(codec).target_keys)
    return tuple(keys) or zoo.codecs.heatmap_output_names()


@dataclasses.dataclass(frozen=True)
class ModelIO:
    """Names, shapes and dtypes of a model's inputs and outputs, as the exports see them.

    Attributes:
        input_names: input names in the model's order.
        input_shapes: name -> shape (batch first, ``None`` for the batch).
        input_dtypes: name -> dtype string of the exported input (the image input is uint8).
        image_input: name of the 4-D image input.
        image_size: the square input size ``F``.
        output_names: output names in the model's order.
        output_shapes: name -> shape.
        endpoints: endpoint name -> tuple of output names.
    """

    input_names: tuple
    input_shapes: dict
    input_dtypes: dict
    image_input: str
    image_size: int
    output_names: tuple
    output_shapes: dict
    endpoints: dict

    def input_specs(self, batch_size=None):
        """``tf.TensorSpec`` per input, in order (image input as uint8)."""
        import tensorflow as tf

        return [tf.TensorSpec((batch_size,) + tuple(self.input_shapes[name][1:]),
                              tf.as_dtype(self.input_dtypes[name]), name=name)
                for name in self.input_names]


def _names_and_tensors(structure, fallback_names):
    if isinstance(structure, dict):
        return list(structure.keys()), list(structure.values())
    tensors = list(structure) if isinstance(structure, (list, tuple)) else [structure]
    names = []
    for i, tensor in enumerate(tensors):
        name = fallback_names[i] if fallback_names and i < len(fallback_names) else None
        names.append(name or getattr(tensor, "name", None) or f"output_{i}")
    return names, tensors


def describe(model):
    """Describes the inputs, outputs and endpoints of a model to export.

    Args:
        model: a built functional Keras model with one 4-D image input ``(B, F, F, 3)`` and
            optional further inputs (the explicit state of a streaming step model), whose
            outputs are a dict (or named list) containing ``landmarks``.

    Returns:
        A ``zoo.export.signatures.ModelIO``.

    Raises:
        ValueError: if the model has no square 3-channel image input or no ``landmarks`` output.

    Example:
        >>> import zoo.export.signatures
        >>> from zoo.models.inference import make_inference_model
        >>> io = zoo.export.signatures.describe(make_inference_model("aheat1d_mobile_300w"))
        >>> io.endpoints["serving_default"]
        ('landmarks', 'scores')
    """
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"Expected a built keras.Model. Received: model={model!r}")
    input_names, inputs = _names_and_tensors(model.input, None)
    input_names = [getattr(t, "name", None) or n for n, t in zip(input_names, inputs)] \
        if not isinstance(model.input, dict) else input_names
    output_names, outputs = _names_and_tensors(model.output, getattr(model, "output_names", None))
    output_names = [exported_output_name(n, input_names) for n in output_names]
    image_input, image_size = None, None
    input_shapes, input_dtypes = {}, {}
    for name, tensor in zip(input_names, inputs):
        shape = tuple(tensor.shape)
        input_shapes[name] = shape
        is_image = len(shape) == 4 and shape[-1] == 3 and shape[1] == shape[2] and shape[1]
        if is_image and image_input is None:
            image_input, image_size = name, int(shape[1])
            input_dtypes[name] = "uint8"
        else:
            input_dtypes[name] = str(keras.backend.standardize_dtype(tensor.dtype))
    if image_input is None:
        raise ValueError("The model needs a square RGB image input (B, F, F, 3). "
                         f"Received: input shapes={input_shapes}")
    if "landmarks" not in output_names:
        raise ValueError(f"The model needs a 'landmarks' output. Received: outputs={output_names}")
    heatmaps = tuple(n for n in output_names if n in heatmap_outputs(model))
    endpoints = {"serving_default": tuple(n for n in output_names if n not in heatmaps)}
    if heatmaps:
        endpoints["heatmaps"] = heatmaps
    return ModelIO(
        input_names=tuple(input_names),
        input_shapes=input_shapes,
        input_dtypes=input_dtypes,
        image_input=image_input,
        image_size=image_size,
        output_names=tuple(output_names),
        output_shapes={n: tuple(t.shape) for n, t in zip(output_names, outputs)},
        endpoints=endpoints,
    )


def exported_output_name(name, input_names):
    """The exported name of an output: ``new_<name>`` when an input has the same name.

    A step model returns its new state under the state input's name (``state_x``); ONNX
    forbids an output named like an input, so every format calls it ``new_state_x``.
    """
    return f"new_{name}" if name in input_names else name


def _model_inputs(model, io, tensors_by_name, cast):
    """Packs named tensors into the structure ``model`` was built with."""
    values = [cast(tensors_by_name[name], name) for name in io.input_names]
    if isinstance(model.input, dict):
        return dict(zip(io.input_names, values))
    if isinstance(model.input, (list, tuple)):
        return list(values)
    return values[0]


def _model_outputs(model, io, outputs):
    if isinstance(outputs, dict):
        return {exported_output_name(k, io.input_names): v for k, v in outputs.items()}
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return dict(zip(io.output_names, outputs))


def make_endpoint(model, io, endpoint, batch_size=None):
    """Returns a ``tf.function`` for one endpoint, with named uint8 image input and dict output.

    Args:
        model: the Keras model.
        io: ``describe(model)``.
        endpoint: a key of ``io.endpoints``.
        batch_size: fixed batch size, or None for a dynamic batch.

    Returns:
        A ``tf.function`` with an input signature whose keyword arguments are the input names.
    """
    import tensorflow as tf

    if endpoint not in io.endpoints:
        raise ValueError(f"Unknown endpoint. Expected one of {sorted(io.endpoints)}. "
                         f"Received: endpoint={endpoint}")
    keep = io.endpoints[endpoint]

    def cast(tensor, name):
        if name == io.image_input:
            return tf.cast(tensor, tf.float32)
        return tensor

    def serve(*args):
        packed = _model_inputs(model, io, dict(zip(io.input_names, args)), cast)
        outputs = _model_outputs(model, io, model(packed, training=False))
        return {name: tf.identity(outputs[name], name=name) for name in keep}

    # Named keyword arguments give named signature inputs (TF reads ``__signature__``).
    serve.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in io.input_names])
    serve.__name__ = endpoint
    return tf.function(serve, input_signature=io.input_specs(batch_size), autograph=False)


def keras_reference(model, io, inputs):
    """Runs the Keras model on named numpy inputs the way the exported graphs do.

    Args:
        model: the Keras model.
        io: ``describe(model)``.
        inputs: dict name -> numpy array (the image as uint8 or float).

    Returns:
        dict output name -> float numpy array (all outputs).
    """
    packed = _model_inputs(model, io, inputs,
                           lambda a, n: np.asarray(a, dtype="float32" if n == io.image_input
                                                   else io.input_dtypes[n]))
    outputs = _model_outputs(model, io, model(packed, training=False))
    return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in outputs.items()}


def check_inputs(io, inputs):
    """Validates a dict of named numpy inputs against ``io``; returns it with exported dtypes."""
    if not isinstance(inputs, dict) or set(inputs) != set(io.input_names):
        got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError(f"Expected a dict with keys {list(io.input_names)}. Received: inputs={got}")
    checked = {}
    for name in io.input_names:
        array = np.asarray(inputs[name])
        expected = io.input_shapes[name][1:]
        if array.shape[1:] != tuple(expected):
            raise ValueError(f"Input {name!r} must have shape (B,) + {tuple(expected)}. "
                             f"Received: shape={array.shape}")
        if name == io.image_input:
            array = np.clip(np.round(array), 0, 255).astype(np.uint8)
        else:
            array = array.astype(io.input_dtypes[name])
        checked[name] = array
    return checked
