r"""Exports a zoo model (preset or .keras file) to SavedModel, LiteRT/TFLite or ONNX.

Every export is checked against the Keras model before it is kept (two batch sizes; NME on a
held-out SynthFace set for quantised LiteRT) and never overwrites an existing export.

    python export/export.py --preset=aheat1d_mobile_300w --format=saved_model \
        --output_dir=exports --version=1
    python export/export.py --preset=aheat1d_mobile_300w --format=tflite \
        --quantization=int8 --output_dir=exports
    python export/export.py --keras_file=run/model.keras --format=onnx --output_dir=exports
    python export/export.py --preset=aheat1d_300w --decode=argmax --output_dir=exports

``--decode`` picks the decoder traced into the graph (1D ``argmax``, the paper's Eq. 7, or
``refined``, the presets' default; 2D ``argmax``, ``quarter_offset`` (default), ``parabola``,
``integral``); the file's metadata records it as ``decode``.

SavedModel goes to ``<output_dir>/<model_name>/<version>/`` (TF Serving layout); LiteRT to
``<output_dir>/<model_name>_<quantization>.tflite``; ONNX to ``<output_dir>/<model_name>.onnx``.
"""
import os

from absl import app, flags

from zoo.training.config import DECODE_METHODS

_PRESET = flags.DEFINE_string("preset", None, "Preset name (zoo.list_models()).")
_KERAS_FILE = flags.DEFINE_string("keras_file", None, "A saved .keras model instead of a preset.")
_FORMAT = flags.DEFINE_enum("format", "saved_model", ["saved_model", "tflite", "onnx"],
                            "Export format.")
_QUANTIZATION = flags.DEFINE_enum("quantization", "float32",
                                  ["float32", "float16", "dynamic_int8", "int8"],
                                  "LiteRT variant (tflite only).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "exports", "Where to write.")
_MODEL_NAME = flags.DEFINE_string("model_name", None, "Served name; default: the model's name.")
_VERSION = flags.DEFINE_integer("version", 1, "SavedModel version folder (TF Serving).")
_NUM_CALIBRATION = flags.DEFINE_integer("num_calibration", 200,
                                        "SynthFace faces to calibrate full-int8 on.")
_NUM_EVAL = flags.DEFINE_integer("num_eval", 100, "Held-out SynthFace faces for the NME check.")
_DECODE = flags.DEFINE_enum("decode", None, DECODE_METHODS,
                            "Decode method of the exported graph (1D argmax = paper Eq. 7 | "
                            "refined; 2D argmax | quarter_offset | parabola | integral); "
                            "default: the preset's. Recorded in the metadata.")


def main(argv):
    del argv
    import zoo.export
    from zoo.export import sources

    model, metadata = sources.load(preset=_PRESET.value, keras_file=_KERAS_FILE.value,
                                   decode=_DECODE.value)
    name = _MODEL_NAME.value or metadata.get("preset") or model.name
    if _FORMAT.value == "saved_model":
        result = zoo.export.export_saved_model(model, _OUTPUT_DIR.value, name, _VERSION.value,
                                               metadata=metadata)
    elif _FORMAT.value == "onnx":
        result = zoo.export.export_onnx(model, os.path.join(_OUTPUT_DIR.value, f"{name}.onnx"),
                                        metadata=metadata)
    else:
        kwargs = sources.quantization_data(model, metadata, _QUANTIZATION.value,
                                           _NUM_CALIBRATION.value, _NUM_EVAL.value)
        result = zoo.export.export_tflite(
            model, os.path.join(_OUTPUT_DIR.value, f"{name}_{_QUANTIZATION.value}.tflite"),
            quantization=_QUANTIZATION.value, metadata=metadata, **kwargs)
    print(f"wrote {result.path}")
    print(f"parity: {result.parity}")


if __name__ == "__main__":
    flags.mark_flags_as_mutual_exclusive(["preset", "keras_file"], required=True)
    app.run(main)
