"""Export to SavedModel (TF Serving), LiteRT/TFLite and ONNX, with parity checks.

Every ``export_*`` function checks its output against the Keras model (two batch sizes; NME
for quantised LiteRT) and writes nothing when the check fails or the target exists.

Example:
    >>> import zoo, zoo.export, zoo.models.inference, zoo.weights
    >>> detector = zoo.create("aheat1d_mobile_300w")
    >>> zoo.weights.load_preset_weights(detector, zoo.get_preset(detector.name))  # shipped, trained
    '.../zoo/weights/aheat1d_mobile_300w.weights.h5'
    >>> model = zoo.models.inference.make_inference_model(detector)
    >>> # three full-size exports (a minute or more); the examples of each format's module run one
    >>> zoo.export.export_saved_model(model, "exports", "aheat1d_mobile_300w", version=1)  # doctest: +SKIP
    >>> zoo.export.export_tflite(model, "mobile.tflite", quantization="float16")  # doctest: +SKIP
    >>> zoo.export.export_onnx(model, "mobile.onnx")  # doctest: +SKIP
"""
from zoo.export.metadata import build_metadata, read_metadata
from zoo.export.onnx import export_onnx, run_onnx
from zoo.export.parity import ParityError, compare_outputs, normalized_mean_error
from zoo.export.saved_model import ExportResult, export_saved_model, run_saved_model
from zoo.export.signatures import describe
from zoo.export.tflite import QUANTIZATIONS, StreamingRunner, export_tflite, run_tflite

__all__ = [
    "ExportResult", "ParityError", "QUANTIZATIONS", "StreamingRunner", "build_metadata",
    "compare_outputs", "describe", "export_onnx", "export_saved_model", "export_tflite",
    "normalized_mean_error", "read_metadata", "run_onnx", "run_saved_model", "run_tflite",
]
