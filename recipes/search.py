"""K-fold cross validation for gamma (Eq. 10) on the training set, as in the paper (Sec. 4):
10 folds, gamma from {0.1, ..., 1.0}. Prints the table and the chosen value.

    python recipes/search.py --data_dir=/data/300w --steps=20000
    python recipes/search.py --model=aheat1d_mobile_300w --grid=0.2,0.4,0.6 --folds=3 --steps=200

Every grid point x fold is a training run under <output_dir>/gamma<g>_run<i>.
"""
from absl import app, flags

from zoo.training import cross_validation, tasks
from zoo.training.config import PAPER_DEFAULTS
from zoo.training.flags import config_from_flags, define_training_flags

_DEFAULTS = PAPER_DEFAULTS["300w"].replace(output_dir="runs/search_gamma", eval_every=0,
                                           image_every=0)
_FLAGS = define_training_flags(_DEFAULTS)
_GRID = flags.DEFINE_list("grid", [str(v) for v in cross_validation.PAPER_GRID],
                          "Values of gamma to search (paper: 0.1, ..., 1.0).")
_FOLDS = flags.DEFINE_integer("folds", 10, "Number of folds k (paper: 10).")
_DATASET = flags.DEFINE_enum("dataset", "300w", ["300w", "aflw", "wflw", "cofw"],
                             "Dataset the --data_dir holds.")


def main(argv):
    del argv
    config = config_from_flags(_FLAGS, _DEFAULTS).replace(dataset=_DATASET.value)
    runner, num_samples = tasks.make_fold_runner(config)
    cross_validation.search({"gamma": [float(v) for v in _GRID.value]}, _FOLDS.value, runner,
                            num_samples, seed=config.seed)


if __name__ == "__main__":
    app.run(main)
