"""absl flags shared by the training recipes, and the one call a recipe makes.

Each recipe keeps module-level FlagHolders (``_FLAGS = define_training_flags(defaults)``) and
its ``main`` is ``run_recipe(config_from_flags(_FLAGS, defaults), ...)``.
"""
import dataclasses
import json

from absl import flags

from zoo.training.config import DATASETS, DECODE_METHODS, LR_SCHEDULES, STRATEGIES, TrainConfig

_HELP = {
    "model": "Preset name (zoo.list_models()).",
    "data_dir": "Dataset root; leave empty to train on SynthFace (synthetic faces).",
    "output_dir": "Checkpoints, config.json, TensorBoard logs (resumes from here).",
    "input_size": "Face crop size F (paper: 256); default: the preset's.",
    "heatmap_length": "Heatmap length L (1D, paper: 768) or side (2D); default: the preset's.",
    "sigma": "Target Gaussian sigma in input pixels, the same for every L (the paper gives "
             "none); default: the preset's, else F / 64 (4 px at F = 256).",
    "decode": "Decoding of validation (and of evaluate.py / export.py unless they say "
              "otherwise): 1D argmax (paper Eq. 7) | refined; 2D argmax | quarter_offset (FAN) | "
              "parabola | integral. Default: the preset's (1D refined, 2D quarter_offset).",
    "gamma": "Co-attention weight gamma of Eq. 10 (1D models); default: the preset's.",
    "temporal_lambda": "Temporal decay lambda of Eq. 13 (trackers); default: the preset's.",
    "clip_length": "Frames per training clip (trackers).",
    "crop_jitter": "Trackers: frame t is cropped around frame t-1's landmarks (as the tracker "
                   "crops from its previous prediction), drifted by a smooth random error of "
                   "this std (fraction of the face size; 0: exact previous box).",
    "image_data_dir": "Trackers, off by default (the paper's setting): a 300W root whose "
                      "training images join the 300-VW clips as static clips. Not the paper's "
                      "protocol, which uses 300W only for the detector (--init_checkpoint).",
    "init_checkpoint": "Weights to start from: a tracker's detector, or a detector itself "
                       "(fine-tuning): a run folder, a ckpt-N prefix, a .weights.h5 (e.g. "
                       "zoo/weights/<preset>.weights.h5) or a .keras file.",
    "batch_size": "Global batch size (paper: 10).",
    "learning_rate": "Adam learning rate (paper: 1e-4).",
    "steps": "Total training steps (a resumed run continues up to this number).",
    "mixed_precision": "Train under mixed_float16 with loss scaling.",
    "checkpoint_every": "Steps between checkpoints.",
    "log_every": "Steps between TensorBoard loss scalars.",
    "eval_every": "Steps between validation NME runs (0: start and end only).",
    "image_every": "Steps between TensorBoard landmark images (0: end only).",
    "num_synthetic": "SynthFace training faces when no --data_dir is given.",
    "num_val": "Validation faces.",
    "seed": "Data and augmentation seed.",
    "augment": "Augment detector training faces (rotation, scale, shift, flip, colour, blur, "
               "occlusion); --noaugment trains on plain crops.",
    "val_fraction": "Fraction of the training split held out for validation (fixed by "
                    "--val_seed, listed in val_split.txt); 0 validates on the test split.",
    "val_seed": "Seed of the held-out validation split.",
    "lr_schedule": "constant (paper) or cosine decay to 1% over --steps.",
}


def define_training_flags(defaults, flag_values=flags.FLAGS):
    """Defines one flag per ``TrainConfig`` field (plus ``--strategy`` and ``--logical_cpus``).

    Args:
        defaults: the recipe's ``TrainConfig`` (paper settings); flag defaults come from it.
        flag_values: the ``FlagValues`` to define into.

    Returns:
        dict ``name -> FlagHolder``.

    Example:
        >>> from absl import flags
        >>> from zoo.training.config import PAPER_DEFAULTS
        >>> from zoo.training.flags import define_training_flags
        >>> holders = define_training_flags(PAPER_DEFAULTS["300w"], flags.FlagValues())
        >>> holders["learning_rate"].default, holders["gamma"].default is None
        (0.0001, True)
    """
    holders = {}
    for field in dataclasses.fields(TrainConfig):
        name, default = field.name, getattr(defaults, field.name)
        if name == "dataset":
            continue
        help_text = _HELP.get(name, name)
        if name == "strategy":
            holders[name] = flags.DEFINE_enum(name, default, STRATEGIES,
                                              "Distribution strategy.", flag_values=flag_values)
        elif name == "model_overrides":
            holders[name] = flags.DEFINE_string(
                name, None if default is None else json.dumps(default),
                'JSON dict of zoo.create overrides, e.g. \'{"num_stacks": 1}\'.',
                flag_values=flag_values)
        elif name == "augmentation":
            holders[name] = flags.DEFINE_string(
                name, None if default is None else json.dumps(default),
                'JSON dict of AugmentConfig ranges replacing the defaults, e.g. '
                '\'{"rotation": 15.0, "occlusion_probability": 0.0}\'.', flag_values=flag_values)
        elif name == "decode":
            holders[name] = flags.DEFINE_enum(name, default, DECODE_METHODS, help_text,
                                              flag_values=flag_values)
        elif name == "sigma":
            holders[name] = flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
        elif name == "lr_schedule":
            holders[name] = flags.DEFINE_enum(name, default, LR_SCHEDULES, help_text,
                                              flag_values=flag_values)
        elif name in ("mixed_precision", "augment"):
            holders[name] = flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
        elif name in ("gamma", "temporal_lambda", "learning_rate", "val_fraction",
                      "crop_jitter"):
            holders[name] = flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
        elif name in ("data_dir", "output_dir", "model", "init_checkpoint", "image_data_dir"):
            holders[name] = flags.DEFINE_string(name, default, help_text, flag_values=flag_values)
        else:
            holders[name] = flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
    holders["logical_cpus"] = flags.DEFINE_integer(
        "logical_cpus", 0, "Split the CPU into this many logical devices (mirrored on a laptop).",
        flag_values=flag_values)
    return holders


def config_from_flags(holders, defaults):
    """Builds the run's ``TrainConfig`` from the parsed flags (``.value`` read here only)."""
    values = {name: holder.value for name, holder in holders.items() if name != "logical_cpus"}
    for name in ("data_dir", "init_checkpoint", "image_data_dir", "model_overrides",
                 "augmentation"):
        if values.get(name) == "":
            values[name] = None
    for name in ("model_overrides", "augmentation"):
        if values.get(name) is not None:
            try:
                values[name] = json.loads(values[name])
            except json.JSONDecodeError as error:
                raise ValueError(f"--{name} must be a JSON dict. Received: "
                                 f"{name}={values[name]!r}") from error
    return defaults.replace(**values)


def run_recipe(config, logical_cpus=0):
    """What every training recipe's ``main`` does: devices, strategy, then train.

    Args:
        config: the ``TrainConfig``.
        logical_cpus: split the CPU into this many logical devices first (0: do not).

    Returns:
        The ``TrainResult``.

    Example:
        >>> from zoo.training.flags import run_recipe
        >>> # 200 training steps (minutes on a CPU); tests/test_preset_training.py runs recipes
        >>> result = run_recipe(zoo.training.TrainConfig(  # doctest: +SKIP
        ...     model="aheat1d_mobile_300w", dataset="synthface", steps=200))
    """
    from zoo.training import loop, tasks

    if config.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}. Received: dataset={config.dataset!r}")
    if config.data_dir is not None:
        # A wrong folder stops before TensorFlow or any model is touched.
        from zoo.training.data import check_data_dir

        check_data_dir(config.dataset, config.data_dir)
    if logical_cpus:
        loop.split_cpu(logical_cpus)
    strategy = loop.make_strategy(config.strategy)
    # The preset's task kind (its architecture record) picks the trainer.
    result, _, _ = tasks.train(config, strategy=strategy)
    return result
