"""The shared export test helper: SavedModel, LiteRT and ONNX each compared with Keras.

``run_export_test(model, inputs_at_two_batch_sizes)`` exports ``model`` to the three float
formats through ``zoo.export`` (whose own parity check must pass) and then compares every
output of every format with Keras again here, at both batch sizes, so a test fails if an
export's check were ever weakened. Small stand-in models with the detector's and the
streaming tracker's input/output structure live here too, for tests that must not depend on
a particular preset.
"""
import os
import tempfile

import keras
import numpy as np
from keras import layers, ops

import zoo.export
from zoo.export import signatures

LANDMARK_ATOL = 1e-2  # pixels
OTHER_ATOL = 1e-4


def _soft_argmax(logits, size, length):
    # Integral decode of a 1D heatmap: expectation over bin centres, mapped to pixels.
    probabilities = ops.softmax(logits, axis=-1)
    centres = (ops.arange(length, dtype="float32") + 0.5) * (size / length) - 0.5
    return ops.sum(probabilities * centres, axis=-1), ops.max(probabilities, axis=-1)


def tiny_detector(image_size=32, num_landmarks=5, heatmap_size=16, seed=0):
    """A small conv net with the inference model's structure: images -> landmarks/scores/x/y.

    Args:
        image_size: square input size.
        num_landmarks: N.
        heatmap_size: L, the 1D heatmap length.
        seed: weight seed.

    Returns:
        A functional ``keras.Model`` (float32 images in [0, 255]) ->
        ``{"landmarks": (B, N, 2), "scores": (B, N), "x": (B, N, L), "y": (B, N, L)}``.
    """
    keras.utils.set_random_seed(seed)
    images = keras.Input((image_size, image_size, 3), name="images")
    h = layers.Rescaling(1 / 127.5, offset=-1.0)(images)
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.GlobalAveragePooling2D()(h)
    x = layers.Reshape((num_landmarks, heatmap_size))(layers.Dense(num_landmarks * heatmap_size)(h))
    y = layers.Reshape((num_landmarks, heatmap_size))(layers.Dense(num_landmarks * heatmap_size)(h))
    cx, sx = _soft_argmax(x, image_size, heatmap_size)
    cy, sy = _soft_argmax(y, image_size, heatmap_size)
    outputs = {"landmarks": ops.stack([cx, cy], axis=-1), "scores": (sx + sy) / 2, "x": x, "y": y}
    return keras.Model(images, outputs, name="tiny_detector")


def tiny_step_model(image_size=32, num_landmarks=5, heatmap_size=16, seed=0):
    """A small streaming step model: (frame, state_x, state_y) -> landmarks, scores, x, y, state.

    The new heatmaps blend the frame's heatmaps with the previous state (a fixed-length,
    explicit-state recurrence, as a streaming tracker exports).

    Returns:
        A functional ``keras.Model`` with inputs ``frame`` (B, F, F, 3), ``state_x``,
        ``state_y`` (B, N, L) and outputs ``landmarks``, ``scores``, ``x``, ``y``,
        ``new_state_x``, ``new_state_y``.
    """
    keras.utils.set_random_seed(seed)
    frame = keras.Input((image_size, image_size, 3), name="frame")
    state_x = keras.Input((num_landmarks, heatmap_size), name="state_x")
    state_y = keras.Input((num_landmarks, heatmap_size), name="state_y")
    h = layers.Rescaling(1 / 127.5, offset=-1.0)(frame)
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.GlobalAveragePooling2D()(h)
    fx = layers.Reshape((num_landmarks, heatmap_size))(layers.Dense(num_landmarks * heatmap_size)(h))
    fy = layers.Reshape((num_landmarks, heatmap_size))(layers.Dense(num_landmarks * heatmap_size)(h))
    gate = layers.Dense(heatmap_size, activation="sigmoid")
    x = fx + gate(state_x) * state_x
    y = fy + gate(state_y) * state_y
    cx, sx = _soft_argmax(x, image_size, heatmap_size)
    cy, sy = _soft_argmax(y, image_size, heatmap_size)
    outputs = {"landmarks": ops.stack([cx, cy], axis=-1), "scores": (sx + sy) / 2, "x": x,
               "y": y, "new_state_x": ops.tanh(x), "new_state_y": ops.tanh(y)}
    return keras.Model({"frame": frame, "state_x": state_x, "state_y": state_y}, outputs,
                       name="tiny_step_model")


def _compare(reference, got, what):
    for name, value in got.items():
        atol = LANDMARK_ATOL if name == "landmarks" else OTHER_ATOL
        np.testing.assert_allclose(value, reference[name], atol=atol, rtol=0,
                                   err_msg=f"{what}: {name}")


def run_export_test(model, inputs_at_two_batch_sizes, formats=("saved_model", "tflite", "onnx"),
                    directory=None, metadata=None):
    """Exports ``model`` to each float format and compares every output with Keras.

    Args:
        model: a Keras inference model or streaming step model.
        inputs_at_two_batch_sizes: a list of two dicts name -> array (different batch sizes).
        formats: subset of ``("saved_model", "tflite", "onnx")``.
        directory: where to write (a temporary folder when None).
        metadata: optional metadata for the exports (``zoo.export.build_metadata``).

    Returns:
        dict format -> ``zoo.export.ExportResult``.
    """
    sizes = [len(next(iter(b.values()))) for b in inputs_at_two_batch_sizes]
    assert len(sizes) == 2 and sizes[0] != sizes[1], f"need two batch sizes, got {sizes}"
    io = signatures.describe(model)
    merged = {k: np.concatenate([b[k] for b in inputs_at_two_batch_sizes])
              for k in io.input_names}
    batch_sizes = tuple(sizes)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = directory or tmp
        # Parity inputs in the export itself: the same rows, split at the two batch sizes.
        ordered = {k: v[:max(sizes)] if sizes[0] < sizes[1] else v for k, v in merged.items()}
        if "saved_model" in formats:
            results["saved_model"] = zoo.export.export_saved_model(
                model, root, "model", 1, parity_inputs=ordered, batch_sizes=batch_sizes,
                metadata=metadata)
        if "tflite" in formats:
            results["tflite"] = zoo.export.export_tflite(
                model, os.path.join(root, "model.tflite"), parity_inputs=ordered,
                batch_sizes=batch_sizes, metadata=metadata)
        if "onnx" in formats:
            results["onnx"] = zoo.export.export_onnx(
                model, os.path.join(root, "model.onnx"), parity_inputs=ordered,
                batch_sizes=batch_sizes, metadata=metadata)
        for batch in inputs_at_two_batch_sizes:
            batch = signatures.check_inputs(io, batch)
            size = len(batch[io.image_input])
            reference = signatures.keras_reference(model, io, batch)
            for endpoint, names in io.endpoints.items():
                for name in names:
                    assert name in reference
            if "saved_model" in results:
                for endpoint, names in io.endpoints.items():
                    got = zoo.export.run_saved_model(results["saved_model"].path, batch, endpoint)
                    assert sorted(got) == sorted(names), (endpoint, sorted(got))
                    _compare(reference, got, f"SavedModel {endpoint} batch {size}")
            if "tflite" in results:
                got = zoo.export.run_tflite(results["tflite"].path, batch)
                assert sorted(got) == sorted(io.endpoints["serving_default"])
                _compare(reference, got, f"LiteRT batch {size}")
            if "onnx" in results:
                got = zoo.export.run_onnx(results["onnx"].path, batch)
                assert sorted(got) == sorted(io.endpoints["serving_default"])
                _compare(reference, got, f"ONNX batch {size}")
        for result in results.values():
            metadata = zoo.export.read_metadata(result.path)
            assert metadata["format"] == result.format
            assert metadata["input_size"] == io.image_size
    return results
