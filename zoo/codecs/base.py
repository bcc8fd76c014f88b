"""The codec interface (:class:`Codec`, :func:`register_codec`) and the pieces codecs share: the
coordinate convention, argument checks, 1D peak helpers.

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
import abc
import inspect
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


def check_commensurate(input_size, heatmap_size, name="heatmap_size", quarter_steps=False):
    """Heatmap and input grids must nest: one size is an integer multiple of the other.

    That keeps every heatmap bin boundary on an input pixel boundary (or vice versa), the
    setting every paper uses (64 for 256, 768 = 3 x 256) and it catches typos such as 767.

    Args:
        input_size: F.
        heatmap_size: L (or the side of a 2D heatmap).
        name: argument name for the message.
        quarter_steps: also accept any multiple of ``F / 4`` (``L / F`` = 1.5, 2.5, ...: the
            1D paper's Table 1 runs L = 384 and 640 at F = 256). Bin edges then meet pixel
            edges every few pixels instead of at every one; the coordinate convention above
            holds for any ratio.
    """
    if heatmap_size % input_size and input_size % heatmap_size and not (
            quarter_steps and (4 * heatmap_size) % input_size == 0):
        allowed = ("an integer multiple of `input_size` / 4 or an integer divisor of "
                   "`input_size`" if quarter_steps else
                   "an integer multiple or an integer divisor of `input_size`")
        raise ValueError(
            f"`{name}` must be {allowed} ({input_size}). Received: {name}={heatmap_size}")


def default_sigma(input_size):
    """The default Gaussian standard deviation of the heatmap codecs, in **input pixels**.

    ``F / 64``: 4 px at the paper's F = 256, one bin of the coarsest heatmap of Table 1
    (L = F / 4 = 64), as the stacked hourglass draws its targets (Newell et al. 2016: sigma = 1
    on the 64 x 64 maps of a 256 input; FAN builds on it). The same width in the image for
    every L and for the 1D and the 2D codec, so Table 1 compares resolutions, not target
    widths. The 1D paper gives no value.

    Example:
        >>> import zoo.codecs.base
        >>> zoo.codecs.base.default_sigma(256)
        4.0
    """
    return float(input_size) / 64.0


def check_sigma(sigma, input_size):
    """``sigma`` in input pixels as float (None: :func:`default_sigma`), or ``ValueError``."""
    return default_sigma(input_size) if sigma is None else check_positive_float("sigma", sigma)


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
    """Class decorator: makes ``cls`` known to ``zoo.codecs.get`` under its class name.

    The class must implement the :class:`Codec` interface (no abstract method left) and
    declare ``target_keys`` and ``target_ranks`` of the same length.

    Example:
        >>> import zoo.codecs.base as base
        >>> sorted(name for name in base.registered_codecs() if name.startswith("Heatmap"))
        ['Heatmap1DCodec', 'Heatmap2DCodec']
    """
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise ValueError(f"`cls` must be a subclass of zoo.codecs.Codec. Received: cls={cls!r}")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise ValueError(f"{cls.__name__} does not implement the Codec interface: "
                         f"{missing} are abstract. Received: cls={cls.__name__}")
    keys, ranks = tuple(cls.target_keys), tuple(cls.target_ranks)
    if not keys or len(keys) != len(ranks) or not all(isinstance(k, str) for k in keys):
        raise ValueError(
            f"{cls.__name__} must declare `target_keys` (names) and `target_ranks` (batched "
            f"ranks) of the same length. Received: target_keys={keys!r}, "
            f"target_ranks={ranks!r}")
    for key, (target, axis) in dict(cls.size_fields).items():
        if target not in keys or not isinstance(axis, int):
            raise ValueError(
                f"{cls.__name__}.size_fields maps config keys to (target key, axis). "
                f"Allowed target keys: {list(keys)}. Received: size_fields[{key!r}]="
                f"{(target, axis)!r}")
    _REGISTRY[cls.__name__] = cls
    return cls


def registered_codecs():
    """``{class name: codec class}`` of every registered codec (a copy).

    Example:
        >>> import zoo.codecs
        >>> "Heatmap1DCodec" in zoo.codecs.base.registered_codecs()
        True
    """
    return dict(_REGISTRY)


def model_input_size(model):
    """The side ``F`` of a model's square RGB image input (``(B, F, F, 3)`` or clips
    ``(B, T, F, F, 3)``; the first such input of a model with several).

    Example:
        >>> import keras
        >>> import zoo.codecs.base as base
        >>> clips = keras.Input((2, 32, 32, 3))
        >>> base.model_input_size(keras.Model(clips, clips))
        32
    """
    inputs = model.input
    tensors = list(inputs.values()) if isinstance(inputs, dict) else (
        list(inputs) if isinstance(inputs, (list, tuple)) else [inputs])
    for tensor in tensors:
        shape = tuple(tensor.shape)
        if len(shape) in (4, 5) and shape[-1] == 3 and shape[-3] == shape[-2] and shape[-2]:
            return int(shape[-2])
    raise ValueError("The model has no square RGB image input (B, F, F, 3) or (B, T, F, F, 3). "
                     f"Received: input shapes={[tuple(t.shape) for t in tensors]}")


class Codec(abc.ABC):
    """The interface every codec implements (mmpose's codec idea).

    A codec turns landmarks into training targets and network outputs back into landmarks.
    Subclasses declare three class attributes and implement four methods:

    * ``target_keys``: names of the targets, equal to the network's output keys
      (``("x", "y")`` for 1D heatmaps, ``("heatmap",)`` for 2D ones);
    * ``target_ranks``: the batched rank of each target as ``decode`` takes it
      (``(B, N, L)`` is 3);
    * ``size_fields``: ``{config key: (target key, axis)}``, the config entries that
      :meth:`fit_to` reads off a built model's outputs (``axis`` indexes one example's target
      shape, as ``encode`` returns it); ``input_size`` is always read off the model's input;
    * ``resized_defaults``: config entries in input pixels of the configured input size
      (``sigma``) that fall back to their default when a model of another input size is fitted;
    * ``encode(landmarks (N, 2)) -> {key: target}`` with TF ops (runs inside
      ``tf.data.Dataset.map``);
    * ``decode({key: (B, ...)}) -> (coords (B, N, 2), scores (B, N))`` with ``keras.ops``
      (traces into exported graphs);
    * ``count_landmarks({key: batched shape}) -> N`` (``None`` when unknown);
    * ``get_config() -> dict`` of the ``__init__`` arguments (``from_config`` rebuilds it).

    Register a concrete codec with ``@zoo.codecs.base.register_codec`` so that
    ``zoo.codecs.get({"class_name": ..., "config": ...})`` finds it.

    Example:
        >>> import zoo, zoo.codecs
        >>> model = zoo.create("aheat1d_mobile_300w", heatmap_length=256)
        >>> codec = zoo.codecs.get(zoo.get_preset("aheat1d_mobile_300w").codec).fit_to(model)
        >>> codec.input_size, codec.heatmap_size
        (128, 256)
    """

    target_keys = ()
    target_ranks = ()
    size_fields = {}
    resized_defaults = ()
    # The decoders a codec offers (empty: one fixed decoder), for ``--decode`` of the recipes
    # and the export; ``decode_method`` is the one in use, ``with_decode`` switches.
    decode_methods = ()

    @property
    def decode_method(self):
        """Name of the decoder this codec uses (one of ``decode_methods``), or None."""
        return None

    def _decode_fields(self, method):
        """Config entries that select ``method`` (codecs with ``decode_methods`` override)."""
        raise NotImplementedError

    def with_decode(self, method):
        """This codec decoding with ``method`` (one of ``decode_methods``; ``self`` if same).

        Example:
            >>> import zoo.codecs
            >>> zoo.codecs.Heatmap1DCodec(256, 768).with_decode("argmax").decode_method
            'argmax'
        """
        if method not in self.decode_methods:
            raise ValueError(
                f"Unknown decode method for {type(self).__name__}. Allowed: "
                f"{list(self.decode_methods)}. Received: decode={method!r}")
        if method == self.decode_method:
            return self
        return type(self).from_config(dict(self.get_config(), **self._decode_fields(method)))

    @abc.abstractmethod
    def encode(self, landmarks):
        """Landmarks ``(N, 2)`` in input pixels -> ``{key: target}`` (TF ops)."""

    @abc.abstractmethod
    def decode(self, outputs):
        """Batched outputs ``{key: (B, ...)}`` -> ``(coords (B, N, 2), scores (B, N))``."""

    @abc.abstractmethod
    def count_landmarks(self, shapes):
        """``N`` from the batched target shapes ``{key: shape}`` (``None`` when unknown)."""

    @abc.abstractmethod
    def get_config(self):
        """The ``__init__`` arguments as a JSON-serialisable dict."""

    @classmethod
    def from_config(cls, config):
        """Rebuilds a codec from :meth:`get_config`; unknown keys raise ``ValueError``.

        Example:
            >>> import zoo.codecs
            >>> zoo.codecs.Heatmap2DCodec.from_config({"input_size": 256, "heatmap_size": 64})
            Heatmap2DCodec(input_size=256, heatmap_size=64, ...)
        """
        if not isinstance(config, dict):
            raise ValueError(f"{cls.__name__} config must be a dict. Received: config={config!r}")
        parameters = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            allowed = sorted(name for name in parameters if name != "self")
            unknown = sorted(set(config) - set(allowed))
            if unknown:
                raise ValueError(
                    f"Unknown {cls.__name__} config key(s). Allowed: {allowed}. Received: "
                    + ", ".join(f"{key}={config[key]!r}" for key in unknown))
        return cls(**config)

    @classmethod
    def fitted_config(cls, input_size, target_shapes):
        """The config entries that depend on the model: ``input_size`` and ``size_fields``.

        Override for sizes that are not a plain axis length.

        Args:
            input_size: the model's input side ``F``.
            target_shapes: ``{key: one example's target shape}`` read off the model outputs.

        Returns:
            dict of config entries to set.
        """
        values = {"input_size": int(input_size)}
        for name, (key, axis) in dict(cls.size_fields).items():
            size = target_shapes[key][axis]
            if size is None:
                raise ValueError(f"The model's output {key!r} has an unknown size on axis "
                                 f"{axis}. Received: shape={target_shapes[key]}")
            values[name] = int(size)
        return values

    @classmethod
    def _target_shapes(cls, model_or_shapes, input_size):
        """``(input_size, {key: one example's target shape})`` of a model or output shapes."""
        if isinstance(model_or_shapes, dict):
            if input_size is None:
                raise ValueError("Pass `input_size` with output shapes. Received: input_size=None")
            shapes = {key: tuple(shape) for key, shape in model_or_shapes.items()}
        else:
            outputs = getattr(model_or_shapes, "output", None)
            if not isinstance(outputs, dict):
                raise ValueError(f"{cls.__name__} needs a model with dict outputs "
                                 f"{list(cls.target_keys)}. Received: model.output={outputs!r}")
            shapes = {key: tuple(tensor.shape) for key, tensor in outputs.items()}
            input_size = model_input_size(model_or_shapes)
        missing = [key for key in cls.target_keys if key not in shapes]
        if missing:
            raise ValueError(
                f"{cls.__name__} decodes outputs {list(cls.target_keys)}; the model lacks "
                f"{missing}. Received: outputs={sorted(shapes)}")
        examples = {}
        for key, rank in zip(cls.target_keys, cls.target_ranks):
            shape = shapes[key]
            if len(shape) not in (rank, rank + 1):
                raise ValueError(
                    f"{cls.__name__} expects outputs[{key!r}] of rank {rank} (or {rank + 1} "
                    f"with stacks or frames). Received: outputs[{key!r}].shape={shape}")
            examples[key] = shape[len(shape) - (rank - 1):]
        return input_size, examples

    @classmethod
    def from_model(cls, model_or_shapes, input_size=None, **config):
        """A codec of this class for a built model: ``config`` plus the model's sizes.

        Args:
            model_or_shapes: a built ``keras.Model`` with dict outputs, or a dict
                ``{key: output shape}`` (batch first) together with ``input_size``.
            input_size: the input side ``F`` when shapes are given.
            **config: the other ``__init__`` arguments (sigma, decoding method, ...).

        Returns:
            A codec.

        Example:
            >>> import zoo.codecs
            >>> zoo.codecs.Heatmap1DCodec.from_model({"x": (None, 5, 96), "y": (None, 5, 96)},
            ...                                      input_size=32).heatmap_size
            96
        """
        input_size, examples = cls._target_shapes(model_or_shapes, input_size)
        return cls.from_config(cls._fit_values(config, input_size, examples))

    @classmethod
    def _fit_values(cls, config, input_size, examples):
        values = dict(config)
        if values.get("input_size") not in (None, int(input_size)):
            for name in cls.resized_defaults:  # pixels of another F: the default scales
                values.pop(name, None)
        values.update(cls.fitted_config(input_size, examples))
        return values

    def fit_to(self, model_or_shapes, input_size=None):
        """This codec with its sizes fitted to a built model's input and outputs.

        Training, evaluation, inference and export all call this, so a model built with
        other sizes than its preset (``zoo.create(name, heatmap_length=...)``) is encoded and
        decoded with its own sizes. Outputs may carry one axis more than the targets after the
        batch (the stacks of a detector, the frames of a tracker).

        Args:
            model_or_shapes: a built ``keras.Model`` with dict outputs, or a dict
                ``{key: output shape}`` (batch first) together with ``input_size``.
            input_size: the input side ``F`` when shapes are given.

        Returns:
            A codec of the same class (``self`` when nothing changes).

        Raises:
            ValueError: the model lacks one of ``target_keys`` or has the wrong rank there.

        Example:
            >>> import zoo.codecs
            >>> codec = zoo.codecs.Heatmap2DCodec(256, 64)
            >>> codec.fit_to({"heatmap": (None, 4, 32, 32, 68)}, input_size=128).heatmap_size
            32
        """
        input_size, examples = self._target_shapes(model_or_shapes, input_size)
        config = dict(self.get_config())
        values = self._fit_values(config, input_size, examples)
        if config.get("num_landmarks") is not None:
            batched = {key: (None,) + examples[key] for key in self.target_keys}
            values["num_landmarks"] = self.count_landmarks(batched)
        if values == config:
            return self
        return type(self).from_config(values)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))
