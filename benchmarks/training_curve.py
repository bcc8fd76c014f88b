"""Prints a training run's curve (loss and validation metrics from its TensorBoard logs) and
plots it as a PNG.

    python benchmarks/training_curve.py --run_dir=runs/mobile_v2 \
        --output=docs/training_curve_mobile_300w.png

The table has one row per validation run (``val/*`` scalars) with the training loss logged at
the nearest step; the wall time between the first and the last event is printed too.
"""
import collections
import glob
import os

from absl import app, flags

_RUN_DIR = flags.DEFINE_string("run_dir", None, "Training run folder (with logs/).")
_OUTPUT = flags.DEFINE_string("output", None, "PNG to write (optional).")
_TITLE = flags.DEFINE_string("title", None, "Plot title (default: the run folder's name).")


def read_scalars(run_dir):
    """``{tag: [(step, wall_time, value), ...]}`` from ``<run_dir>/logs/events*``.

    Args:
        run_dir: a run folder of ``zoo.training.loop.train_loop``.

    Returns:
        dict of sorted lists, one entry per step (the last write of a step wins, so a
        resumed run that repeated steps is counted once).

    Example:
        >>> # scalars = read_scalars("runs/mobile_v2"); scalars["val/nme"][-1]
    """
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(run_dir, "logs", "events*")))
    if not files:
        raise ValueError(f"No TensorBoard event file under {run_dir}/logs. Received: run_dir={run_dir}")
    by_tag = collections.defaultdict(dict)
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("tensor"):
                    array = tf.make_ndarray(value.tensor)
                    if array.ndim or array.dtype.kind not in "fiu":
                        continue  # images and text, not scalars
                    number = float(array)
                else:
                    number = float(value.simple_value)
                by_tag[value.tag][int(event.step)] = (int(event.step), event.wall_time, number)
    return {tag: sorted(values.values()) for tag, values in by_tag.items()}


def curve_table(scalars):
    """Rows ``(step, loss, {val tag: value})`` at each validation step."""
    losses = scalars.get("train/loss", [])
    val_tags = sorted(tag for tag in scalars if tag.startswith("val/"))
    steps = sorted({step for tag in val_tags for step, _, _ in scalars[tag]})
    rows = []
    for step in steps:
        loss = min(losses, key=lambda item: abs(item[0] - step))[2] if losses else float("nan")
        values = {tag: next((v for s, _, v in scalars[tag] if s == step), float("nan"))
                  for tag in val_tags}
        rows.append((step, loss, values))
    return rows


def plot(scalars, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    losses = scalars.get("train/loss", [])
    left.plot([s for s, _, _ in losses], [v for _, _, v in losses], lw=0.8)
    left.set_xlabel("step")
    left.set_ylabel("training loss (Eq. 11)")
    left.set_yscale("log")
    nme = scalars.get("val/nme", [])
    right.plot([s for s, _, _ in nme], [100 * v for _, _, v in nme], marker="o", ms=3)
    right.set_xlabel("step")
    right.set_ylabel("validation NME (%)")
    if nme:
        right.set_ylim(0, min(20.0, max(100 * v for _, _, v in nme[1:] or nme) * 1.1))
    right.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv):
    del argv
    if not _RUN_DIR.value:
        raise app.UsageError("--run_dir is required.")
    scalars = read_scalars(_RUN_DIR.value)
    rows = curve_table(scalars)
    tags = sorted(rows[0][2]) if rows else []
    print("| step | train loss | " + " | ".join(tags) + " |")
    print("|---:|---:|" + "---:|" * len(tags))
    for step, loss, values in rows:
        cells = " | ".join(f"{100 * values[t]:.2f} %" for t in tags)
        print(f"| {step} | {loss:.1f} | {cells} |")
    times = [t for values in scalars.values() for _, t, _ in values]
    if times:
        print(f"wall time between first and last event: {(max(times) - min(times)) / 3600:.2f} h "
              "(includes any pause between a stop and its resume)")
    if _OUTPUT.value:
        plot(scalars, _OUTPUT.value, _TITLE.value or os.path.basename(_RUN_DIR.value.rstrip("/")))
        print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    app.run(main)
