"""``RegionSampler``: exportable crop-and-resize (and its inverse, paste) for RDFN."""
import keras
from keras import ops

from zoo.layers import region_ops

MODES = ("crop", "paste")


def _check_size(name, value):
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair)):
        raise ValueError(f"`{name}` must be a positive int or a pair of them. "
                         f"Received: {name}={value!r}")
    return tuple(int(v) for v in pair)


@keras.saving.register_keras_serializable(package="zoo")
class RegionSampler(keras.layers.Layer):
    """Bilinear crop-and-resize of a box, or the inverse paste, as two matrix products.

    ``mode="crop"``: features ``(B, H, W, C)`` covering the whole image and boxes ``(B, 4)``
    (normalised ``x0, y0, x1, y1``, see ``zoo.layers.region_ops``) -> the box's content
    resampled to ``(B, P, Q, C)`` (RoIAlign with one bilinear sample per output cell; outside
    the image the features are zero).

    ``mode="paste"``: maps ``(B, P, Q, C)`` covering the box -> ``(B, H', W', C)`` over the
    whole image (zero outside the box): the inverse of ``crop``, used to put region-frame
    landmark score maps back into the input frame.

    The boxes may also be ``(B, R, 4)`` (every region of ``zoo.layers.RegionBoxes``): ``region``
    then picks one. Before sampling, a box can be made square (side = its larger side,
    ``square``) and enlarged by ``margin`` (``zoo.layers.region_ops.square_boxes``), so the
    crop keeps the face's aspect ratio and some context around it.

    Both are separable: ``out = Wy @ features @ Wx^T`` with bilinear tent weights computed from
    the boxes (``zoo.layers.region_ops.tent_weights``), so the graph holds only batched
    matrix products and element-wise ops (no gather, ``CropAndResize`` or ``GridSample``):
    SavedModel, LiteRT and ONNX all run it. With ``box_gradient=False`` (default) the boxes
    are treated as constants (``stop_gradient``), as RoIAlign treats its proposals: the boxes are
    trained by their own loss, not through the features sampled from them.

    Args:
        output_size: int or ``(rows, cols)``: ``(P, Q)`` for crop, ``(H', W')`` for paste.
        mode: ``"crop"`` or ``"paste"``.
        box_gradient: bool, let gradients flow into the box coordinates.
        region: int >= 0, the region to use when the boxes are ``(B, R, 4)``.
        margin: float >= 0, relative enlargement of the box side before sampling.
        square: bool, make the box square (its larger side) before sampling.
        **kwargs: standard layer arguments.

    Returns (from ``call([features, boxes])``):
        ``(B, rows, cols, C)``.

    Example:
        >>> import numpy as np
        >>> import zoo.layers
        >>> sampler = zoo.layers.RegionSampler(8)
        >>> features = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
        >>> boxes = np.array([[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 1.0, 1.0]], "float32")
        >>> tuple(sampler([features, boxes]).shape)
        (2, 8, 8, 3)
    """

    def __init__(self, output_size, mode="crop", box_gradient=False, region=0, margin=0.0,
                 square=False, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _check_size("output_size", output_size)
        if mode not in MODES:
            raise ValueError(f"Unknown `mode`. Allowed: {list(MODES)}. Received: mode={mode!r}")
        self.mode = mode
        self.box_gradient = bool(box_gradient)
        if not isinstance(region, int) or isinstance(region, bool) or region < 0:
            raise ValueError(f"`region` must be an int >= 0. Received: region={region!r}")
        self.region = region
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
            raise ValueError(f"`margin` must be a float >= 0. Received: margin={margin!r}")
        self.margin = float(margin)
        self.square = bool(square)

    def build(self, input_shape):
        features_shape, boxes_shape = (tuple(s) for s in input_shape)
        if len(features_shape) != 4 or None in features_shape[1:]:
            raise ValueError("RegionSampler takes features (B, H, W, C) with static H, W, C. "
                             f"Received: features shape={features_shape}")
        if len(boxes_shape) not in (2, 3) or boxes_shape[-1] != 4 or (
                len(boxes_shape) == 3 and boxes_shape[1] is not None
                and self.region >= boxes_shape[1]):
            raise ValueError(f"RegionSampler takes boxes (B, 4) or (B, R, 4) with R > region = "
                             f"{self.region}. Received: boxes shape={boxes_shape}")

    def call(self, inputs):
        features, boxes = inputs
        boxes = ops.cast(boxes, "float32")
        if len(boxes.shape) == 3:
            boxes = boxes[:, self.region]
        if not self.box_gradient:
            boxes = ops.stop_gradient(boxes)
        if self.square or self.margin:
            boxes = region_ops.square_boxes(boxes, self.margin, self.square)
        rows, cols = self.output_size
        height, width = features.shape[1], features.shape[2]
        x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
        if self.mode == "crop":  # output grid on the box, input grid on the image
            weights_y = region_ops.tent_weights(y0, y1, rows, 0.0, 1.0, height)
            weights_x = region_ops.tent_weights(x0, x1, cols, 0.0, 1.0, width)
        else:  # output grid on the image, input grid on the box
            weights_y = region_ops.tent_weights(0.0, 1.0, rows, y0, y1, height)
            weights_x = region_ops.tent_weights(0.0, 1.0, cols, x0, x1, width)
        weights_y = ops.cast(weights_y, features.dtype)
        weights_x = ops.cast(weights_x, features.dtype)
        return region_ops.resample(features, weights_y, weights_x)

    def compute_output_shape(self, input_shape):
        features_shape = tuple(input_shape[0])
        return (features_shape[0],) + self.output_size + (features_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": list(self.output_size), "mode": self.mode,
                       "box_gradient": self.box_gradient, "region": self.region,
                       "margin": self.margin, "square": self.square})
        return config
