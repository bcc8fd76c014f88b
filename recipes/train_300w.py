"""Trains the attentive 1D heatmap detector on 300-W (gamma 0.4, F 256, L 768, batch 10, Adam 1e-4).

With no --data_dir it trains on SynthFace (synthetic faces) and says so in a banner.

    python recipes/train_300w.py --data_dir=/data/300w --output_dir=runs/300w
    python recipes/train_300w.py --steps=200 --model=aheat1d_mobile_300w   # SynthFace, CPU
    python recipes/train_300w.py --data_dir=/data/300w --strategy=mirrored  # all local GPUs

With a tracker preset (--model=aheat1d_tracker_mobile_300vw --init_checkpoint=runs/mobile) it
trains the tracker on the 300-W faces as synthetic-motion clips (zoo.data.motion_clips), with
the detector's training faces and the same held-out validation faces (val_split.txt).

Killed and started again with the same --output_dir, it resumes from the last checkpoint.
The run's config is written to <output_dir>/config.json; TensorBoard logs to <output_dir>/logs.
"""
from absl import app

from zoo.training.config import PAPER_DEFAULTS
from zoo.training.flags import config_from_flags, define_training_flags, run_recipe

_DEFAULTS = PAPER_DEFAULTS["300w"]
_FLAGS = define_training_flags(_DEFAULTS)


def main(argv):
    del argv
    run_recipe(config_from_flags(_FLAGS, _DEFAULTS), logical_cpus=_FLAGS["logical_cpus"].value)


if __name__ == "__main__":
    app.run(main)
