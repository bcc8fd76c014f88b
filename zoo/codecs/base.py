"""Shared pieces of the codecs: the coordinate convention, argument checks, 1D peak helpers.

Coordinate convention (see docs/architecture.md):

* Landmarks are 0-based input-pixel coordinates: the centre of the top-left pixel is (0, 0)
  and an ``F``-pixel axis spans ``[-0.5, F - 0.5]``.
* Bin ``j`` of a length-``L`` heatmap axis covers the same span, so its centre lies at input
  coordinate ``(j + 0.5) * F / L - 0.5``. Going the other way, input coordinate ``p`` sits at
  the continuous heatmap coordinate ``u = (p + 0.5) * L / F - 0.5``. ``encode`` places the
  Gaussian at ``u`` (no rounding) and ``decode`` maps the recovered ``u`` back with the inverse,
  so encode/decode are exact inverses up to the representation's own error (the choice of the
  bin for argmax decoding, or nothing at all for the refined decoders).

``encode`` uses TensorFlow ops only (it runs inside ``tf.data.Dataset.map``); ``tensorflow`` is
imported lazily there so that ``decode`` (``keras.ops`` only) stays importable from layer code
and on other Keras backends.
"""
import math
import numbers

from keras import ops

# Constants here must survive float16 (LiteRT's float16 export stores them as halves): 1e-12
# becomes 0 there and log(0) turns the refinement into NaN. 1e-4 is a normal float16 number.
_EPSILON = 1e-4
_MIN_CURVATURE = 1e-4


def tf_module():
    """Imports TensorFlow on first use (encode only)."""
    import tensorflow as tf

    return tf


def check_positive_int(name, value):
    """Returns ``value`` as int or raises ``ValueError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    value = int(value)
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
    return value


def check_positive_float(name, value):
    """Returns ``value`` as float or raises ``ValueError`` naming the argument."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    return result


def check_commensurate(input_size, heatmap_size, name="heatmap_size"):
    """Heatmap and input grids must nest: one size is an integer multiple of the other.

    That keeps every heatmap bin boundary on an input pixel boundary (or vice versa), the
    setting every paper uses (64 for 256, 768 = 3 x 256) and it catches typos such as 767.
    """
    if heatmap_size % input_size and input_size % heatmap_size:
        raise ValueError(
            f"`{name}` must be an integer multiple or an integer divisor of `input_size` "
            f"({input_size}). Received: {name}={heatmap_size}")


def to_heatmap_coordinate(p, input_size, heatmap_size):
    """Input pixel coordinate -> continuous heatmap coordinate (bin centres at integers)."""
    return (p + 0.5) * (heatmap_size / input_size) - 0.5


def to_input_coordinate(u, input_size, heatmap_size):
    """Continuous heatmap coordinate -> input pixel coordinate (inverse of the above)."""
    return (u + 0.5) * (input_size / heatmap_size) - 0.5


def check_landmarks(landmarks, num_landmarks=None):
    """Validates a ``(N, 2)`` landmark tensor for ``encode``; returns it as float32.

    Shape problems are found from the static shape (eager and graph mode). Non-finite values
    raise ``ValueError`` eagerly; inside a graph (``tf.data`` map) a ``tf.debugging`` assertion
    fails at run time with the same message.
    """
    tf = tf_module()
    landmarks = tf.convert_to_tensor(landmarks)
    if not (landmarks.dtype.is_floating or landmarks.dtype.is_integer):
        raise ValueError(
            f"`landmarks` must be a numeric tensor. Received: landmarks.dtype={landmarks.dtype}")
    landmarks = tf.cast(landmarks, tf.float32)
    shape = landmarks.shape
    if shape.rank is not None and (shape.rank != 2 or (shape[1] is not None and shape[1] != 2)):
        raise ValueError(
            f"`landmarks` must have shape (N, 2) holding (x, y). Received: "
            f"landmarks.shape={tuple(shape)}")
    if num_landmarks is not None and shape.rank == 2 and shape[0] is not None and (
            shape[0] != num_landmarks):
        raise ValueError(
            f"`landmarks` must have {num_landmarks} rows (num_landmarks). Received: "
            f"landmarks.shape={tuple(shape)}")
    landmarks = tf.ensure_shape(landmarks, [num_landmarks, 2])
    message = "`landmarks` contain NaN or infinite values"
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(tf.math.is_finite(landmarks))):
            raise ValueError(f"{message}. Received: landmarks={landmarks.numpy().tolist()}")
    else:
        landmarks = tf.debugging.assert_all_finite(landmarks, message)
    return landmarks


def gaussian_1d(centres, length, sigma):
    """Peak-1 Gaussians ``exp(-(j - c)^2 / (2 sigma^2))`` on bins ``j = 0..length-1`` (TF ops).

    Args:
        centres: float tensor of any shape ``S`` (continuous bin coordinates).
        length: number of bins.
        sigma: standard deviation in bins.

    Returns:
        float32 tensor of shape ``S + (length,)``.
    """
    tf = tf_module()
    grid = tf.range(length, dtype=tf.float32)
    delta = grid - centres[..., None]
    return tf.exp(-tf.square(delta) / (2.0 * sigma * sigma))


def check_outputs(outputs, keys, ranks, codec_name):
    """Checks that ``outputs`` is a dict with the codec's keys and batched ranks."""
    if not isinstance(outputs, dict):
        raise ValueError(
            f"{codec_name}.decode expects a dict with keys {sorted(keys)}. Received: "
            f"outputs={type(outputs).__name__}")
    missing = [key for key in keys if key not in outputs]
    if missing:
        raise ValueError(
            f"{codec_name}.decode expects keys {sorted(keys)}. Received: "
            f"outputs.keys()={sorted(outputs)}")
    tensors = {}
    for key, rank in zip(keys, ranks):
        tensor = outputs[key]
        if not hasattr(tensor, "shape"):
            tensor = ops.convert_to_tensor(tensor)
        if len(tensor.shape) != rank:
            raise ValueError(
                f"{codec_name}.decode expects outputs[{key!r}] of rank {rank} (batch first). "
                f"Received: outputs[{key!r}].shape={tuple(tensor.shape)}")
        tensors[key] = ops.cast(tensor, "float32")
    return tensors


def argmax_last(heatmap):
    """First index of the maximum over the last axis, and the maximum (``keras.ops``).

    Written as ``min(where(h == max(h), arange, L))`` instead of ``ops.argmax``: Keras' TF
    ``argmax`` adds a ``BitwiseAnd`` (negative-zero handling) that TFLite's builtin ops lack.

    Returns:
        ``(index, peak)``: index as float32 (exact below 2**24 bins) and the maximum value.
    """
    length = heatmap.shape[-1]
    peak = ops.max(heatmap, axis=-1, keepdims=True)
    positions = ops.arange(length, dtype="float32")
    # A scalar fill (broadcast by Select) instead of full_like, whose Shape/Fill ops make a
    # run-time-shaped tensor in LiteRT graphs.
    candidates = ops.where(ops.greater_equal(heatmap, peak), positions, float(length))
    return ops.min(candidates, axis=-1), ops.squeeze(peak, axis=-1)


def gather_last(heatmap, index, length):
    """``heatmap[..., index]`` via one-hot (avoids gather ops that TFLite/ONNX handle badly)."""
    return ops.sum(heatmap * ops.one_hot(index, length, dtype=heatmap.dtype), axis=-1)


def neighbours(heatmap, index, length):
    """Values at ``index - 1`` and ``index + 1`` (clamped) and a mask of interior indices.

    ``heatmap[..., max(index - 1, 0)]`` is ``shifted[..., index]`` of the heatmap shifted one
    bin right (its first bin repeated), and likewise to the left, so both neighbours are read
    with one shared index mask instead of two one-hot gathers (same values; the mask is built
    with one comparison, and LiteRT's XNNPACK delegate takes every op of it, not ONE_HOT).
    """
    index = ops.cast(index, "int32")
    mask = ops.cast(ops.equal(ops.arange(length, dtype="int32"), ops.expand_dims(index, -1)),
                    heatmap.dtype)
    # shifted_right[j] = h[max(j - 1, 0)], shifted_left[j] = h[min(j + 1, L - 1)].
    shifted_right = ops.concatenate([heatmap[..., :1], heatmap[..., :-1]], axis=-1)
    shifted_left = ops.concatenate([heatmap[..., 1:], heatmap[..., -1:]], axis=-1)
    left = ops.sum(shifted_right * mask, axis=-1)
    right = ops.sum(shifted_left * mask, axis=-1)
    interior = ops.logical_and(ops.greater(index, 0), ops.less(index, length - 1))
    return left, right, interior


def log_parabola_offset(left, centre, right, interior):
    """Sub-bin offset of the vertex of the parabola through the log values at -1, 0, +1.

    A Gaussian is a parabola in log space, so for a Gaussian target this recovers the exact
    centre: ``offset = (ln l - ln r) / (2 (ln l - 2 ln c + ln r))``. Values are clamped to
    ``_EPSILON`` before the log (network outputs can be <= 0), the offset is clipped to
    ``[-0.5, 0.5]`` (the argmax bin is the nearest one) and is 0 at the borders or where the
    curvature is not negative.
    """
    log_left = ops.log(ops.maximum(left, _EPSILON))
    log_centre = ops.log(ops.maximum(centre, _EPSILON))
    log_right = ops.log(ops.maximum(right, _EPSILON))
    curvature = log_left - 2.0 * log_centre + log_right
    valid = ops.logical_and(interior, ops.less(curvature, -_MIN_CURVATURE))
    safe = ops.where(valid, curvature, -1.0)
    offset = 0.5 * (log_left - log_right) / safe
    offset = ops.clip(offset, -0.5, 0.5)
    return ops.where(valid, offset, 0.0)


_REGISTRY = {}


def register_codec(cls):
    """Class decorator: makes ``cls`` known to ``zoo.codecs.get`` under its class name."""
    _REGISTRY[cls.__name__] = cls
    return cls


class Codec:
    """Base class: config handling shared by every codec."""

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))
