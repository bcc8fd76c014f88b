"""Parity checks between an exported model and the Keras model it came from.

Every export runs these before it moves its file into place (and refuses to if they fail):

* float exports (SavedModel, float32 LiteRT, ONNX): every output within an absolute tolerance
  of Keras, at two batch sizes; landmarks in pixels within 0.01, everything else within 1e-4.
* quantised LiteRT (float16, dynamic-range int8, full-integer int8): judged by the change of
  NME on a held-out set with known landmarks, not by raw tensors (quantisation moves heatmap
  logits by far more than 1e-4 while landmarks barely move).
"""
import numpy as np

DEFAULT_ATOL = {"landmarks": 1e-2}
DEFAULT_OTHER_ATOL = 1e-4
# Issue 7: full-integer int8 may lose at most 0.3 NME points (0.003 as a fraction).
DEFAULT_MAX_NME_INCREASE = 0.003


class ParityError(RuntimeError):
    """An export's outputs differ from the Keras model's beyond the tolerance."""


def compare_outputs(reference, candidate, atol=None, what="export"):
    """Compares two dicts of outputs key by key.

    Args:
        reference: dict name -> numpy array (Keras).
        candidate: dict name -> numpy array (the export); must hold every key of ``reference``
            that it is compared on (the keys of ``candidate``).
        atol: float for every output, or dict name -> float; defaults to 0.01 for
            ``landmarks`` (pixels) and 1e-4 for every other output.
        what: a label for the error message.

    Returns:
        dict name -> maximum absolute difference.

    Raises:
        ParityError: if a shape differs, a value is not finite, or a difference exceeds ``atol``.

    Example:
        >>> import numpy as np, zoo.export.parity
        >>> zoo.export.parity.compare_outputs({"scores": np.ones(3)}, {"scores": np.ones(3)})
        {'scores': 0.0}
    """
    if atol is None:
        atol = dict(DEFAULT_ATOL)
    diffs, failures = {}, []
    for name, value in candidate.items():
        if name not in reference:
            raise ParityError(f"{what}: output {name!r} has no Keras counterpart "
                              f"(Keras outputs: {sorted(reference)})")
        ref = np.asarray(reference[name], dtype=np.float64)
        got = np.asarray(value, dtype=np.float64)
        if ref.shape != got.shape:
            raise ParityError(f"{what}: output {name!r} has shape {got.shape}, Keras {ref.shape}")
        if not np.all(np.isfinite(got)):
            raise ParityError(f"{what}: output {name!r} holds non-finite values")
        diff = float(np.max(np.abs(ref - got))) if ref.size else 0.0
        diffs[name] = diff
        tolerance = atol.get(name, DEFAULT_OTHER_ATOL) if isinstance(atol, dict) else float(atol)
        if diff > tolerance:
            failures.append(f"{name}: max |diff| {diff:.3g} > {tolerance:.3g}")
    if failures:
        raise ParityError(f"{what} does not match Keras: " + "; ".join(failures))
    return diffs


def normalized_mean_error(predicted, target, normalizer="auto"):
    """Mean NME (a fraction) over a batch of faces.

    Args:
        predicted: (B, N, 2) landmarks.
        target: (B, N, 2) landmarks.
        normalizer: ``"auto"`` (inter-ocular distance, outer eye corners 36/45, for the
            68-point scheme, else the diagonal of the target's bounding box), or a (B,) array.

    Returns:
        float: mean over faces of the mean point-to-point error divided by the normaliser.

    Example:
        >>> import numpy as np, zoo.export.parity
        >>> t = np.random.default_rng(0).uniform(0, 64, (2, 68, 2))
        >>> zoo.export.parity.normalized_mean_error(t, t)
        0.0
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if predicted.shape != target.shape or predicted.ndim != 3 or predicted.shape[-1] != 2:
        raise ValueError("predicted and target must both be (B, N, 2). "
                         f"Received: predicted.shape={predicted.shape}, target.shape={target.shape}")
    if isinstance(normalizer, str):
        if normalizer != "auto":
            raise ValueError(f"normalizer must be 'auto' or an array. Received: normalizer={normalizer}")
        if target.shape[1] == 68:
            # The 300-W inter-ocular NME of zoo.metrics (outer eye corners).
            from zoo import metrics

            return float(np.mean(metrics.nme(predicted, target, scheme="300w")))
        normalizer = np.linalg.norm(target.max(axis=1) - target.min(axis=1), axis=-1)
    normalizer = np.maximum(np.asarray(normalizer, dtype=np.float64), 1e-6)
    per_face = np.linalg.norm(predicted - target, axis=-1).mean(axis=-1) / normalizer
    return float(per_face.mean())


def check_nme_change(reference_landmarks, candidate_landmarks, target_landmarks=None,
                     max_increase=DEFAULT_MAX_NME_INCREASE, what="quantised export"):
    """Checks that an export loses at most ``max_increase`` NME against the reference.

    With ``target_landmarks`` (ground truth of a held-out set) this is
    ``NME(candidate, target) - NME(reference, target)``. Without it, the reference predictions
    stand in for the ground truth and the check uses ``NME(candidate, reference)``, an upper
    bound of the change (triangle inequality), so it is stricter, never looser.

    Args:
        reference_landmarks: (B, N, 2) Keras (or float32) predictions.
        candidate_landmarks: (B, N, 2) export predictions.
        target_landmarks: optional (B, N, 2) ground truth.
        max_increase: largest allowed NME increase, a fraction (0.003 = 0.3 points).
        what: a label for the error message.

    Returns:
        dict with ``nme_reference``, ``nme_candidate``, ``nme_increase`` (fractions).

    Raises:
        ParityError: if the increase is larger than ``max_increase``.

    Example:
        >>> import numpy as np, zoo.export.parity
        >>> t = np.random.default_rng(0).uniform(0, 64, (4, 68, 2))
        >>> zoo.export.parity.check_nme_change(t, t + 0.01, t)["nme_increase"] < 0.003
        True
    """
    if not np.all(np.isfinite(candidate_landmarks)):
        raise ParityError(f"{what} predicts non-finite landmarks")
    if target_landmarks is None:
        nme_ref = 0.0
        nme_cand = normalized_mean_error(candidate_landmarks, reference_landmarks)
    else:
        nme_ref = normalized_mean_error(reference_landmarks, target_landmarks)
        nme_cand = normalized_mean_error(candidate_landmarks, target_landmarks)
    result = {"nme_reference": nme_ref, "nme_candidate": nme_cand,
              "nme_increase": nme_cand - nme_ref}
    if not np.isfinite(nme_cand) or nme_cand - nme_ref > max_increase:
        raise ParityError(
            f"{what} loses {100 * (nme_cand - nme_ref):.3f} NME points "
            f"({100 * nme_ref:.3f} -> {100 * nme_cand:.3f}), more than {100 * max_increase:.3f}")
    return result


def split_batches(inputs, batch_sizes=(1, 2)):
    """Splits named inputs into the two batches parity is checked at.

    Args:
        inputs: dict name -> array with at least ``max(batch_sizes)`` rows; each batch is
            the first ``b`` rows.
        batch_sizes: the batch sizes to check.

    Returns:
        list of dicts, one per batch size.
    """
    first = next(iter(inputs.values()))
    if len(first) < max(batch_sizes):
        raise ValueError(f"Parity inputs need at least {max(batch_sizes)} rows. "
                         f"Received: batch={len(first)}")
    return [{k: np.asarray(v)[:b] for k, v in inputs.items()} for b in batch_sizes]
