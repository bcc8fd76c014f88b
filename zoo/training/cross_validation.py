"""K-fold cross validation over a hyper-parameter grid, as the paper chooses gamma and lambda.

Paper, Sec. 4 ("Implementation details"): "the training set is splitted as 10 folds to conduct
cross validation and select optimal values for gamma in Equation (10) and lambda in Equation
(13). gamma and lambda are searched from {0.1, 0.2, ..., 1.0}."

:func:`search` is generic: it takes a ``train_and_evaluate(values, train_indices, val_indices)``
callable that returns a validation error (lower is better), so the same code searches gamma for
a detector and lambda for a tracker (``zoo.training.tasks.make_fold_runner`` builds that
callable for a ``TrainConfig``).
"""
import dataclasses
import itertools
from typing import Callable

import numpy as np

PAPER_GRID = tuple(round(0.1 * i, 1) for i in range(1, 11))


def kfold_indices(num_samples, k, seed=0):
    """Splits ``range(num_samples)`` into ``k`` shuffled folds.

    Args:
        num_samples: number of training samples (>= k).
        k: number of folds (>= 2).
        seed: shuffle seed.

    Returns:
        A list of ``k`` pairs ``(train_indices, val_indices)`` of int64 arrays; the validation
        parts are disjoint and cover every sample once.

    Example:
        >>> from zoo.training.cross_validation import kfold_indices
        >>> [len(v) for _, v in kfold_indices(10, 3)]
        [4, 3, 3]
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an integer >= 2. Received: k={k!r}")
    if not isinstance(num_samples, int) or num_samples < k:
        raise ValueError(f"num_samples must be an integer >= k={k}. Received: num_samples={num_samples!r}")
    order = np.random.default_rng(seed).permutation(num_samples)
    folds = np.array_split(order, k)
    return [(np.sort(np.concatenate(folds[:i] + folds[i + 1:])), np.sort(fold))
            for i, fold in enumerate(folds)]


@dataclasses.dataclass
class SearchResult:
    """What :func:`search` returns.

    Attributes:
        names: the searched parameter names, in grid order.
        rows: one dict per grid point: ``{"values": {...}, "fold_errors": [...], "mean": m,
            "std": s}``.
        best: the chosen values (lowest mean error; ties go to the earlier grid point).
        best_error: its mean error.
        table: the printed table.
    """

    names: list
    rows: list
    best: dict
    best_error: float
    table: str


def format_table(names, rows, best, percent=True):
    """Formats the search rows as a text table (errors in percent by default)."""
    scale, unit = (100.0, "%") if percent else (1.0, "")
    num_folds = len(rows[0]["fold_errors"])
    headers = list(names) + [f"fold{i + 1}" for i in range(num_folds)] + [f"mean{unit}", f"std{unit}", ""]
    lines = []
    for row in rows:
        cells = [f"{row['values'][n]:g}" for n in names]
        cells += [f"{scale * e:.3f}" for e in row["fold_errors"]]
        cells += [f"{scale * row['mean']:.3f}", f"{scale * row['std']:.3f}",
                  "<- chosen" if row["values"] == best else ""]
        lines.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *lines)]
    out = ["  ".join(h.rjust(w) for h, w in zip(headers, widths)).rstrip()]
    out.append("  ".join("-" * w for w in widths[:-1]))
    out += ["  ".join(c.rjust(w) for c, w in zip(cells, widths)).rstrip() for cells in lines]
    chosen = ", ".join(f"{n}={best[n]:g}" for n in names)
    out.append(f"chosen: {chosen}")
    return "\n".join(out)


def search(grid, k, train_and_evaluate: Callable, num_samples, seed=0, print_fn=print):
    """K-fold cross validation over every point of ``grid``; prints the table and the choice.

    Args:
        grid: dict ``name -> list of values``, e.g. ``{"gamma": [0.1, ..., 1.0]}`` (paper grid:
            ``zoo.training.cross_validation.PAPER_GRID``). Several names search their product.
        k: folds (paper: 10).
        train_and_evaluate: ``fn(values: dict, train_indices, val_indices) -> float``, the
            validation error of a model trained on ``train_indices`` (lower is better).
        num_samples: size of the training set that is split.
        seed: fold shuffle seed (the same folds for every grid point).
        print_fn: where the table goes (None: do not print).

    Returns:
        A :class:`SearchResult`.

    Example:
        >>> from zoo.training.cross_validation import search
        >>> def error(values, train, val):
        ...     return abs(values["gamma"] - 0.4) + 0.01 * len(val)
        >>> search({"gamma": [0.2, 0.4, 0.6]}, k=2, train_and_evaluate=error,
        ...        num_samples=4, print_fn=None).best
        {'gamma': 0.4}
    """
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"grid must be a non-empty dict name -> values. Received: grid={grid!r}")
    for name, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"grid values must be non-empty lists. Received: {name}={values!r}")
    folds = kfold_indices(num_samples, k, seed)
    names = list(grid)
    rows = []
    for point in itertools.product(*(grid[n] for n in names)):
        values = dict(zip(names, point))
        errors = [float(train_and_evaluate(dict(values), train, val)) for train, val in folds]
        rows.append({"values": values, "fold_errors": errors, "mean": float(np.mean(errors)),
                     "std": float(np.std(errors))})
    best_row = min(rows, key=lambda row: row["mean"])
    table = format_table(names, rows, best_row["values"])
    if print_fn is not None:
        print_fn(table)
    return SearchResult(names=names, rows=rows, best=dict(best_row["values"]),
                        best_error=best_row["mean"], table=table)
