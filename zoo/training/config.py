"""Frozen training configurations with the paper's defaults, written as ``config.json``.

A run can be reproduced from its own folder: the recipe writes the config it ran with next to
its checkpoints, and :func:`load_config` reads it back.

Paper defaults (Sec. 4, "Implementation details" of the attentive 1D heatmap paper): faces
cropped and scaled to F = 256, 1D heatmap length L = 3 F = 768, batch 10, Adam with learning
rate 1e-4; gamma (Eq. 10) 0.4 on 300W, 0.5 on AFLW, 0.4 on 300VW; lambda (Eq. 13) 0.3.
The architecture-specific values (gamma, L, lambda) live in the presets (the paper presets
carry the paper's); a config sets them only to override the preset, and only for the
architectures that take them (``zoo.models.presets.Architecture.train_fields``).
"""
import dataclasses
import json
import os
from typing import Optional

STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")
LR_SCHEDULES = ("constant", "cosine")
# Decode methods of the codecs (``codec.decode_methods``): 1D ``argmax`` (Eq. 7) / ``refined``;
# 2D ``argmax`` / ``quarter_offset`` (FAN) / ``parabola`` / ``integral``; HIH ``argmax`` (the
# authors') / ``expectation``.
DECODE_METHODS = ("argmax", "refined", "quarter_offset", "parabola", "integral", "expectation")
DATASETS = ("synthface", "300w", "aflw", "wflw", "cofw", "300vw")
CONFIG_FILENAME = "config.json"


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def _decode_methods(decode):
    """``DECODE_METHODS``, and for another name those of every registered codec (a codec of
    another architecture, e.g. RDFN's, brings its own); the registry is read only then, so a
    config of the common methods never imports Keras."""
    if decode in DECODE_METHODS:
        return DECODE_METHODS
    import zoo.codecs

    methods = list(DECODE_METHODS)
    for cls in zoo.codecs.base.registered_codecs().values():
        methods += [m for m in getattr(cls, "decode_methods", ()) if m not in methods]
    return tuple(methods)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Frozen: derive variants with ``replace``.

    Attributes:
        model: preset name for ``zoo.create`` (e.g. ``"aheat1d_300w"``).
        model_overrides: extra ``zoo.create`` overrides of the architecture config (e.g.
            ``{"num_stacks": 1}``), or None.
        dataset: one of ``DATASETS``; ``"synthface"`` needs no ``data_dir``.
        data_dir: dataset root folder, or None to train on SynthFace (with a banner).
        output_dir: checkpoints, ``config.json``, TensorBoard logs and reports go here.
        input_size: face crop size F in pixels; None keeps the preset's (the paper presets
            use the paper's F = 256). The recipe writes the resolved value to config.json.
        heatmap_length: heatmap length L (1D) or heatmap side (2D); None keeps the preset's
            (paper presets: 3 F = 768). Only for architectures that take it (``train_fields``
            of their record); the recipe writes the resolved value to config.json.
        sigma: target Gaussian standard deviation in **input pixels** (``sigma * L / F``
            bins), the same for every L, 1D and 2D; None keeps the preset's, else the codecs'
            default ``F / 64`` (4 px at F = 256; the paper gives none). The recipe writes the
            resolved value to ``config.json``.
        decode: how validation/evaluation/export decode heatmaps (one of
            ``DECODE_METHODS`` that the preset's codec offers): ``"argmax"`` is the paper's
            Eq. 7, ``"refined"`` (the 1D presets' default) adds a log-parabola sub-bin fit
            that is exact on clean targets; 2D: ``"quarter_offset"`` (FAN's, the default),
            ``"argmax"``, ``"parabola"``, ``"integral"``. None keeps the preset's; the recipe
            writes the resolved name to ``config.json``. Training targets do not depend on it.
        gamma: co-attention weight of Eq. 10; None keeps the preset's (paper: 0.4 on 300W,
            0.5 on AFLW). Only for architectures with co-attention (the 1D detector and its
            tracker); set for any other it is an error. Written resolved to config.json.
        temporal_lambda: decay of Eq. 13; None keeps the preset's (paper: 0.3). Trackers only.
        clip_length: frames per training clip T; trackers only.
        crop_jitter: trackers only: training crops follow the tracking protocol (a tracker
            crops frame t around its prediction for frame t-1): frame t is cropped around the
            ground truth of frame t-1 (frame 0: its own), moved and scaled by a smooth random
            drift standing in for the tracker's error, with this standard deviation (centre
            shift as a fraction of the face's landmark-box side, per axis; log scale); 0 gives
            the previous frame's exact box. A choice of this zoo (the paper gives no crop
            protocol for tracking).
        init_checkpoint: weights to start from (``zoo.training.trainer.init_weights``: a run
            folder, a checkpoint prefix, a ``.weights.h5`` or ``.keras`` file): for a tracker,
            the trained detector inside it; for a detector, the whole model (fine-tuning, e.g.
            from a preset's shipped ``zoo/weights/*.weights.h5``). A resumed run restores its
            own checkpoint over them.
        image_data_dir: trackers only, an option of this zoo that is off (None) in the
            paper-faithful default: a 300W root whose training images (train split) join the
            300-VW clips as static clips (the image repeated T times). Not the paper's
            protocol: the paper (Sec. 5.1) trains on 300W + 300VW but uses the 300W images
            only to train the detector inside the tracker (here: ``init_checkpoint``), and
            the refinement on 300-VW videos only.
        batch_size: global batch size over all replicas (paper: 10).
        learning_rate: Adam learning rate (paper: 1e-4).
        steps: optimizer steps in total (a resumed run continues up to this number).
        strategy: one of ``STRATEGIES``.
        mixed_precision: train under the ``mixed_float16`` policy with loss scaling.
        checkpoint_every: steps between checkpoints (and one at the end).
        log_every: steps between TensorBoard scalar summaries.
        eval_every: steps between validation runs (0: only at the start and the end).
        image_every: steps between TensorBoard images of predicted landmarks (0: never).
        num_synthetic: SynthFace training faces when no ``data_dir`` is given.
        num_val: validation faces (SynthFace) or at most this many validation samples.
        seed: seed for data order, augmentation and SynthFace generation.
        augment: detectors: augment every training face (rotation, scale, shift, horizontal
            flip with the scheme's permutation, colour, blur, occlusion; fresh parameters each
            epoch). Validation and test faces are never augmented. ``--noaugment`` turns it off.
        augmentation: detectors: ``zoo.data.transforms.AugmentConfig`` fields that replace its
            defaults (e.g. ``{"rotation": 15.0}``); the recipe writes the complete resolved
            ranges to ``config.json``.
        val_fraction: with a ``data_dir``: the fraction of the *training* split held out for
            validation (model and hyper-parameter choice), a fixed subset drawn with
            ``val_seed`` and written to ``<output_dir>/val_split.txt``; the test split is
            never looked at during training. 0 validates on the dataset's test split instead
            (the paper's protocol, which reports test figures only).
        val_seed: seed of the validation split (fixed apart from ``seed``, so runs with
            different training seeds hold out the same faces).
        lr_schedule: ``"constant"`` (the paper: Adam at ``learning_rate`` throughout) or
            ``"cosine"`` (cosine decay to 1 % of ``learning_rate`` over ``steps``; used for the
            CPU-scale real-face runs, a choice of this zoo, not the paper's).
    """

    model: str = "aheat1d_300w"
    dataset: str = "300w"
    data_dir: Optional[str] = None
    output_dir: str = "runs/aheat1d_300w"
    model_overrides: Optional[dict] = None
    input_size: Optional[int] = None
    heatmap_length: Optional[int] = None
    sigma: Optional[float] = None
    decode: Optional[str] = None
    gamma: Optional[float] = None
    temporal_lambda: Optional[float] = None
    clip_length: int = 4
    crop_jitter: float = 0.03
    init_checkpoint: Optional[str] = None
    image_data_dir: Optional[str] = None
    batch_size: int = 10
    learning_rate: float = 1e-4
    steps: int = 100_000
    strategy: str = "one_device"
    mixed_precision: bool = False
    checkpoint_every: int = 1000
    log_every: int = 50
    eval_every: int = 5000
    image_every: int = 5000
    num_synthetic: int = 2000
    num_val: int = 200
    seed: int = 0
    augment: bool = True
    augmentation: Optional[dict] = None
    val_fraction: float = 0.1
    val_seed: int = 0
    lr_schedule: str = "constant"

    def __post_init__(self):
        _check(self.dataset in DATASETS,
               f"dataset must be one of {DATASETS}. Received: dataset={self.dataset!r}")
        _check(self.strategy in STRATEGIES,
               f"strategy must be one of {STRATEGIES}. Received: strategy={self.strategy!r}")
        for name in ("batch_size", "steps", "checkpoint_every", "log_every", "clip_length",
                     "num_synthetic", "num_val"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value > 0,
                   f"{name} must be a positive integer. Received: {name}={value!r}")
        for name in ("eval_every", "image_every"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 0,
                   f"{name} must be a non-negative integer. Received: {name}={value!r}")
        for name in ("input_size", "heatmap_length"):
            value = getattr(self, name)
            _check(value is None or (isinstance(value, int) and value > 0),
                   f"{name} must be a positive integer or None. Received: {name}={value!r}")
        _check(self.sigma is None or (isinstance(self.sigma, (int, float))
                                      and not isinstance(self.sigma, bool) and self.sigma > 0),
               f"sigma must be a positive number of input pixels or None. Received: "
               f"sigma={self.sigma!r}")
        _check(self.decode is None or self.decode in _decode_methods(self.decode),
               f"decode must be None or one of the codecs' decode methods. Allowed: "
               f"{list(_decode_methods(self.decode))}. Received: decode={self.decode!r}")
        _check(self.model_overrides is None or isinstance(self.model_overrides, dict),
               "model_overrides must be a dict or None. Received: "
               f"model_overrides={self.model_overrides!r}")
        _check(self.augmentation is None or isinstance(self.augmentation, dict),
               "augmentation must be a dict of AugmentConfig fields or None. Received: "
               f"augmentation={self.augmentation!r}")
        if self.augmentation is not None:
            self.augment_config()  # unknown or out-of-range fields fail here, not mid-run
        _check(isinstance(self.val_fraction, (int, float)) and 0.0 <= self.val_fraction < 1.0,
               f"val_fraction must be in [0, 1). Received: val_fraction={self.val_fraction!r}")
        _check(self.lr_schedule in LR_SCHEDULES,
               f"lr_schedule must be one of {LR_SCHEDULES}. Received: "
               f"lr_schedule={self.lr_schedule!r}")
        _check(self.learning_rate > 0,
               f"learning_rate must be > 0. Received: learning_rate={self.learning_rate}")
        _check(self.gamma is None or 0.0 <= self.gamma <= 1.0,
               f"gamma must be in [0, 1] or None. Received: gamma={self.gamma}")
        _check(self.temporal_lambda is None or 0.0 <= self.temporal_lambda <= 1.0,
               f"temporal_lambda must be in [0, 1]. Received: "
               f"temporal_lambda={self.temporal_lambda}")
        _check(isinstance(self.crop_jitter, (int, float)) and 0.0 <= self.crop_jitter <= 0.5,
               f"crop_jitter must be in [0, 0.5]. Received: crop_jitter={self.crop_jitter!r}")

    def augment_config(self):
        """The ``AugmentConfig`` of this run, or None when ``augment`` is off.

        Example:
            >>> from zoo.training.config import TrainConfig
            >>> TrainConfig(augmentation={"rotation": 10.0}).augment_config().rotation
            10.0
        """
        if not self.augment:
            return None
        from zoo.data.transforms import AugmentConfig

        values = dict(self.augmentation or {})
        allowed = sorted(field.name for field in dataclasses.fields(AugmentConfig))
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"Unknown augmentation field(s). Allowed: {allowed}. "
                             f"Received: {', '.join(f'{k}={values[k]!r}' for k in unknown)}")
        if "occlusion_size" in values:
            values["occlusion_size"] = tuple(values["occlusion_size"])
        return AugmentConfig(**values)

    def replace(self, **changes):
        """Returns a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields. Received: {unknown}")
        return cls(**values)


# Paper settings per recipe (Sec. 4): the recipes start from these and apply their flags.
# gamma comes from the presets (aheat1d_300w 0.4, aheat1d_aflw 0.5: the paper's), so any other
# --model (fan2d_300w, hih_300w, ...) trains through the same recipe.
PAPER_DEFAULTS = {
    "300w": TrainConfig(model="aheat1d_300w", dataset="300w", output_dir="runs/aheat1d_300w"),
    "aflw": TrainConfig(model="aheat1d_aflw", dataset="aflw", output_dir="runs/aheat1d_aflw"),
    "wflw": TrainConfig(model="aheat1d_wflw", dataset="wflw", output_dir="runs/aheat1d_wflw"),
    "cofw": TrainConfig(model="aheat1d_cofw", dataset="cofw", output_dir="runs/aheat1d_cofw"),
    "300vw": TrainConfig(model="aheat1d_tracker_300vw", dataset="300vw", temporal_lambda=0.3,
                         output_dir="runs/aheat1d_tracker_300vw"),
}


def save_config(config, directory):
    """Writes ``config`` as ``<directory>/config.json`` and returns the path.

    Args:
        config: a frozen dataclass (``TrainConfig`` or similar).
        directory: folder to write into (created if missing).

    Returns:
        The path of the written file.

    Example:
        >>> import tempfile
        >>> from zoo.training.config import TrainConfig, save_config, load_config
        >>> folder = tempfile.mkdtemp()
        >>> path = save_config(TrainConfig(steps=5), folder)
        >>> load_config(folder).steps
        5
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, CONFIG_FILENAME)
    # Written next to its place and renamed: a run killed meanwhile leaves the old file whole.
    staged = f"{path}.tmp-{os.getpid()}"
    with open(staged, "w", encoding="utf-8") as handle:
        json.dump(dataclasses.asdict(config), handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(staged, path)
    return path


def load_config(directory, cls=TrainConfig):
    """Reads ``<directory>/config.json`` back into ``cls``.

    Args:
        directory: a run folder written by :func:`save_config`.
        cls: the dataclass to build (default ``TrainConfig``).

    Returns:
        An instance of ``cls``.

    Example:
        >>> from zoo.training.config import TrainConfig, load_config, save_config
        >>> path = save_config(TrainConfig(model="fan2d_300w", steps=7), "run")
        >>> load_config("run").steps
        7
    """
    path = os.path.join(directory, CONFIG_FILENAME)
    if not os.path.isfile(path):
        raise ValueError(f"No {CONFIG_FILENAME} in the run folder. Received: directory={directory}")
    with open(path, encoding="utf-8") as handle:
        values = json.load(handle)
    if hasattr(cls, "from_dict"):
        return cls.from_dict(values)
    return cls(**values)
