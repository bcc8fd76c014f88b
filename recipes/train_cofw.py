"""Trains the attentive 1D heatmap detector on COFW-29 (gamma 0.4, F 256, L 768, batch 10, Adam 1e-4); --model picks any preset
(``hih_cofw``: HIH, the CSC loss).

With no --data_dir it trains on SynthFace (synthetic faces) and says so in a banner.

    python recipes/train_cofw.py --data_dir=/data/cofw --output_dir=runs/cofw
    python recipes/train_cofw.py --steps=200 --model=aheat1d_mobile_300w   # SynthFace, CPU
    python recipes/train_cofw.py --data_dir=/data/cofw --model=hih_cofw --output_dir=runs/hih_cofw
    python recipes/train_cofw.py --data_dir=/data/cofw --strategy=mirrored  # all local GPUs

Killed and started again with the same --output_dir, it resumes from the last checkpoint.
The run's config is written to <output_dir>/config.json; TensorBoard logs to <output_dir>/logs.
"""
from absl import app

from zoo.training.config import PAPER_DEFAULTS
from zoo.training.flags import config_from_flags, define_training_flags, run_recipe

_DEFAULTS = PAPER_DEFAULTS["cofw"]
_FLAGS = define_training_flags(_DEFAULTS)


def main(argv):
    del argv
    run_recipe(config_from_flags(_FLAGS, _DEFAULTS), logical_cpus=_FLAGS["logical_cpus"].value)


if __name__ == "__main__":
    app.run(main)
