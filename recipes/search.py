"""K-fold cross validation for gamma (Eq. 10) or lambda (Eq. 13) on the training set, as in the
paper (Sec. 4): 10 folds, values from {0.1, ..., 1.0}. Prints the table and the chosen value.

    python recipes/search.py --data_dir=/data/300w --steps=20000                 # gamma, detector
    python recipes/search.py --model=aheat1d_mobile_300w --grid=0.2,0.4,0.6 --folds=3 --steps=200
    python recipes/search.py --param=lambda --data_dir=/data/300vw \\
        --init_checkpoint=runs/300w --steps=20000                                # lambda, tracker
    python recipes/search.py --param=lambda --model=aheat1d_tracker_mobile_300vw \\
        --grid=0.1,0.3,0.5 --folds=3 --steps=200                                 # SynthFace videos

--param=lambda searches the tracker's temporal decay (default model aheat1d_tracker_300vw,
dataset 300vw, the 300vw recipe's settings for every flag not given); the folds split the
300-VW training *videos* (SynthFace: clips). Every grid point x fold is a training run under
<output_dir>/<param><value>_run<i>.
"""
from absl import app, flags

from zoo.training import cross_validation, tasks
from zoo.training.config import PAPER_DEFAULTS
from zoo.training.flags import config_from_flags, define_training_flags

_DEFAULTS = PAPER_DEFAULTS["300w"].replace(output_dir="runs/search_gamma", eval_every=0,
                                           image_every=0)
_LAMBDA_DEFAULTS = PAPER_DEFAULTS["300vw"].replace(output_dir="runs/search_lambda",
                                                   eval_every=0, image_every=0)
_FLAGS = define_training_flags(_DEFAULTS)
_PARAM = flags.DEFINE_enum("param", "gamma", ["gamma", "lambda"],
                           "gamma (Eq. 10, detector) or lambda (Eq. 13, tracker).")
_GRID = flags.DEFINE_list("grid", [str(v) for v in cross_validation.PAPER_GRID],
                          "Values to search (paper: 0.1, ..., 1.0).")
_FOLDS = flags.DEFINE_integer("folds", 10, "Number of folds k (paper: 10).")
_DATASET = flags.DEFINE_enum("dataset", None, ["300w", "aflw", "wflw", "cofw", "300vw"],
                             "Dataset the --data_dir holds (default 300w; 300vw for lambda).")


def main(argv):
    del argv
    if _PARAM.value == "lambda":
        # The tracker recipe's settings, changed only by the flags given on the command line.
        given = {name: holder for name, holder in _FLAGS.items() if holder.present}
        config = config_from_flags(given, _LAMBDA_DEFAULTS) if given else _LAMBDA_DEFAULTS
        config = config.replace(dataset=_DATASET.value or "300vw")
    else:
        config = config_from_flags(_FLAGS, _DEFAULTS).replace(dataset=_DATASET.value or "300w")
    runner, num_samples = tasks.make_fold_runner(config)
    cross_validation.search({_PARAM.value: [float(v) for v in _GRID.value]}, _FOLDS.value,
                            runner, num_samples, seed=config.seed)


if __name__ == "__main__":
    app.run(main)
