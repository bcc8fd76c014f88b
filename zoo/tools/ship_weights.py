r"""Export a training run's checkpoint as a preset's shipped weights file and print its sha256.

    python -m zoo.tools.ship_weights --run_dir=/work/runs/mobile_v2 \
        --preset=aheat1d_mobile_300w --out=zoo/weights/aheat1d_mobile_300w.weights.h5

Rebuilds the run's model from its own ``config.json`` (its preset and ``model_overrides``),
restores its latest checkpoint (or ``--checkpoint``), checks that ``zoo.create(preset)`` builds
the same architecture (every override of the run equal to the preset's config, every weight of
the same shape: otherwise it says which values differ, so the preset can be updated first),
copies the weights into the preset's model and writes them as ``.weights.h5`` (at most 5 MB).
The written file is loaded back into a fresh ``zoo.create(preset)`` through its sha256 check
and compared weight for weight. A detector run can also ship a tracker preset's weights: the
detector's weights go into the tracker's detector and the temporal refinement keeps its zero
initialisation (the tracker then tracks exactly as the detector detects, until a tracker is
trained).

It prints the lines to put into the preset (``weights_url`` = the file name in
``zoo/weights/``, ``weights_sha256``) and a row for ``zoo/weights/README.md``. Weights trained
on 300-W are for non-commercial research use only.
"""
import argparse
import dataclasses
import os
import sys

import numpy as np

from zoo import weights as _weights


@dataclasses.dataclass
class ShippedWeights:
    """What :func:`ship_weights` wrote.

    Attributes:
        path: the ``.weights.h5`` file.
        sha256: its sha256.
        num_bytes: its size.
        preset: the preset it is for.
        run_dir: the run it came from.
        step: the checkpoint's training step.
        num_params: parameters of the preset's model.
    """

    path: str
    sha256: str
    num_bytes: int
    preset: str
    run_dir: str
    step: int
    num_params: int

    def preset_lines(self):
        """The ``Preset(...)`` arguments that name this file."""
        inside = os.path.dirname(os.path.abspath(self.path)) == _weights.WEIGHTS_DIR
        url = os.path.basename(self.path) if inside else os.path.abspath(self.path)
        return f'weights_url="{url}",\nweights_sha256="{self.sha256}",'

    def readme_row(self):
        """A markdown row for ``zoo/weights/README.md``."""
        return (f"| `{os.path.basename(self.path)}` | `{self.preset}` | {self.num_params:,} | "
                f"{self.num_bytes / 1e6:.2f} MB | `{self.run_dir}` step {self.step} | "
                f"`{self.sha256}` |")


def _restore(model, run_dir, checkpoint):
    """Restores ``checkpoint`` (a path prefix, or None for the latest) into ``model``."""
    import tensorflow as tf

    from zoo.training import loop

    if checkpoint is None:
        checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, loop.CHECKPOINT_SUBDIR))
        if checkpoint is None:
            raise ValueError(f"The run has no checkpoint yet. Received: run_dir={run_dir!r}")
    elif not tf.io.gfile.exists(checkpoint + ".index"):
        raise ValueError("No TF checkpoint at this prefix (expected <prefix>.index, e.g. "
                         f"<run_dir>/checkpoints/ckpt-500). Received: checkpoint={checkpoint!r}")
    step = tf.Variable(0, dtype=tf.int64)
    status = tf.train.Checkpoint(model=loop.model_variables(model), step=step).restore(checkpoint)
    status.expect_partial().assert_existing_objects_matched()
    return int(step.numpy())


def build_run_model(run_dir, checkpoint=None):
    """The model of a training run (its preset + overrides) with a checkpoint restored.

    Args:
        run_dir: a run folder (``config.json`` + ``checkpoints/``).
        checkpoint: a checkpoint prefix in it, or None for the latest.

    Returns:
        ``(model, config, overrides, step)``.

    Example:
        >>> import zoo.tools.ship_weights as ship
        >>> # needs a training run folder with checkpoints (tests/test_weights.py writes one)
        >>> model, config, overrides, step = ship.build_run_model("/work/runs/mobile_v2")  # doctest: +SKIP
    """
    import zoo
    from zoo.models import presets
    from zoo.training import config as config_lib
    from zoo.training import tasks

    if not _weights.is_run_dir(run_dir):
        raise ValueError("Expected a training run folder (config.json and checkpoints/). "
                         f"Received: run_dir={run_dir!r}")
    from zoo.training.resolve import applicable

    # Run folders written before the architecture records hold gamma and lambda for every model.
    config = applicable(config_lib.load_config(run_dir))
    resolve = tasks.resolve_tracker if presets.is_clip_model(config.model) else tasks.resolve_model
    config, _, overrides = resolve(config)
    model = zoo.create(config.model, **overrides)
    step = _restore(model, run_dir, checkpoint)
    return model, config, overrides, step


def _config_differences(run_values, preset):
    """``name=run value (preset: value)`` for every value of the run the preset does not share.

    ``run_values``: the run preset's config with its input size and the run's overrides (what
    the run's model was built with). A tracker preset's own keys (decay, refinement) are not
    compared: a detector run leaves them at the preset's values.
    """
    preset_values = dict(preset.config, input_size=preset.input_size)
    # Training-only switches change which weights train, not the architecture.
    run_values = {key: value for key, value in run_values.items() if key != "freeze_detector"}
    return [f"{key}={value!r} (preset: {preset_values.get(key, '<builder default>')!r})"
            for key, value in sorted(run_values.items()) if preset_values.get(key) != value]


def _copy_weights(source, target, preset_name):
    source_weights = source.get_weights()
    shapes = [w.shape for w in source_weights]
    target_shapes = [w.shape for w in target.get_weights()]
    if shapes != target_shapes:
        raise ValueError(
            f"The run's weights do not fit zoo.create({preset_name!r}): the run has "
            f"{len(shapes)} weight arrays, the preset's model {len(target_shapes)}, of other "
            f"shapes. Received: preset={preset_name!r}")
    target.set_weights(source_weights)


def ship_weights(run_dir, preset, out, checkpoint=None, max_bytes=_weights.MAX_SHIPPED_BYTES):
    """Writes the weights of a run's checkpoint as ``preset``'s shipped weights file.

    Args:
        run_dir: the training run folder.
        preset: the preset the file is for (``zoo.create(preset)`` must build the run's
            architecture; a tracker preset takes a detector run's weights in its detector).
        out: the ``.weights.h5`` path to write (``zoo/weights/<name>`` to ship it).
        checkpoint: a checkpoint prefix of the run, or None for the latest.
        max_bytes: refuse a larger file (issue 13: 5 MB).

    Returns:
        A :class:`ShippedWeights`.

    Raises:
        ValueError: not a run, no checkpoint, an architecture that differs from the preset's
            (the message lists the differing values), a file over ``max_bytes``, or a file
            that does not load back identically.

    Example:
        >>> import zoo.tools.ship_weights as ship
        >>> # needs a training run folder with checkpoints (tests/test_weights.py ships one)
        >>> shipped = ship.ship_weights("/work/runs/mobile_v2", "aheat1d_mobile_300w",  # doctest: +SKIP
        ...                             "zoo/weights/aheat1d_mobile_300w.weights.h5")
        >>> print(shipped.preset_lines())  # doctest: +SKIP
    """
    import zoo
    from zoo.models import presets

    out = os.fspath(out)
    if not out.endswith(".weights.h5"):
        raise ValueError(f"`out` must end with `.weights.h5`. Received: out={out!r}")
    preset_object = zoo.get_preset(preset)
    run_model, config, overrides, step = build_run_model(run_dir, checkpoint)
    run_preset = zoo.get_preset(config.model)
    run_values = {**run_preset.config, "input_size": run_preset.input_size, **overrides}
    target = zoo.create(preset)
    run_is_tracker = presets.is_clip_model(run_model)
    if presets.is_clip_model(target) and not run_is_tracker:
        # A detector run ships a tracker preset: its detector part; the refinement stays zero.
        # The tracker preset's config is its detector's config plus tracker-only keys.
        differences = _config_differences(run_values, preset_object)
        part = target.get_layer("frame_detector").detector
    elif run_is_tracker != presets.is_clip_model(target):
        raise ValueError("A tracker run ships tracker presets only. "
                         f"Received: run model={config.model!r}, preset={preset!r}")
    else:
        differences = _config_differences(run_values, preset_object)
        part = target
    if differences:
        raise ValueError(
            f"The run's model is not the architecture of preset {preset!r}: "
            f"{', '.join(differences)}. Update the preset's config (zoo/models/presets.py) to "
            "the run's values first, so that zoo.create(preset) builds this model. "
            f"Received: run_dir={run_dir!r}, preset={preset!r}")
    _copy_weights(run_model, part, preset)

    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(out)[:-len('.weights.h5')]}"
                                        f".partial.weights.h5")
    try:
        target.save_weights(temporary)
        num_bytes = os.path.getsize(temporary)
        if num_bytes > max_bytes:
            raise ValueError(f"The weights file is larger than a shipped file may be. Allowed: "
                             f"<= {max_bytes} bytes. Received: {num_bytes} bytes")
        sha256 = _weights.sha256_of(temporary)
        # Loaded back the way zoo.load loads shipped weights: through the sha256 check.
        fresh = zoo.create(preset)
        _weights.load_weights(fresh, temporary, sha256)
        for expected, actual in zip(target.get_weights(), fresh.get_weights()):
            if not np.array_equal(expected, actual):
                raise ValueError("The written weights file does not load back identically. "
                                 f"Received: out={out!r}")
        os.replace(temporary, out)  # nothing partial is ever left at `out`
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return ShippedWeights(path=out, sha256=sha256, num_bytes=num_bytes, preset=preset,
                          run_dir=os.fspath(run_dir), step=step,
                          num_params=int(target.count_params()))


def parse_args(argv=None):
    """Parses the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m zoo.tools.ship_weights",
                                     description=__doc__.strip().split("\n")[0])
    parser.add_argument("--run_dir", required=True, help="training run folder")
    parser.add_argument("--preset", required=True, help="preset the weights are for")
    parser.add_argument("--out", required=True,
                        help="the .weights.h5 to write (zoo/weights/<name> to ship it)")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint prefix, e.g. <run_dir>/checkpoints/ckpt-500 "
                             "(default: the latest)")
    return parser.parse_args(argv)


def main(argv=None):
    """Command-line entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        shipped = ship_weights(args.run_dir, args.preset, args.out, checkpoint=args.checkpoint)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {shipped.path} ({shipped.num_bytes / 1e6:.2f} MB, {shipped.num_params:,} "
          f"parameters) from {shipped.run_dir} step {shipped.step}")
    print(f"sha256 {shipped.sha256}")
    print("\nIn the preset:\n" + shipped.preset_lines())
    print("\nIn zoo/weights/README.md:\n" + shipped.readme_row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
