"""Landmark accuracy: NME, failure rate, CED curve and its AUC, reports, and a Keras metric.

Conventions (shared by every function here):

* Landmarks are `(B, N, 2)` arrays of 0-based (x, y) pixel coordinates.
* Errors are **fractions** of the normalising distance (0.0338, not 3.38); `report` and
  `format_report` print percent.
* NME of one image (the 300W / WFLW / COFW / AFLW protocol, e.g. HRNet, PIPNet, STAR):
  `NME = (1 / N) * sum_i ||p_i - g_i||_2 / d`, with `d` the normalising distance of the
  ground truth (`normalizing_distance`).
* Failure rate at threshold `t`: the fraction of images with `NME > t`.
* CED: for thresholds `x_k = k * step`, `k = 0..round(t / step)`, the fraction of images
  with `NME <= x_k`. AUC at `t`: the integral of the CED over `[0, t]` divided by `t`, with
  step 1e-4 and Simpson's rule as in the PIPNet and STAR evaluation code
  (`scipy.integrate.simps(ys, x=xs) / thres`); `method="trapezoid"` gives the trapezoid
  rule. The published code builds `xs = np.arange(0, t + step, step)`, which for some
  thresholds (0.05, 0.07) overshoots `t` by one step through rounding; here the grid always
  ends exactly at `t` (for 0.08 and 0.10 both grids are identical).

Example:
    >>> import numpy as np, zoo.metrics
    >>> gt = np.random.default_rng(0).uniform(0, 256, (4, 68, 2))
    >>> errors = zoo.metrics.nme(gt + 1.0, gt, scheme="300w")
    >>> errors.shape
    (4,)
    >>> float(zoo.metrics.failure_rate(np.array([0.05, 0.2]), threshold=0.1))
    0.5
"""
import math
import numbers

import keras
import numpy as np
from keras import ops

from zoo import schemes as _schemes

_NORMALIZERS = _schemes.NORMALIZERS


# ----------------------------------------------------------------------------- input checks


def _landmarks(value, name, num_landmarks=None):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a numeric array. Received: {name}={value!r}")
    if array.ndim != 3 or array.shape[-1] != 2:
        raise ValueError(
            f"`{name}` must have shape (B, N, 2) holding (x, y). "
            f"Received: {name}.shape={array.shape}"
        )
    if num_landmarks is not None and array.shape[1] != num_landmarks:
        raise ValueError(
            f"`{name}` must have {num_landmarks} landmarks (the scheme's num_landmarks). "
            f"Received: {name}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0].tolist()
        raise ValueError(f"`{name}` contains NaN or infinite values. Received: {name}{bad}=nan/inf")
    return array


def _errors(value, name="errors"):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a 1D numeric array. Received: {name}={value!r}")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1D array (B,). "
            f"Received: {name}.shape={array.shape}"
        )
    bad = ~(np.isfinite(array) & (array >= 0))
    if np.any(bad):
        raise ValueError(
            f"`{name}` must be finite and non-negative. Received: {name}[{int(np.argmax(bad))}]="
            f"{array[bad][0]}"
        )
    return array


def _threshold(threshold, step=None):
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not (
        math.isfinite(threshold) and threshold > 0
    ):
        raise ValueError(
            "`threshold` must be a positive number. "
            f"Received: threshold={threshold!r}"
        )
    if step is None:
        return float(threshold)
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not (
        math.isfinite(step) and 0 < step <= threshold
    ):
        raise ValueError(f"`step` must be in (0, threshold]. Received: step={step!r}")
    return float(threshold), float(step)


# ----------------------------------------------------------------------------- NME


def _missing_box_message(scheme_name):
    return (
        f"Scheme {scheme_name!r} normalises NME by the face-box size, and no box size was "
        "given: pass the dataset's box sizes as `normalizer` (AFLW: the `box_size` column of "
        "the HRNet CSV, `meta['box_size']` of zoo.data.readers.read_aflw, in the same pixels "
        "as the landmarks) or the face boxes as `boxes`; normalizer='box' by name uses the "
        "landmarks' own bounding box instead. Allowed: normalizer=<(B,) box sizes>, "
        f"boxes=<(B, 4)>, normalizer='box'. Received: scheme={scheme_name!r}, "
        "normalizer=None, boxes=None"
    )


def normalizing_distance(gt, scheme=None, normalizer=None, boxes=None):
    """The per-image distance `d` that NME divides by.

    Args:
        gt: (B, N, 2) ground-truth landmarks.
        scheme: a scheme name or `zoo.schemes.Scheme`; gives the default normaliser and the
            indices it needs. May be None when `normalizer` is explicit numbers or `"box"` /
            `"diagonal"`.
        normalizer: None (the scheme's own), or one of
            * `"interocular"`: distance between the scheme's `normalizer_indices` (300W: outer
              eye corners 36/45; WFLW 60/72; COFW 8/9);
            * `"interpupil"`: distance between the eye centres, each the mean of one of the
              scheme's `eye_groups`;
            * `"box"`: `sqrt(w * h)` of `boxes`. Asked for by name (`normalizer="box"`)
              without `boxes`, the ground-truth landmarks' bounding box is used;
            * `"diagonal"`: `sqrt(w^2 + h^2)` of `boxes` (or, asked for by name without
              `boxes`, of the landmarks' bounding box);
            * numbers: a scalar or (B,) array of positive distances used as they are.

            The AFLW protocol (SAN, HRNet) divides by the dataset's face-box size (the
            `box_size` column of the HRNet CSV, `meta["box_size"]` of
            `zoo.data.readers.read_aflw`, mmpose's `box_size`): pass those numbers as
            `normalizer`, or the square boxes as `boxes`. A scheme whose own normaliser is a box
            (`"aflw"`) with neither raises `ValueError`: the landmarks' box is smaller than the
            face box (about 1.5x the NME on AFLW), never a silent stand-in.
        boxes: optional (B, 4) face boxes `x1, y1, x2, y2` for `"box"` / `"diagonal"`.

    Returns:
        (B,) float64 numpy array of positive distances in pixels.

    Example:
        >>> import numpy as np, zoo.metrics
        >>> gt = np.zeros((1, 68, 2)); gt[0, 45, 0] = 60.0
        >>> zoo.metrics.normalizing_distance(gt, "300w").tolist()
        [60.0]
    """
    scheme = _schemes.get_scheme(scheme) if scheme is not None else None
    gt = _landmarks(gt, "gt", scheme.num_landmarks if scheme is not None else None)
    batch = gt.shape[0]
    if normalizer is None:
        if scheme is None:
            raise ValueError(
                "Pass a `scheme` or an explicit `normalizer`. "
                "Received: scheme=None, normalizer=None"
            )
        normalizer = scheme.normalizer
        if normalizer in ("box", "diagonal") and boxes is None:
            raise ValueError(_missing_box_message(scheme.name))
    if isinstance(normalizer, str):
        if normalizer not in _NORMALIZERS:
            raise ValueError(
                f"`normalizer` must be one of {_NORMALIZERS} or numbers. "
                f"Received: normalizer={normalizer!r}"
            )
        if normalizer in ("interocular", "interpupil") and scheme is None:
            raise ValueError(f"normalizer={normalizer!r} needs a `scheme`. Received: scheme=None")
        if normalizer == "interocular":
            if scheme.normalizer_indices is None:
                raise ValueError(
                    f"Scheme {scheme.name!r} has no normalizer_indices for 'interocular'. "
                    f"Received: normalizer={normalizer!r}"
                )
            a, b = scheme.normalizer_indices
            distance = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
        elif normalizer == "interpupil":
            if scheme.eye_groups is None:
                raise ValueError(
                    f"Scheme {scheme.name!r} has no eye_groups for 'interpupil'. "
                    f"Received: normalizer={normalizer!r}"
                )
            left, right = (gt[:, list(group)].mean(axis=1) for group in scheme.eye_groups)
            distance = np.linalg.norm(left - right, axis=-1)
        else:
            if boxes is None:
                size = gt.max(axis=1) - gt.min(axis=1)
            else:
                boxes_array = np.asarray(boxes, dtype=np.float64)
                if boxes_array.shape != (batch, 4) or not np.all(np.isfinite(boxes_array)):
                    raise ValueError(
                        f"`boxes` must be a finite (B, 4) array of x1, y1, x2, y2 with B={batch}. "
                        f"Received: boxes.shape={boxes_array.shape}"
                    )
                size = boxes_array[:, 2:] - boxes_array[:, :2]
            if normalizer == "box":
                distance = np.sqrt(np.clip(size[:, 0] * size[:, 1], 0.0, None))
            else:
                distance = np.hypot(size[:, 0], size[:, 1])
    else:
        try:
            distance = np.broadcast_to(np.asarray(normalizer, dtype=np.float64), (batch,)).copy()
        except (TypeError, ValueError):
            raise ValueError(
                f"`normalizer` must be a name in {_NORMALIZERS}, a number or a (B,) array with "
                f"B={batch}. Received: normalizer={normalizer!r}"
            )
    if not np.all(np.isfinite(distance) & (distance > 0)):
        bad = np.flatnonzero(~(np.isfinite(distance) & (distance > 0))).tolist()
        raise ValueError(
            f"The normalising distance must be positive and finite; it is not for images {bad} "
            "(coinciding reference points or an empty box). "
            f"Received: distance={distance[bad].tolist()}"
        )
    return distance


def nme(pred, gt, scheme=None, normalizer=None, boxes=None, indices=None):
    """Per-image normalised mean error (a fraction, not percent).

    `NME_b = mean_i ||pred_bi - gt_bi||_2 / d_b`, `d_b` from `normalizing_distance`.

    Args:
        pred: (B, N, 2) predicted landmarks, pixels.
        gt: (B, N, 2) ground-truth landmarks, pixels.
        scheme: scheme name or `zoo.schemes.Scheme` (default normaliser, shape check).
        normalizer: see `normalizing_distance` (None: the scheme's).
        boxes: optional (B, 4) face boxes x1, y1, x2, y2 for the box normalisers.
        indices: optional landmark indices to average over (per-area errors); the
            normaliser is still computed from the whole ground-truth face.

    Returns:
        (B,) float64 numpy array of NMEs as fractions.

    Raises:
        ValueError: shapes that disagree, NaN/inf, unknown scheme or normaliser, a zero
            normalising distance.

    Example:
        >>> import numpy as np, zoo.metrics
        >>> gt = np.zeros((1, 68, 2)); gt[0, 45, 0] = 100.0
        >>> zoo.metrics.nme(gt + [3.0, 4.0], gt, scheme="300w").tolist()
        [0.05]
    """
    scheme_obj = _schemes.get_scheme(scheme) if scheme is not None else None
    count = scheme_obj.num_landmarks if scheme_obj is not None else None
    pred = _landmarks(pred, "pred", count)
    gt = _landmarks(gt, "gt", count)
    if pred.shape != gt.shape:
        raise ValueError(
            f"`pred` and `gt` must have the same shape. Received: pred.shape={pred.shape}, "
            f"gt.shape={gt.shape}"
        )
    distance = normalizing_distance(gt, scheme_obj, normalizer, boxes)
    point_errors = np.linalg.norm(pred - gt, axis=-1)
    if indices is not None:
        index_array = np.asarray(indices)
        if index_array.ndim != 1 or index_array.size == 0 or not np.issubdtype(
            index_array.dtype, np.integer
        ) or index_array.min() < 0 or index_array.max() >= gt.shape[1]:
            raise ValueError(
                f"`indices` must be a non-empty 1D list of landmark indices in [0, {gt.shape[1]}). "
                f"Received: indices={indices!r}"
            )
        point_errors = point_errors[:, index_array]
    return point_errors.mean(axis=1) / distance


# ----------------------------------------------------------------------------- FR / CED / AUC


def ced(errors, threshold=0.1, step=1e-4):
    """Cumulative error distribution: fraction of images with NME <= x for x in [0, threshold].

    Args:
        errors: (B,) per-image NMEs (fractions).
        threshold: upper end of the curve (fraction), e.g. 0.08 or 0.10.
        step: spacing of the thresholds (1e-4 in the PIPNet / STAR evaluation).

    Returns:
        (thresholds, fractions): two float64 arrays of length `round(threshold / step) + 1`,
        thresholds `k * step` from 0 to `threshold`, fractions in [0, 1].

    Example:
        >>> import numpy as np, zoo.metrics
        >>> x, y = zoo.metrics.ced(np.array([0.01, 0.03]), threshold=0.04, step=0.01)
        >>> y.tolist()
        [0.0, 0.5, 0.5, 1.0, 1.0]
    """
    errors = _errors(errors)
    threshold, step = _threshold(threshold, step)
    count = int(round(threshold / step))
    thresholds = np.arange(count + 1, dtype=np.float64) * step
    thresholds[-1] = threshold
    sorted_errors = np.sort(errors)
    fractions = np.searchsorted(sorted_errors, thresholds, side="right") / errors.size
    return thresholds, fractions


def failure_rate(errors, threshold=0.1):
    """Fraction of images whose NME is above `threshold` (a fraction, e.g. 0.08 or 0.10).

    Args:
        errors: (B,) per-image NMEs.
        threshold: failure threshold.

    Returns:
        float in [0, 1].

    Example:
        >>> import numpy as np, zoo.metrics
        >>> zoo.metrics.failure_rate(np.array([0.02, 0.09, 0.12]), threshold=0.08)
        0.6666666666666666
    """
    errors = _errors(errors)
    threshold = _threshold(threshold)
    return float(np.count_nonzero(errors > threshold) / errors.size)


def auc(errors, threshold=0.1, step=1e-4, method="simpson"):
    """Area under the CED curve on [0, threshold], divided by threshold (in [0, 1]).

    Args:
        errors: (B,) per-image NMEs.
        threshold: upper end of the integration (0.08 or 0.10 in the literature).
        step: CED threshold spacing (1e-4).
        method: `"simpson"` (PIPNet / STAR: `scipy.integrate.simps(ys, x=xs) / thres`) or
            `"trapezoid"`.

    Returns:
        float in [0, 1].

    Example:
        >>> import numpy as np, zoo.metrics
        >>> round(zoo.metrics.auc(np.zeros(5), threshold=0.1), 6)
        1.0
    """
    if method not in ("simpson", "trapezoid"):
        raise ValueError(f"`method` must be 'simpson' or 'trapezoid'. Received: method={method!r}")
    thresholds, fractions = ced(errors, threshold, step)
    if method == "trapezoid":
        area = np.trapezoid(fractions, thresholds)
    else:
        from scipy import integrate

        area = integrate.simpson(fractions, x=thresholds)
    return float(area / float(threshold))


# ----------------------------------------------------------------------------- reports


def _subset_groups(subsets, batch):
    groups = {"full": np.arange(batch)}
    if subsets is None:
        return groups
    if isinstance(subsets, dict):
        for name, selector in subsets.items():
            selector = np.asarray(selector)
            if selector.dtype == bool:
                if selector.shape != (batch,):
                    raise ValueError(
                        f"Boolean subset {name!r} must have shape ({batch},). "
                        f"Received: subsets[{name!r}].shape={selector.shape}"
                    )
                selector = np.flatnonzero(selector)
            if selector.ndim != 1 or selector.size == 0 or not np.issubdtype(
                selector.dtype, np.integer
            ) or selector.min() < 0 or selector.max() >= batch:
                raise ValueError(
                    f"Subset {name!r} must select at least one of the {batch} images by index "
                    f"or boolean mask. Received: subsets[{name!r}]={selector!r}"
                )
            groups[str(name)] = selector
        return groups
    labels = np.asarray(subsets)
    if labels.shape != (batch,):
        raise ValueError(
            f"`subsets` must be a dict of selectors or one label per image ({batch}). "
            f"Received: subsets.shape={labels.shape}"
        )
    for label in dict.fromkeys(labels.tolist()):
        groups[str(label)] = np.flatnonzero(labels == label)
    return groups


def _summary(errors, thresholds, step, method):
    row = {"count": int(errors.size), "nme": float(errors.mean())}
    for threshold in thresholds:
        row[f"fr@{threshold:g}"] = failure_rate(errors, threshold)
        row[f"auc@{threshold:g}"] = auc(errors, threshold, step, method)
    return row


def report(pred, gt, scheme, subsets=None, normalizer=None, boxes=None,
           thresholds=(0.08, 0.10), step=1e-4, method="simpson", verbose=True):
    """Per-subset and per-area NME, failure rate and AUC.

    Args:
        pred: (B, N, 2) predictions, pixels.
        gt: (B, N, 2) ground truth, pixels.
        scheme: scheme name or `zoo.schemes.Scheme` (normaliser and areas).
        subsets: None, a dict `name -> indices or (B,) boolean mask` (e.g. 300W
            `{"common": ..., "challenge": ...}`), or a (B,) sequence of subset labels.
            A `"full"` row with every image is always included.
        normalizer: see `normalizing_distance` (None: the scheme's).
        boxes: optional (B, 4) boxes for the box normalisers.
        thresholds: FR/AUC thresholds (fractions).
        step: CED step.
        method: AUC integration rule, see `auc`.
        verbose: print the table (percent) with `format_report`.

    Returns:
        dict `subset -> {"count", "nme", "fr@0.08", "auc@0.08", "fr@0.1", "auc@0.1", ...,
        "areas": {area: nme}}`, every value a fraction.

    Example:
        >>> import numpy as np, zoo.metrics
        >>> gt = np.random.default_rng(0).uniform(0, 256, (4, 19, 2))
        >>> box_sizes = np.full(4, 180.0)  # AFLW: the dataset's face-box sizes
        >>> result = zoo.metrics.report(gt + 2.0, gt, "aflw", subsets=["a", "a", "b", "b"],
        ...                             normalizer=box_sizes, verbose=False)
        >>> sorted(result)
        ['a', 'b', 'full']
    """
    scheme = _schemes.get_scheme(scheme)
    gt_array = _landmarks(gt, "gt", scheme.num_landmarks)
    errors = nme(pred, gt_array, scheme, normalizer, boxes)
    area_errors = {
        area: nme(pred, gt_array, scheme, normalizer, boxes, indices=indices)
        for area, indices in scheme.areas.items()
    }
    result = {}
    for name, selector in _subset_groups(subsets, errors.size).items():
        row = _summary(errors[selector], thresholds, step, method)
        row["areas"] = {
            area: float(values[selector].mean()) for area, values in area_errors.items()
        }
        result[name] = row
    if verbose:
        print(format_report(result))
    return result


def format_report(result):
    """Formats `report`'s dict as a text table in percent.

    Args:
        result: the dict returned by `zoo.metrics.report`.

    Returns:
        str, one row per subset: count, NME %, FR %, AUC % per threshold, NME % per area.

    Example:
        >>> import numpy as np, zoo.metrics
        >>> gt = np.random.default_rng(0).uniform(0, 256, (2, 7, 2))
        >>> print(zoo.metrics.format_report(zoo.metrics.report(gt, gt, "shared7", verbose=False)))
        ... # doctest: +ELLIPSIS
        subset ...
    """
    if not result:
        raise ValueError(f"`result` must be a non-empty report dict. Received: result={result!r}")
    first = next(iter(result.values()))
    metric_keys = [k for k in first if k not in ("count", "areas")]
    area_keys = list(first.get("areas", {}))

    def header(key):
        # "fr@0.08" -> "FR@8%": thresholds are fractions in the dict, percent in the table
        if "@" not in key:
            return key.upper()
        name, threshold = key.split("@")
        return f"{name.upper()}@{100 * float(threshold):g}%"

    headers = ["subset", "count"] + [header(k) for k in metric_keys]
    headers += [f"NME[{a}]" for a in area_keys]
    rows = []
    for name, row in result.items():
        cells = [name, str(row["count"])]
        cells += [f"{100.0 * row[k]:.2f}" for k in metric_keys]
        cells += [f"{100.0 * row['areas'][a]:.2f}" for a in area_keys]
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]

    def join(cells):
        # first column (subset name) left-aligned, numbers right-aligned
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        )

    lines = [join(headers), "  ".join("-" * w for w in widths)]
    lines += [join(cells) for cells in rows]
    lines.append("(all values in percent except count)")
    return "\n".join(lines)


def plot_ced(errors_by_name, path, threshold=0.1, step=1e-4, title=None):
    """Plots CED curves (one per method) to a PNG, with the AUC and FR in the legend.

    Uses matplotlib's Agg canvas directly (no global backend change, works headless).

    Args:
        errors_by_name: dict `label -> (B,) per-image NMEs` (fractions).
        path: output file path (`.png`).
        threshold: x-axis upper end (fraction).
        step: CED step.
        title: optional plot title.

    Returns:
        the path written (str).

    Example:
        >>> import numpy as np, zoo.metrics
        >>> zoo.metrics.plot_ced({"model": np.array([0.03, 0.05])}, "/tmp/ced.png")
        '/tmp/ced.png'
    """
    if not isinstance(errors_by_name, dict) or not errors_by_name:
        raise ValueError(
            "`errors_by_name` must be a non-empty dict label -> errors. "
            f"Received: errors_by_name={errors_by_name!r}"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for label, errors in errors_by_name.items():
        x, y = ced(errors, threshold, step)
        area = auc(errors, threshold, step)
        failures = failure_rate(errors, threshold)
        legend = f"{label} (AUC {100 * area:.2f}%, FR {100 * failures:.2f}%)"
        axes.plot(100.0 * x, 100.0 * y, label=legend)
    axes.set_xlim(0.0, 100.0 * threshold)
    axes.set_ylim(0.0, 100.0)
    axes.set_xlabel("NME (%)")
    axes.set_ylabel("Images (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    if title:
        _set_title_within(figure, axes, str(title))
    figure.tight_layout()
    figure.savefig(str(path), format="png")
    return str(path)


def _set_title_within(figure, axes, title, fraction=0.95):
    """Sets ``title`` on ``axes``, wrapped onto more lines until it fits the figure's width."""
    import textwrap

    renderer = figure.canvas.get_renderer()
    limit = fraction * figure.bbox.width
    width = len(title)
    while True:
        text = axes.set_title(textwrap.fill(title, width) if width < len(title) else title)
        measured = text.get_window_extent(renderer).width
        if measured <= limit or width <= 10:
            return text
        width = max(10, min(width - 1, int(width * limit / measured)))


# ----------------------------------------------------------------------------- Keras metric

_UNSTACKED_RANK = {"x": 3, "y": 3, "heatmap": 4, "integer": 4, "decimal": 4}


def _last_stack(outputs):
    """Training outputs carry a stack axis after the batch; the last stack is the prediction."""
    result = {}
    for key, value in outputs.items():
        rank = _UNSTACKED_RANK.get(key)
        if rank is not None and len(value.shape) == rank + 1:
            value = value[:, -1]
        result[key] = value
    return result


def nme_tensor(pred, gt, scheme, normalizer=None):
    """`nme` written with `keras.ops` (traceable; for losses, metrics, exported graphs).

    Args:
        pred: (B, N, 2) tensor.
        gt: (B, N, 2) tensor.
        scheme: scheme name or `zoo.schemes.Scheme`.
        normalizer: None (the scheme's), or `"interocular"`, `"interpupil"`, `"box"` (landmark
            bounding box), `"diagonal"`. Explicit distances (the AFLW protocol's face-box
            sizes): use `nme`; a scheme normalised by the face box (`"aflw"`) with
            `normalizer=None` raises `ValueError` (no box size here).

    Returns:
        (B,) float32 tensor of NMEs as fractions (no NaN checks: a zero distance gives inf).

    Example:
        >>> import numpy as np, zoo.metrics
        >>> gt = np.zeros((1, 68, 2), "float32"); gt[0, 45, 0] = 100.0
        >>> round(float(zoo.metrics.nme_tensor(gt + [3.0, 4.0], gt, "300w")[0]), 6)
        0.05
    """
    scheme = _schemes.get_scheme(scheme)
    if normalizer is None and scheme.normalizer in ("box", "diagonal"):
        raise ValueError(_missing_box_message(scheme.name))
    normalizer = scheme.normalizer if normalizer is None else normalizer
    if normalizer not in _NORMALIZERS:
        raise ValueError(
            f"`normalizer` must be one of {_NORMALIZERS}. "
            f"Received: normalizer={normalizer!r}"
        )
    pred = ops.cast(pred, "float32")
    gt = ops.cast(gt, "float32")
    if normalizer == "interocular":
        a, b = scheme.normalizer_indices
        distance = ops.norm(gt[:, a] - gt[:, b], axis=-1)
    elif normalizer == "interpupil":
        if scheme.eye_groups is None:
            raise ValueError(
                f"Scheme {scheme.name!r} has no eye_groups. "
                "Received: normalizer='interpupil'"
            )
        left, right = (ops.mean(ops.take(gt, list(g), axis=1), axis=1) for g in scheme.eye_groups)
        distance = ops.norm(left - right, axis=-1)
    else:
        size = ops.max(gt, axis=1) - ops.min(gt, axis=1)
        if normalizer == "box":
            distance = ops.sqrt(size[:, 0] * size[:, 1])
        else:
            distance = ops.norm(size, axis=-1)
    point_errors = ops.norm(pred - gt, axis=-1)
    return ops.mean(point_errors, axis=1) / distance


@keras.saving.register_keras_serializable(package="zoo")
class NME(keras.metrics.Metric):
    """Running mean of the per-image NME (a fraction) over everything seen since the reset.

    Args:
        scheme: scheme name or `zoo.schemes.Scheme` (normaliser, landmark count).
        codec: None, or a codec (or its `zoo.codecs.serialize` dict). None: `y_true` and
            `y_pred` are (B, N, 2) landmarks. With a codec: a dict `y_pred` (a model's
            outputs, with or without the stack axis; the last stack is used) is decoded with
            `codec.decode`; `y_true` is decoded too when it is a dict of targets, otherwise it
            is taken as (B, N, 2) landmarks.
        normalizer: None (the scheme's) or a normaliser name (see `nme_tensor`).
        name: metric name.
        dtype: variable dtype.

    Example:
        >>> import numpy as np, zoo.metrics
        >>> metric = zoo.metrics.NME("300w")
        >>> gt = np.zeros((2, 68, 2), "float32"); gt[:, 45, 0] = 100.0
        >>> metric.update_state(gt, gt + [3.0, 4.0])
        >>> round(float(metric.result()), 6)
        0.05
    """

    def __init__(self, scheme, codec=None, normalizer=None, name="nme", dtype="float32", **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if isinstance(scheme, dict):
            scheme = _schemes.Scheme.from_config(scheme)
        self._scheme = _schemes.get_scheme(scheme)
        if normalizer is None and self._scheme.normalizer in ("box", "diagonal"):
            raise ValueError(_missing_box_message(self._scheme.name))
        if normalizer is not None and normalizer not in _NORMALIZERS:
            raise ValueError(
                f"`normalizer` must be None or one of {_NORMALIZERS}. "
                f"Received: normalizer={normalizer!r}"
            )
        self.scheme = self._scheme.name
        self.normalizer = normalizer
        if codec is not None:
            import zoo.codecs

            codec = zoo.codecs.get(codec)
        self.codec = codec
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="count"
        )

    def _landmarks(self, value):
        if isinstance(value, dict):
            if self.codec is None:
                raise ValueError(
                    "NME got a dict of heatmaps but has no codec to decode it. "
                    f"Received: keys={sorted(value)}"
                )
            coords, _ = self.codec.decode(_last_stack(value))
            return coords
        value = ops.convert_to_tensor(value)
        if len(value.shape) != 3 or value.shape[-1] != 2 or (
            value.shape[1] is not None and value.shape[1] != self._scheme.num_landmarks
        ):
            raise ValueError(
                f"NME expects landmarks of shape (B, {self._scheme.num_landmarks}, 2). "
                f"Received: shape={tuple(value.shape)}"
            )
        return value

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds a batch. `sample_weight`: optional (B,) weights of the images."""
        pred, true = self._landmarks(y_pred), self._landmarks(y_true)
        errors = nme_tensor(pred, true, self._scheme, self.normalizer)
        errors = ops.cast(errors, self.dtype)
        if sample_weight is None:
            weights = ops.ones_like(errors)
        else:
            weights = ops.cast(ops.reshape(sample_weight, (-1,)), self.dtype)
            weights = weights * ops.ones_like(errors)
        self.total.assign_add(ops.sum(errors * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(ops.zeros((), self.dtype))
        self.count.assign(ops.zeros((), self.dtype))

    def get_config(self):
        config = super().get_config()
        scheme = self.scheme
        if scheme not in _schemes.list_schemes() or _schemes.get_scheme(scheme) != self._scheme:
            scheme = self._scheme.get_config()  # an unregistered scheme travels in full
        codec = None
        if self.codec is not None:
            import zoo.codecs

            codec = zoo.codecs.serialize(self.codec)
        config.update({"scheme": scheme, "codec": codec, "normalizer": self.normalizer})
        return config
