"""Every training loss of the zoo, chosen per architecture by the registry.

* Eq. 11 (detectors): ``L_de = sum_n ||h^x_n - h^x*_n||^2 + ||h^y_n - h^y*_n||^2``, squared
  error summed over landmarks and bins; with intermediate supervision also over the stacks
  (FAN). :func:`heatmap_regression_loss`, :class:`HeatmapRegressionLoss`.
* Eq. 14 (trackers): ``L_tr = sum_t sum_n ||h_tn - h*_tn||^2`` over the frames of a clip.
  :func:`tracking_loss`, :class:`TrackingLoss`.

An architecture record (``zoo.models.presets.Architecture``) names a function
``losses(codec) -> {output key: per-example loss}`` (:func:`heatmap_losses`,
:func:`tracking_losses`, or its own); the training loop sums them with
:func:`per_example_loss`, and ``model.compile`` takes them through :func:`keras_losses`.
A per-example loss is ``fn(y_true, y_pred) -> (B,)``; the batch is averaged by the caller.

Example:
    >>> import zoo, zoo.losses
    >>> model = zoo.create("aheat1d_mobile_300w")
    >>> model.compile(optimizer="adam", loss=zoo.losses.detector_losses(model))
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
def heatmap_regression_loss(y_true, y_pred):
    """Per-sample Eq. 11 loss: squared error summed over every axis but the batch.

    ``y_pred`` may carry a stack axis after the batch that ``y_true`` lacks (training model
    outputs ``(B, S, N, L)`` or ``(B, S, H, W, N)``, targets ``(B, N, L)`` / ``(B, H, W, N)``):
    the target is then broadcast over the stacks and the stacks are summed.

    Args:
        y_true: target heatmaps, ``(B, ...)`` or ``(B, S, ...)``.
        y_pred: predicted heatmaps, ``(B, S, ...)`` or the shape of ``y_true``.

    Returns:
        A ``(B,)`` tensor.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> target = np.zeros((2, 68, 768), "float32")
        >>> prediction = np.ones((2, 4, 68, 768), "float32")
        >>> float(zoo.losses.heatmap_regression_loss(target, prediction)[0])
        208896.0
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    rank_true, rank_pred = len(y_true.shape), len(y_pred.shape)
    if rank_pred == rank_true + 1:
        y_true = ops.expand_dims(y_true, 1)  # broadcast the target over the stacks
    elif rank_pred != rank_true:
        raise ValueError(
            "heatmap_regression_loss takes targets (B, ...) and predictions (B, S, ...) or of "
            f"the same rank. Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )
    # Eq. 11: sum of squared errors over landmarks and bins (and over stacks).
    return ops.sum(ops.square(y_pred - y_true), axis=tuple(range(1, rank_pred)))


@keras.saving.register_keras_serializable(package="zoo")
class HeatmapRegressionLoss(keras.losses.Loss):
    """Eq. 11 as a Keras loss (summed over landmarks, bins and stacks; mean over the batch).

    Args:
        name: loss name.
        reduction: Keras reduction over the batch (default ``"sum_over_batch_size"``).

    Example:
        >>> import zoo.losses
        >>> loss = zoo.losses.HeatmapRegressionLoss()
    """

    def __init__(self, name="heatmap_regression", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return heatmap_regression_loss(y_true, y_pred)


@keras.saving.register_keras_serializable(package="zoo")
def tracking_loss(y_true, y_pred):
    """Per-clip Eq. 14 loss: squared error summed over frames, landmarks and bins.

    ``L_tr = sum_t sum_n ||h_tn - h*_tn||^2`` for one output (``x`` or ``y``; the two axes of
    Eq. 14 are the sum over the output keys).

    Args:
        y_true: target heatmaps ``(B, T, ...)``.
        y_pred: predicted heatmaps of the same shape.

    Returns:
        A ``(B,)`` tensor.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> float(zoo.losses.tracking_loss(np.zeros((2, 3, 4, 8)), np.ones((2, 3, 4, 8)))[0])
        96.0
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if len(y_true.shape) != len(y_pred.shape):
        raise ValueError(
            "tracking_loss takes targets and predictions of the same shape (B, T, ...). "
            f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")
    squared = ops.square(y_pred - y_true)
    # Eq. 14: sum over t, n and the heatmap bins; one value per clip.
    return ops.sum(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class TrackingLoss(keras.losses.Loss):
    """Eq. 14 for one output as a Keras loss: summed over frames and heatmap entries.

    ``L_tr = sum_t sum_n ||h_tn - h*_tn||^2``, averaged over the batch. Use one per output key
    (``{"x": TrackingLoss(), "y": TrackingLoss()}``: Keras sums them, giving both axes of
    Eq. 14).

    Args:
        name: loss name.
        **kwargs: passed to ``keras.losses.Loss``.

    Returns:
        Called as ``loss(y_true, y_pred)`` on ``(B, T, ...)``: a scalar.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> loss = zoo.losses.TrackingLoss()
        >>> float(loss(np.zeros((2, 3, 4, 8)), np.ones((2, 3, 4, 8))))
        96.0
    """

    def __init__(self, name="tracking_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return tracking_loss(y_true, y_pred)


def heatmap_losses(codec):
    """Eq. 11 on every target of ``codec``: the losses of the image detectors.

    Args:
        codec: the architecture's codec (its ``target_keys`` name the outputs).

    Returns:
        ``{key: heatmap_regression_loss}``.

    Example:
        >>> import zoo.codecs, zoo.losses
        >>> sorted(zoo.losses.heatmap_losses(zoo.codecs.Heatmap1DCodec(256, 768)))
        ['x', 'y']
    """
    return {key: heatmap_regression_loss for key in codec.target_keys}


def tracking_losses(codec):
    """Eq. 14 on every target of ``codec``: the losses of the clip trackers.

    Args:
        codec: the tracker's (image) codec; it encodes every frame.

    Returns:
        ``{key: tracking_loss}``.

    Example:
        >>> import zoo.codecs, zoo.losses
        >>> sorted(zoo.losses.tracking_losses(zoo.codecs.Heatmap2DCodec(256, 64)))
        ['heatmap']
    """
    return {key: tracking_loss for key in codec.target_keys}


def per_example_loss(losses):
    """The training loop's loss: the per-output losses summed, one value per example.

    Args:
        losses: ``{output key: fn(y_true, y_pred) -> (B,)}`` (from an architecture record).

    Returns:
        ``loss_fn(targets, outputs) -> (B,)`` over dicts of targets and outputs; a target key
        without a loss, or a loss without a target, raises ``ValueError``.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> loss_fn = zoo.losses.per_example_loss({"x": zoo.losses.heatmap_regression_loss,
        ...                                         "y": zoo.losses.heatmap_regression_loss})
        >>> targets = {k: np.zeros((2, 3, 8), "float32") for k in "xy"}
        >>> outputs = {k: np.ones((2, 1, 3, 8), "float32") for k in "xy"}
        >>> [float(v) for v in loss_fn(targets, outputs)]
        [48.0, 48.0]
    """
    losses = _check_losses(losses)

    def loss_fn(targets, outputs):
        if set(targets) != set(losses):
            raise ValueError(f"The targets must have exactly the loss keys. Allowed: "
                             f"{sorted(losses)}. Received: targets.keys()={sorted(targets)}")
        # Eq. 11 / Eq. 14: the terms of the outputs (x and y, ...) added.
        total = None
        for key in sorted(losses):
            value = ops.cast(losses[key](targets[key], outputs[key]), "float32")
            total = value if total is None else total + value
        return total

    return loss_fn


@keras.saving.register_keras_serializable(package="zoo")
class PerExampleLoss(keras.losses.Loss):
    """A per-example loss function ``fn(y_true, y_pred) -> (B,)`` as a Keras loss.

    Keras' own wrapper reshapes ``y_true`` to the rank of ``y_pred``; this one passes both as
    they are (targets without the stack axis of the predictions, as Eq. 11 broadcasts them).

    Args:
        fn: the per-example loss (a registered serializable function for saving).
        name: loss name.
        **kwargs: passed to ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> loss = zoo.losses.PerExampleLoss(zoo.losses.heatmap_regression_loss)
        >>> float(loss(np.zeros((2, 3, 4)), np.ones((2, 1, 3, 4))))
        12.0
    """

    def __init__(self, fn, name=None, **kwargs):
        if isinstance(fn, dict):
            fn = keras.saving.deserialize_keras_object(fn)
        if not callable(fn):
            raise ValueError(f"`fn` must be callable. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "per_example_loss"), **kwargs)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        config = super().get_config()
        config["fn"] = keras.saving.serialize_keras_object(self.fn)
        return config


def keras_losses(losses):
    """``{key: keras.losses.Loss}`` for ``model.compile(loss=...)`` from per-example losses.

    Args:
        losses: ``{output key: fn(y_true, y_pred) -> (B,)}``.

    Returns:
        dict of :class:`PerExampleLoss` (Keras sums them and averages over the batch).

    Example:
        >>> import zoo.codecs, zoo.losses
        >>> codec = zoo.codecs.Heatmap1DCodec(64, 128)
        >>> sorted(zoo.losses.keras_losses(zoo.losses.heatmap_losses(codec)))
        ['x', 'y']
    """
    return {key: PerExampleLoss(fn, name=f"{key}_loss")
            for key, fn in _check_losses(losses).items()}


def _check_losses(losses):
    if not isinstance(losses, dict) or not losses or not all(
            isinstance(key, str) and callable(fn) for key, fn in losses.items()):
        raise ValueError("`losses` must be a non-empty dict {output key: callable}. "
                         f"Received: losses={losses!r}")
    return dict(losses)


def detector_losses(model_or_outputs):
    """One ``HeatmapRegressionLoss`` per heatmap output, for ``model.compile(loss=...)``.

    Args:
        model_or_outputs: a training model with dict outputs, or the output names.

    Returns:
        A dict ``{output_name: HeatmapRegressionLoss()}`` (``x`` and ``y`` for aheat1d: Keras
        adds them, the two terms of Eq. 11; ``heatmap`` for fan2d).

    Example:
        >>> import zoo, zoo.losses
        >>> sorted(zoo.losses.detector_losses(["x", "y"]))
        ['x', 'y']
    """
    if isinstance(model_or_outputs, keras.Model):
        if not isinstance(model_or_outputs.output, dict):
            raise ValueError(
                "detector_losses needs a model with dict outputs. "
                f"Received: model.output={model_or_outputs.output!r}")
        names = list(model_or_outputs.output)
    else:
        names = list(model_or_outputs)
    if not names:
        raise ValueError(f"No outputs given. Received: model_or_outputs={model_or_outputs!r}")
    return {name: HeatmapRegressionLoss(name=f"{name}_loss") for name in names}


# RDFN (zoo.models.rdfn) -----------------------------------------------------------------------
# Weight of the region-box term against the Eq. 11 score-map terms: the box L1 is summed over
# R x 4 normalised coordinates (about 1 at the start, 0.2 when trained), the score-map squared
# errors over N maps (about N * pi * sigma_bins^2, 200 for 300W at the start); 10 makes the box
# term a few percent of the total, enough to train the boxes without dominating.
RDFN_REGION_BOX_WEIGHT = 10.0


def rdfn_region_box_loss(y_true, y_pred):
    """Per-example region-box loss of RDFN: ``10 * sum_r sum_k |b_rk - b*_rk|``.

    L1 on the normalised box corners ``(x0, y0, x1, y1)`` of every region (face and
    components), weighted by ``RDFN_REGION_BOX_WEIGHT``. ``y_pred`` may carry the stack axis
    ``(B, 1, R, 4)`` that ``y_true`` ``(B, R, 4)`` lacks.

    Args:
        y_true: target boxes ``(B, R, 4)``.
        y_pred: predicted boxes ``(B, S, R, 4)`` or ``(B, R, 4)``.

    Returns:
        A ``(B,)`` tensor.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> float(zoo.losses.rdfn_region_box_loss(np.zeros((1, 2, 4)), np.full((1, 1, 2, 4), 0.1))[0])
        8.0
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if len(y_pred.shape) == len(y_true.shape) + 1:
        y_true = ops.expand_dims(y_true, 1)  # broadcast the target over the stacks
    elif len(y_pred.shape) != len(y_true.shape):
        raise ValueError(
            "rdfn_region_box_loss takes targets (B, R, 4) and predictions (B, S, R, 4) or "
            f"(B, R, 4). Received: y_true.shape={tuple(y_true.shape)}, "
            f"y_pred.shape={tuple(y_pred.shape)}")
    error = ops.abs(y_pred - y_true)
    return RDFN_REGION_BOX_WEIGHT * ops.sum(error, axis=tuple(range(1, len(error.shape))))


def rdfn_losses(codec):
    """RDFN's losses: Eq. 11 on the score maps and the region heatmaps, L1 on the boxes.

    Args:
        codec: the model's ``zoo.codecs.RDFNCodec``.

    Returns:
        ``{"heatmap": heatmap_regression_loss, "region_heatmap": heatmap_regression_loss,
        "region_boxes": rdfn_region_box_loss}``.

    Example:
        >>> import zoo.codecs, zoo.losses
        >>> sorted(zoo.losses.rdfn_losses(zoo.codecs.RDFNCodec(128, 32)))
        ['heatmap', 'region_boxes', 'region_heatmap']
    """
    expected = {"heatmap", "region_heatmap", "region_boxes"}
    if set(codec.target_keys) != expected:
        raise ValueError(f"rdfn_losses needs an RDFN codec. Allowed target keys: "
                         f"{sorted(expected)}. Received: target_keys={list(codec.target_keys)}")
    return {"heatmap": heatmap_regression_loss, "region_heatmap": heatmap_regression_loss,
            "region_boxes": rdfn_region_box_loss}


# ---- HIH: the coordinate soft-classification (CSC) loss (Lan et al., seed 003) ---------------
# The authors' calc_loss: nn.MSELoss() on the integer heatmaps of every stack + 0.05 x
# SoftKLLoss on the decimal heatmap, both with PyTorch's reduction="mean" (divided by the
# number of elements: B S N H W for the MSE, B N d^2 for the KL). Per example below, so the
# batch mean of the loop / Keras gives exactly those means.

HIH_DECIMAL_WEIGHT = 0.05  # the authors' loss_offset_weight


def _broadcast_stacks(y_true, y_pred, name):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if len(y_pred.shape) == len(y_true.shape) + 1:
        y_true = ops.expand_dims(y_true, 1)  # the target of every stack
    elif len(y_pred.shape) != len(y_true.shape):
        raise ValueError(
            f"{name} takes targets (B, ...) and predictions (B, S, ...) or of the same rank. "
            f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")
    return y_true, y_pred


@keras.saving.register_keras_serializable(package="zoo")
def hih_integer_loss(y_true, y_pred):
    """Per-example mean squared error of the integer heatmaps over stacks, cells, landmarks.

    The batch mean equals the authors' ``nn.MSELoss()`` (mean over every element).

    Args:
        y_true: integer targets ``(B, H, W, N)`` (``zoo.codecs.HIHCodec.encode``).
        y_pred: integer heatmaps ``(B, S, H, W, N)`` (every stack) or ``(B, H, W, N)``.

    Returns:
        A ``(B,)`` tensor.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> target = np.zeros((2, 8, 8, 3), "float32")
        >>> float(zoo.losses.hih_integer_loss(target, np.ones((2, 4, 8, 8, 3), "float32"))[0])
        1.0
    """
    y_true, y_pred = _broadcast_stacks(y_true, y_pred, "hih_integer_loss")
    return ops.mean(ops.square(y_pred - y_true), axis=tuple(range(1, len(y_pred.shape))))


def csc_kl_divergence(soft_labels, logits):
    """Per-example mean of ``p (log p - log softmax(logits))`` over the decimal cells.

    ``softmax`` runs over the ``d * d`` cells of each landmark (the authors' ``SoftKLLoss``
    views each map as ``d * d`` classes); the mean over every non-batch element is PyTorch's
    ``F.kl_div(..., reduction="mean")`` per example (``sum / (N d^2)``).

    Args:
        soft_labels: ``(B, [S,] d, d, N)`` probabilities over the cells (``p``).
        logits: ``(B, [S,] d, d, N)`` decimal logits.

    Returns:
        A ``(B,)`` tensor.
    """
    logits = ops.convert_to_tensor(logits)
    soft_labels = ops.cast(soft_labels, logits.dtype)
    top = ops.max(logits, axis=(-3, -2), keepdims=True)
    shifted = logits - top
    log_q = shifted - ops.log(ops.sum(ops.exp(shifted), axis=(-3, -2), keepdims=True))
    log_p = ops.log(ops.maximum(soft_labels, 1e-30))
    kl = soft_labels * (log_p - log_q)
    return ops.mean(kl, axis=tuple(range(1, len(kl.shape))))


@keras.saving.register_keras_serializable(package="zoo")
def hih_decimal_loss(y_true, y_pred):
    """The CSC term: ``0.05 x KL(soft labels || softmax(decimal logits))`` per example.

    The soft labels are built by the codec (``zoo.codecs.hih.soft_labels``, what
    ``HIHCodec.soft_labels`` returns): ``softmax`` of the Gaussian decimal target values over
    the ``d * d`` cells.

    Args:
        y_true: decimal targets ``(B, d, d, N)`` (Gaussian values from ``HIHCodec.encode``).
        y_pred: decimal logits ``(B, 1, d, d, N)`` (training model) or ``(B, d, d, N)``.

    Returns:
        A ``(B,)`` tensor.

    Example:
        >>> import numpy as np
        >>> import zoo.losses
        >>> target = np.zeros((1, 8, 8, 2), "float32")
        >>> float(zoo.losses.hih_decimal_loss(target, np.zeros((1, 1, 8, 8, 2), "float32"))[0])
        0.0
    """
    from zoo.codecs import hih

    y_true, y_pred = _broadcast_stacks(y_true, y_pred, "hih_decimal_loss")
    return HIH_DECIMAL_WEIGHT * csc_kl_divergence(hih.soft_labels(y_true), y_pred)


def hih_losses(codec):
    """The CSC loss of HIH, per output: MSE on ``integer``, 0.05 x KL on ``decimal``.

    The architecture record of ``zoo.models.hih`` names this function; the training loop sums
    the two (:func:`per_example_loss`) and ``model.compile`` takes them through
    :func:`keras_losses` (Keras adds the two terms).

    Args:
        codec: the model's ``zoo.codecs.HIHCodec`` (its soft labels feed the KL term).

    Returns:
        ``{"integer": hih_integer_loss, "decimal": hih_decimal_loss}``.

    Example:
        >>> import zoo.codecs, zoo.losses
        >>> losses = zoo.losses.hih_losses(zoo.codecs.HIHCodec(256))
        >>> model_losses = zoo.losses.keras_losses(losses)  # model.compile(loss=model_losses)
        >>> sorted(model_losses)
        ['decimal', 'integer']
    """
    if not hasattr(codec, "soft_labels") or set(codec.target_keys) != {"integer", "decimal"}:
        raise ValueError("hih_losses needs an HIH codec (integer and decimal targets, "
                         f"soft_labels). Received: codec={codec!r}")
    return {"integer": hih_integer_loss, "decimal": hih_decimal_loss}
