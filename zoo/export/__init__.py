"""Export to SavedModel, LiteRT/TFLite and ONNX, with parity checks."""
