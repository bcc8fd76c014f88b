"""Training losses of the detectors (Eq. 11 of the 1D-heatmap paper).

Eq. 11: ``L_de = sum_n ||h^x_n - h^x*_n||^2 + ||h^y_n - h^y*_n||^2``: squared error summed over
landmarks and bins. With intermediate supervision it is also summed over the stacks (FAN), and
Keras sums the per-output losses (``x`` + ``y``). The batch is averaged.

Example:
    >>> import zoo, zoo.losses
    >>> model = zoo.create("aheat1d_mobile_300w")
    >>> model.compile(optimizer="adam", loss=zoo.losses.detector_losses(model))
"""
import keras
from keras import ops


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
