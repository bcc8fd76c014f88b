"""Trains the attentive 1D heatmap tracker on 300-VW (lambda 0.3, gamma 0.4, clips of T frames, Eq. 14 loss), detector initialised from a 300W run.

With no --data_dir it trains on SynthFace videos (synthetic faces) and says so in a banner.

    python recipes/train_300w.py --data_dir=/data/300w --output_dir=runs/300w
    python recipes/train_300vw.py --data_dir=/data/300vw --init_checkpoint=runs/300w --output_dir=runs/300vw
    python recipes/train_300vw.py --model=aheat1d_tracker_mobile_300vw --steps=200   # SynthFace, CPU
    python recipes/train_300vw.py --data_dir=/data/300vw --init_checkpoint=runs/300w \\
        --freeze_detector --strategy=mirrored                                         # all local GPUs

--init_checkpoint takes a detector run folder of train_300w.py (config.json + checkpoints/,
its latest checkpoint), a checkpoint prefix (runs/300w/checkpoints/ckpt-5000), a .weights.h5
or a .keras file; the detector must have the tracker's architecture (same --model_overrides,
--input_size, --heatmap_length). --freeze_detector trains the temporal refinement only.
Killed and started again with the same --output_dir, it resumes from the last checkpoint.
The run's config is written to <output_dir>/config.json; TensorBoard logs to <output_dir>/logs.
Evaluate with: python recipes/evaluate.py --run_dir=runs/300vw   (300-VW S1/S2/S3).

Without 300-VW, train a tracker preset on 300-W faces under synthetic motion
(zoo.data.motion_clips; the detector's training faces, its validation faces held out):
    python recipes/train_300w.py --model=aheat1d_tracker_mobile_300vw --data_dir=/data/300w \
        --init_checkpoint=runs/mobile --model_overrides='{"freeze_detector": true}' \
        --output_dir=runs/tracker_300w
"""
import json

from absl import app, flags

from zoo.training.config import PAPER_DEFAULTS
from zoo.training.flags import config_from_flags, define_training_flags, run_recipe

_DEFAULTS = PAPER_DEFAULTS["300vw"]
_FLAGS = define_training_flags(_DEFAULTS)
_FREEZE_DETECTOR = flags.DEFINE_bool(
    "freeze_detector", False,
    "Keep the (initialised) detector fixed and train only the temporal refinement (Eq. 13).")


def main(argv):
    del argv
    config = config_from_flags(_FLAGS, _DEFAULTS)
    if _FREEZE_DETECTOR.value:
        # Recorded in config.json through model_overrides (an argument of the tracker builder).
        config = config.replace(model_overrides={**(config.model_overrides or {}),
                                                 "freeze_detector": True})
        print("freeze_detector: model_overrides =", json.dumps(config.model_overrides))
    run_recipe(config, logical_cpus=_FLAGS["logical_cpus"].value)


if __name__ == "__main__":
    app.run(main)
