"""Landmark trackers: a per-frame detector followed by temporal refinement (Sec. 4.2, Fig. 2b).

* :func:`build_aheat1d_tracker`: the attentive 1D-heatmap detector (``build_aheat1d``) on
  every frame, its last-stack heatmaps ``E_t^x``, ``E_t^y`` refined on each axis by a
  :class:`zoo.layers.TemporalRefinement` (Eq. 13), trained with Eq. 14 over all frames.
* :func:`build_fan2d_tracker`: the 2D baseline of the paper's Table 1 (FAN detector + a
  recurrent refinement of its 2D heatmaps, after Xi et al.'s temporal recurrent learning,
  simplified to the same recursion with 2D convolutions).
* :func:`streaming`: the explicit-state step model ``(frame, state) -> (landmarks, heatmaps,
  new state)`` sharing the tracker's weights, for video inference and export.

Trackers take clips ``(B, T, F, F, 3)`` float32 RGB in [0, 255] and return
``{"x": (B, T, N, L), "y": (B, T, N, L)}`` (1D) or ``{"heatmap": (B, T, H, W, N)}`` (2D).
"""
import copy
import inspect

import keras
import numpy as np
from keras import ops

from zoo import losses
from zoo.layers.temporal_refinement import TemporalRefinement
from zoo.models import presets
from zoo.models.aheat1d import build_aheat1d
from zoo.models.fan2d import build_fan2d
from zoo.models.inference import last_stack_outputs

FRAME_DETECTOR_NAME = "frame_detector"
REFINEMENT_PREFIX = "refine_"


@keras.saving.register_keras_serializable(package="zoo")
class FrameDetector(keras.layers.Layer):
    """Runs an image detector on every frame of a clip and keeps its last stack.

    Frames are folded into the batch (``(B, T, F, F, 3) -> (B*T, F, F, 3)``), so the detector
    runs as one batch, and its outputs ``{key: (B*T, S, ...)}`` are unfolded to
    ``{key: (B, T, ...)}`` of the last stack ``S - 1`` (the one used for inference).

    Args:
        detector: a ``keras.Model`` returning a dict of stacked heatmaps (``build_aheat1d``,
            ``build_fan2d``), or its serialized dict. Freeze it with ``detector.trainable =
            False`` (or ``build_*_tracker(freeze_detector=True)``).
        **kwargs: passed to ``keras.layers.Layer``.

    Returns:
        dict of the detector's last-stack heatmaps with a time axis: ``(B, T, ...)``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> detector = zoo.models.build_aheat1d(num_landmarks=5, input_size=32, num_stacks=1,
        ...     width=16, hourglass_depth=2, heatmap_length=24, head_channels=8,
        ...     compress_steps=1)
        >>> layer = zoo.models.tracker.FrameDetector(detector)
        >>> tuple(layer(np.zeros((2, 3, 32, 32, 3), "float32"))["x"].shape)
        (2, 3, 5, 24)
    """

    def __init__(self, detector, **kwargs):
        super().__init__(**kwargs)
        if isinstance(detector, dict):
            detector = keras.saving.deserialize_keras_object(detector)
        if not isinstance(detector, keras.Model):
            raise ValueError(f"`detector` must be a keras.Model or its serialized dict. "
                             f"Received: detector={detector!r}")
        if not isinstance(detector.output, dict):
            raise ValueError("`detector` must return a dict of stacked heatmaps. Received: "
                             f"detector.output={detector.output!r}")
        self.detector = detector

    def build(self, clips_shape):
        if not self.detector.built:
            self.detector.build((None,) + tuple(clips_shape[2:]))

    def call(self, clips, training=None):
        time = clips.shape[1] if clips.shape[1] is not None else ops.shape(clips)[1]
        frames = ops.reshape(clips, (-1,) + tuple(clips.shape[2:]))
        outputs = self.detector(frames, training=training)
        return {key: ops.reshape(value[:, -1], (-1, time) + tuple(value.shape[2:]))
                for key, value in outputs.items()}

    def compute_output_shape(self, clips_shape):
        return {key: tuple(clips_shape[:2]) + tuple(value.shape[2:])
                for key, value in self.detector.output.items()}

    def get_config(self):
        config = super().get_config()
        config.update({"detector": keras.saving.serialize_keras_object(self.detector)})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["detector"] = keras.saving.deserialize_keras_object(config["detector"])
        return cls(**config)


# Eq. 14 lives in zoo.losses with the other losses; kept here for older imports.
TrackingLoss = losses.TrackingLoss


def _load_detector_weights(detector, detector_weights):
    path = str(detector_weights)
    if path.endswith(".keras"):
        detector.set_weights(keras.saving.load_model(path, compile=False).get_weights())
    elif path.endswith(".weights.h5"):
        detector.load_weights(path)
    else:
        raise ValueError("`detector_weights` must be a `.keras` or `.weights.h5` path. "
                         f"Received: detector_weights={detector_weights!r}")


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")


def _build_tracker(detector, rank, clip_length, decay, refinement_filters,
                   refinement_kernel_size, refinement_downsample, refinement_initializer,
                   unroll, freeze_detector, detector_weights, return_detections, name):
    """Shared graph of both trackers: FrameDetector -> one TemporalRefinement per output key."""
    _check_bool("freeze_detector", freeze_detector)
    _check_bool("unroll", unroll)
    _check_bool("return_detections", return_detections)
    if clip_length is not None and (isinstance(clip_length, bool)
                                    or not isinstance(clip_length, int) or clip_length < 1):
        raise ValueError(f"`clip_length` must be None or a positive int. "
                         f"Received: clip_length={clip_length!r}")
    if unroll and clip_length is None:
        raise ValueError("`unroll=True` needs a fixed `clip_length`. Received: clip_length=None")
    if detector_weights is not None:
        _load_detector_weights(detector, detector_weights)
    if freeze_detector:
        detector.trainable = False

    # Layers.
    frame_detector = FrameDetector(detector, name=FRAME_DETECTOR_NAME)
    keys = sorted(detector.output)
    refinements = {
        key: TemporalRefinement(
            decay=decay, filters=refinement_filters, kernel_size=refinement_kernel_size,
            downsample=refinement_downsample, rank=rank,
            output_initializer=refinement_initializer, unroll=unroll,
            name=f"{REFINEMENT_PREFIX}{key}")
        for key in keys}

    # Functional graph: E_t per frame, then E_t + E'_t (Eq. 13) per axis.
    clips = keras.Input((clip_length,) + tuple(detector.input_shape[1:]), dtype="float32",
                        name="clips")
    detections = frame_detector(clips)
    outputs = {key: refinements[key](detections[key]) for key in keys}
    if return_detections:
        outputs.update({f"detector_{key}": detections[key] for key in keys})

    # Config: a plain functional model; its name carries the preset name.
    return keras.Model(clips, outputs, name=name)


def build_aheat1d_tracker(detector=None, detector_weights=None, freeze_detector=False,
                          clip_length=None, decay=0.3, refinement_filters=32,
                          refinement_kernel_size=4, refinement_downsample=4,
                          refinement_initializer="zeros", unroll=False,
                          return_detections=False, name="aheat1d_tracker", **detector_kwargs):
    """Builds the attentive 1D-heatmap tracker (Sec. 4.2, Fig. 2b) for training on clips.

    Every frame goes through the detector; its last-stack heatmaps ``E_t^x``, ``E_t^y``
    (``(N, L)`` each) are refined by one :class:`zoo.layers.TemporalRefinement` per axis
    (CNN_3^x/CNN_4^x and CNN_3^y/CNN_4^y, Eq. 13). Train with :class:`TrackingLoss` on both
    outputs (Eq. 14 over all frames).

    Args:
        detector: None (build ``zoo.models.build_aheat1d(**detector_kwargs)``) or a built
            detector model (e.g. ``zoo.create("aheat1d_300w")``), whose weights are shared.
        detector_weights: optional path to a detector checkpoint (``.keras`` or
            ``.weights.h5``) loaded into the detector before building.
        freeze_detector: True trains only the refinement (detector weights and its batch
            statistics fixed); False fine-tunes everything.
        clip_length: T of the input clips, or None for any length.
        decay: lambda of Eq. 13 in [0, 1] (paper: 0.3; 0 = no temporal information).
        refinement_filters: channels of U_t / V_t.
        refinement_kernel_size: kernel size of CNN_3 / CNN_4, at least
            ``refinement_downsample`` (default 4 = the stride: CNN_3 reads every bin once).
        refinement_downsample: stride of CNN_3 along L (L must be divisible by it).
        refinement_initializer: initializer of CNN_4's last kernel; ``"zeros"`` makes the
            fresh tracker output exactly the detector's heatmaps.
        unroll: unroll the recursion over ``clip_length`` (export without while loops).
        return_detections: also output the detector's heatmaps as ``detector_x``/``detector_y``.
        name: model name (presets use the preset name).
        **detector_kwargs: arguments of ``zoo.models.build_aheat1d`` when ``detector`` is None.

    Returns:
        A ``keras.Model``: clips ``(B, T, F, F, 3)`` float32 in [0, 255] ->
        ``{"x": (B, T, N, L), "y": (B, T, N, L)}``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> tracker = zoo.models.build_aheat1d_tracker(
        ...     num_landmarks=5, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
        ...     heatmap_length=32, head_channels=8, compress_steps=1, refinement_filters=8,
        ...     refinement_downsample=2)
        >>> tuple(tracker(np.zeros((1, 3, 32, 32, 3), "float32"))["x"].shape)
        (1, 3, 5, 32)

    Reference:
        Yin et al., ACM MM 2020, Sec. 4.2, Eq. 13-14.
    """
    if detector is None:
        detector = build_aheat1d(**detector_kwargs)
    elif detector_kwargs:
        raise ValueError("Pass either `detector` or detector arguments, not both. "
                         f"Received: detector_kwargs={sorted(detector_kwargs)}")
    if sorted(detector.output) != ["x", "y"]:
        raise ValueError("The 1D tracker needs a detector returning {'x', 'y'}. "
                         f"Received: detector outputs={sorted(detector.output)}")
    return _build_tracker(detector, 1, clip_length, decay, refinement_filters,
                          refinement_kernel_size, refinement_downsample,
                          refinement_initializer, unroll, freeze_detector, detector_weights,
                          return_detections, name)


def build_fan2d_tracker(detector=None, detector_weights=None, freeze_detector=False,
                        clip_length=None, decay=0.3, refinement_filters=32,
                        refinement_kernel_size=3, refinement_downsample=2,
                        refinement_initializer="zeros", unroll=False, return_detections=False,
                        name="fan2d_tracker", **detector_kwargs):
    """Builds the 2D-heatmap baseline tracker of the paper's Table 1.

    FAN (``zoo.models.fan2d``) on every frame, its last-stack heatmaps ``(H, W, N)`` refined
    by a recurrent :class:`zoo.layers.TemporalRefinement` with ``rank=2`` (Conv2D CNN_3/CNN_4,
    the same recursion V_t = U_t + lambda V_{t-1}); a simplified form of Xi et al.'s temporal
    recurrent learning (their tracker feeds the previous heatmaps back through a recurrent
    network; here the recurrence is the decayed feature sum of Eq. 13, so both trackers of
    Table 1 differ only in the heatmap structure).

    Args:
        detector: None (build ``zoo.models.fan2d.build_fan2d(**detector_kwargs)``) or a built
            2D detector returning ``{"heatmap": (B, S, H, W, N)}``.
        detector_weights, freeze_detector, clip_length, decay, refinement_filters,
        refinement_kernel_size, refinement_downsample, refinement_initializer, unroll,
        return_detections, name: as in :func:`build_aheat1d_tracker` (the downsampling applies
            to H and W).
        **detector_kwargs: arguments of the 2D detector builder when ``detector`` is None.

    Returns:
        A ``keras.Model``: clips ``(B, T, F, F, 3)`` -> ``{"heatmap": (B, T, H, W, N)}``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> tracker = zoo.models.build_fan2d_tracker(
        ...     num_landmarks=5, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
        ...     heatmap_size=8, refinement_filters=8)
        >>> tuple(tracker(np.zeros((1, 3, 32, 32, 3), "float32"))["heatmap"].shape)
        (1, 3, 8, 8, 5)

    Reference:
        Xi et al., "Spatial and temporal recurrent learning" ([19] of Yin et al.); Yin et al.,
        ACM MM 2020, Table 1.
    """
    if detector is None:
        detector = build_fan2d(**detector_kwargs)
    elif detector_kwargs:
        raise ValueError("Pass either `detector` or detector arguments, not both. "
                         f"Received: detector_kwargs={sorted(detector_kwargs)}")
    if sorted(detector.output) != ["heatmap"]:
        raise ValueError("The 2D tracker needs a detector returning {'heatmap'}. "
                         f"Received: detector outputs={sorted(detector.output)}")
    return _build_tracker(detector, 2, clip_length, decay, refinement_filters,
                          refinement_kernel_size, refinement_downsample,
                          refinement_initializer, unroll, freeze_detector, detector_weights,
                          return_detections, name)


def _default_codec(tracker):
    """The tracker's codec, fitted to its sizes (``zoo.models.presets.model_codec``: the preset's
    codec found by the model's name, else its architecture's), so ``zoo.create(name,
    input_size=...)`` still decodes right (as ``zoo.models.inference`` does for detectors)."""
    import zoo.codecs

    return zoo.codecs.serialize(presets.model_codec(tracker))


def last_stack_model(detector):
    """The detector's last-stack outputs ``{key: (B, ...)}`` as a model sharing its layers.

    The same values as ``detector(images)[key][:, -1]``, read where the last stack is made
    (``zoo.models.inference.last_stack_outputs``), so the exported step has no run-time-shaped
    reshape or strided slice outside LiteRT's XNNPACK delegate (issue 13).

    Args:
        detector: a functional detector returning ``{key: (B, S, ...)}``.

    Returns:
        A ``keras.Model`` from the detector's input to ``{key: (B, ...)}``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> detector = zoo.models.build_aheat1d(num_landmarks=5, input_size=32, num_stacks=2,
        ...     width=16, hourglass_depth=2, heatmap_length=24, head_channels=8,
        ...     compress_steps=1)
        >>> images = np.random.rand(1, 32, 32, 3).astype("float32") * 255
        >>> last = zoo.models.tracker.last_stack_model(detector)(images)
        >>> bool(np.allclose(last["x"], detector(images)["x"][:, -1], atol=1e-6))
        True
    """
    return keras.Model(detector.input, last_stack_outputs(detector),
                       name=f"{detector.name}_last_stack")


class Streaming:
    """Frame-by-frame inference for a tracker, with the state as explicit input and output.

    Built by :func:`zoo.streaming`. ``step_model`` shares the tracker's weights (its layers
    are the tracker's detector and refinement cells), and takes one frame per call, so it
    exports to SavedModel/TFLite/ONNX without stateful variables.

    Attributes:
        step_model: ``keras.Model`` with inputs ``{"frame": (B, F, F, 3), "state_<key>": ...}``
            and outputs ``{"landmarks": (B, N, 2), "scores": (B, N), <key>: refined heatmaps,
            "state_<key>": new state}`` (keys ``x``, ``y`` for the 1D tracker, ``heatmap``
            for the 2D one).
        state_shapes: dict ``{"state_<key>": shape without batch}``.
    """

    def __init__(self, tracker, codec=None):
        from zoo.layers.heatmap_decoder import HeatmapDecoder

        try:
            frame_detector = tracker.get_layer(FRAME_DETECTOR_NAME)
        except ValueError:
            raise ValueError("`tracker` must be built by zoo.models.build_*_tracker (no layer "
                             f"{FRAME_DETECTOR_NAME!r}). Received: tracker={tracker.name!r}") \
                from None
        detector = frame_detector.detector
        keys = sorted(detector.output)
        cells = {key: tracker.get_layer(f"{REFINEMENT_PREFIX}{key}").cell for key in keys}
        self.tracker = tracker
        self.codec = codec if codec is not None else _default_codec(tracker)
        self.keys = keys
        self.state_shapes = {f"state_{key}": tuple(cells[key].state_shape) for key in keys}

        # Functional graph: detector (last stack) -> refinement cells with explicit state.
        frame = keras.Input(tuple(detector.input_shape[1:]), dtype="float32", name="frame")
        states = {name: keras.Input(shape, dtype="float32", name=name)
                  for name, shape in self.state_shapes.items()}
        detections = last_stack_model(detector)(frame)
        outputs = {}
        for key in keys:
            refined, new_state = cells[key](detections[key], [states[f"state_{key}"]])
            outputs[key] = refined
            outputs[f"state_{key}"] = new_state[0]
        outputs.update(HeatmapDecoder(self.codec, name="decoder")(
            {key: outputs[key] for key in keys}))
        self.step_model = keras.Model({"frame": frame, **states}, outputs,
                                      name=f"{tracker.name}_step")

    def initial_state(self, batch_size=1):
        """Zero state ``V_0`` for ``batch_size`` videos (a new video or a lost face).

        Args:
            batch_size: positive int.

        Returns:
            dict ``{"state_<key>": float32 zeros (batch_size, *state_shape)}``.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int. Received: "
                             f"batch_size={batch_size!r}")
        return {name: np.zeros((batch_size,) + shape, "float32")
                for name, shape in self.state_shapes.items()}

    def step(self, frame, state):
        """One frame: ``(frame (B, F, F, 3), state) -> (outputs dict, new state dict)``."""
        inputs = {"frame": frame, **{name: state[name] for name in self.state_shapes}}
        inputs = {name: ops.convert_to_tensor(value, "float32") for name, value in inputs.items()}
        outputs = self.step_model(inputs, training=False)
        new_state = {name: outputs[name] for name in self.state_shapes}
        return outputs, new_state

    def track(self, frames, state=None):
        """Tracks a video frame by frame (a Python loop over :meth:`step`).

        Args:
            frames: ``(T, F, F, 3)`` (one video) or ``(B, T, F, F, 3)`` (B videos).
            state: optional state from a previous call (continues the video); default zeros.

        Returns:
            ``(results, state)``: results is a dict of numpy arrays with a time axis after
            the batch (``landmarks (B, T, N, 2)``, ``scores``, heatmaps; no batch axis when
            ``frames`` had none), and the state after the last frame.
        """
        frames = np.asarray(frames, dtype="float32")
        single = frames.ndim == 4
        if single:
            frames = frames[None]
        if frames.ndim != 5:
            raise ValueError("`frames` must be (T, F, F, 3) or (B, T, F, F, 3). Received: "
                             f"frames.shape={frames.shape}")
        if state is None:
            state = self.initial_state(frames.shape[0])
        results = {}
        for t in range(frames.shape[1]):
            outputs, state = self.step(frames[:, t], state)
            for key, value in outputs.items():
                if not key.startswith("state_"):
                    results.setdefault(key, []).append(ops.convert_to_numpy(value))
        results = {key: np.stack(values, axis=1) for key, values in results.items()}
        if single:
            results = {key: value[0] for key, value in results.items()}
        return results, {k: ops.convert_to_numpy(v) for k, v in state.items()}


def streaming(tracker, codec=None):
    """Explicit-state streaming form of a tracker: a step model plus its initial state.

    Args:
        tracker: a model from :func:`build_aheat1d_tracker` / :func:`build_fan2d_tracker`
            (or ``zoo.create`` of a tracker preset, or one loaded from ``.keras``).
        codec: codec for the landmarks output; default: the preset's codec (found by the
            tracker's name), else ``Heatmap1DCodec``/``Heatmap2DCodec`` for its shapes.

    Returns:
        A :class:`Streaming` with ``.step_model``, ``.initial_state(batch_size)``,
        ``.step(frame, state)`` and ``.track(frames)``.

    Example:
        >>> import numpy as np
        >>> import zoo
        >>> tracker = zoo.models.build_aheat1d_tracker(
        ...     num_landmarks=5, input_size=32, num_stacks=1, width=16, hourglass_depth=2,
        ...     heatmap_length=32, head_channels=8, compress_steps=1, refinement_filters=8,
        ...     refinement_downsample=2)
        >>> stream = zoo.streaming(tracker)
        >>> state = stream.initial_state(batch_size=1)
        >>> outputs, state = stream.step(np.zeros((1, 32, 32, 3), "float32"), state)
        >>> tuple(outputs["landmarks"].shape)
        (1, 5, 2)
    """
    if not isinstance(tracker, keras.Model):
        raise ValueError(f"`tracker` must be a keras.Model. Received: tracker={tracker!r}")
    return Streaming(tracker, codec=codec)


# Presets ---------------------------------------------------------------------------------------

def _architecture(tracker_builder, detector_builder):
    """A preset builder for ``zoo.create``: the tracker's arguments plus the detector's.

    ``zoo.create`` checks overrides against the builder's signature, so the signature lists
    the detector builder's arguments explicitly instead of ``**detector_kwargs``.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    tracker_parameters = [
        parameter.replace(kind=keyword)
        for name, parameter in inspect.signature(tracker_builder).parameters.items()
        if name not in ("detector", "detector_kwargs")]
    detector_parameters = [
        parameter.replace(kind=keyword)
        for name, parameter in inspect.signature(detector_builder).parameters.items()
        if name != "name"]

    def architecture(**kwargs):
        return tracker_builder(**kwargs)

    architecture.__signature__ = inspect.Signature(tracker_parameters + detector_parameters)
    architecture.__name__ = tracker_builder.__name__
    architecture.__doc__ = tracker_builder.__doc__
    return architecture


def refinement_num_params(num_landmarks, filters, kernel_size, rank=1):
    """Parameters of one :class:`zoo.layers.TemporalRefinement` (CNN_3 + CNN_4) per axis.

    CNN_3: a strided convolution ``N -> filters`` and one ``filters -> filters``; CNN_4: a
    transposed convolution ``filters -> filters`` and a 1x1 convolution ``filters -> N``
    (kernels of ``kernel_size`` per spatial axis, all with biases).

    Args:
        num_landmarks: N (the heatmap channels).
        filters: channels of ``U_t`` / ``V_t``.
        kernel_size: kernel size per spatial axis.
        rank: 1 (1D heatmaps, one refinement per axis) or 2 (2D heatmaps).

    Returns:
        int.

    Example:
        >>> from zoo.models.tracker import refinement_num_params
        >>> refinement_num_params(68, 16, 4)
        7604
    """
    taps = kernel_size ** rank
    return ((taps * num_landmarks * filters + filters) + 2 * (taps * filters * filters + filters)
            + (filters * num_landmarks + num_landmarks))


# Trained weights in zoo/weights/ (issue 13): the mobile tracker's refinement trained on 300-W
# motion clips (zoo.data.motion_clips) over the frozen shipped mobile detector, 1,200 steps.
_SHIPPED = {
    "aheat1d_tracker_mobile_300vw": {
        "weights_url": "aheat1d_tracker_mobile_300vw.weights.h5",
        "weights_sha256": "25c4ebb75a677c49647a749206ab58a8d880a83afcf97e221624e7808b80126b"},
    # The phone tracker: refinement trained 5,000 steps over the frozen aheat1d_lite_300w.
    "aheat1d_tracker_lite_300vw": {
        "weights_url": "aheat1d_tracker_lite_300vw.weights.h5",
        "weights_sha256": "7c1819e5fb9f946f78108b0e1c90b3f4e2173615c0382864c68233f33b9c0e83"},
}


def _register_presets():
    # The registry records (zoo.models.presets.Architecture) of the clip architectures.
    # A non-zero CNN_4 output kernel in the tiny config: with the presets' zero one (a fresh
    # tracker outputs the detector's heatmaps) no gradient reaches CNN_3/CNN_4 on the first
    # step, and the contract checks that one fit step moves every trainable weight.
    refinement = {"clip_length": 2, "refinement_filters": 8, "refinement_downsample": 2,
                  "refinement_initializer": "glorot_uniform"}
    for name, builder, detector_builder, detector in (
            ("aheat1d_tracker", build_aheat1d_tracker, build_aheat1d, "aheat1d"),
            ("fan2d_tracker", build_fan2d_tracker, build_fan2d, "fan2d")):
        image = presets.get_architecture(detector)
        presets.register_architecture(presets.Architecture(
            name=name, builder=_architecture(builder, detector_builder), task="clip",
            losses=losses.tracking_losses,  # Eq. 14 on every output, summed over the frames
            codec=image.codec, tiny_config={**image.tiny_config, **refinement},
            train_fields={**image.train_fields, "temporal_lambda": "decay"},
            shape_probe={**image.shape_probe, "refinement_filters": 4},
            description=f"{image.description} + temporal refinement (Eq. 13)"), overwrite=True)
    paper = ("Paper tracker (Yin et al. 2020, Sec. 4.2, Fig. 2b): {detector} on every frame, "
             "temporal refinement (Eq. 13) with lambda = 0.3 (cross-validated in the paper), "
             "CNN_3 kernel {kernel} and stride {downsample} (every bin read; kernel and "
             "stride are this zoo's choice, the paper does not give them) and {filters} "
             "channels; Eq. 14 loss over the clip")
    # Kernel >= stride: with kernel 3 and stride 4 (before issue 11) bins 4i+3 were never read
    # by CNN_3 and CNN_4 wrote only a constant there.
    for name, detector_preset, tracker_config, description in (
            ("aheat1d_tracker_300vw", "aheat1d_300w",
             {"decay": 0.3, "refinement_filters": 64, "refinement_kernel_size": 4,
              "refinement_downsample": 4},
             "the 300W detector (aheat1d_300w)"),
            ("aheat1d_tracker_mobile_300vw", "aheat1d_mobile_300w",
             {"decay": 0.3, "refinement_filters": 16, "refinement_kernel_size": 4,
              "refinement_downsample": 4},
             "the phone detector (aheat1d_mobile_300w)"),
            ("aheat1d_tracker_lite_300vw", "aheat1d_lite_300w",
             {"decay": 0.3, "refinement_filters": 16, "refinement_kernel_size": 4,
              "refinement_downsample": 4},
             "the phone tracker's lite detector (aheat1d_lite_300w)"),
            ("fan2d_tracker_300vw", "fan2d_300w",
             {"decay": 0.3, "refinement_filters": 64, "refinement_kernel_size": 3,
              "refinement_downsample": 2},
             "the 2D FAN baseline detector (fan2d_300w, Table 1)")):
        detector = presets.get_preset(detector_preset)
        architecture = "aheat1d_tracker" if detector.architecture == "aheat1d" \
            else "fan2d_tracker"
        rank = 1 if architecture == "aheat1d_tracker" else 2
        # The detector's count (it follows a re-sized detector preset) plus the refinement
        # of each output: x and y (1D) or the 2D heatmap.
        num_params = None if detector.num_params is None else detector.num_params + (
            (2 if rank == 1 else 1) * refinement_num_params(
                detector.config["num_landmarks"], tracker_config["refinement_filters"],
                tracker_config["refinement_kernel_size"], rank))
        presets.register_preset(presets.Preset(
            name=name, architecture=architecture,
            config={**copy.deepcopy(detector.config), **tracker_config},
            input_size=detector.input_size, normalization=dict(detector.normalization),
            scheme=detector.scheme, codec=copy.deepcopy(detector.codec),
            description=paper.format(detector=description,
                                     kernel=tracker_config["refinement_kernel_size"],
                                     downsample=tracker_config["refinement_downsample"],
                                     filters=tracker_config["refinement_filters"]) + ".",
            num_params=num_params, **_SHIPPED.get(name, {})), overwrite=True)


_register_presets()
