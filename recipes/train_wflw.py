"""Trains the attentive 1D heatmap detector on WFLW-98 (gamma 0.4, F 256, L 768, batch 10, Adam 1e-4); --model picks any preset
(``hih_wflw``: HIH, the CSC loss).

With no --data_dir it trains on SynthFace (synthetic faces) and says so in a banner.

    python recipes/train_wflw.py --data_dir=/data/wflw --output_dir=runs/wflw
    python recipes/train_wflw.py --steps=200 --model=aheat1d_mobile_300w   # SynthFace, CPU
    python recipes/train_wflw.py --data_dir=/data/wflw --model=hih_wflw --output_dir=runs/hih_wflw
    python recipes/train_wflw.py --data_dir=/data/wflw --strategy=mirrored  # all local GPUs

Killed and started again with the same --output_dir, it resumes from the last checkpoint.
The run's config is written to <output_dir>/config.json; TensorBoard logs to <output_dir>/logs.
"""
from absl import app

from zoo.training.config import PAPER_DEFAULTS
from zoo.training.flags import config_from_flags, define_training_flags, run_recipe

_DEFAULTS = PAPER_DEFAULTS["wflw"]
_FLAGS = define_training_flags(_DEFAULTS)


def main(argv):
    del argv
    run_recipe(config_from_flags(_FLAGS, _DEFAULTS), logical_cpus=_FLAGS["logical_cpus"].value)


if __name__ == "__main__":
    app.run(main)
