"""Training: one strategy-aware loop, frozen configs, the recipes' library code, k-fold search.

``tasks.train(config)`` is what every recipe calls: ``resolve`` turns the config into the model,
its codec (fitted to the built model) and its losses through the preset's architecture record;
the trainer of the record's task kind (``image_trainer.ImageTrainer`` for faces,
``clip_trainer.ClipTrainer`` for clips, both ``trainer.Trainer``) reads ``sources`` and runs
``loop.train_loop``.

Example:
    >>> import zoo.training
    >>> config = zoo.training.TrainConfig(model="aheat1d_mobile_300w", steps=200)
"""
from zoo.training import cross_validation  # noqa: F401
from zoo.training.config import PAPER_DEFAULTS, TrainConfig, load_config, save_config  # noqa: F401
from zoo.training.loop import (  # noqa: F401
    TrainResult,
    is_chief,
    make_strategy,
    restore_model,
    split_cpu,
    train_loop,
)
