"""Writes the paper-style evaluation report of a training run (NME per subset, FR, AUC,
per-area NME, CED plot PNG).

    python recipes/evaluate.py --run_dir=runs/aheat1d_300w --data_dir=/data/300w
    python recipes/evaluate.py --run_dir=runs/aheat1d_300w --data_dir=/data/300w --decode=argmax
    python recipes/evaluate.py --run_dir=demo_out/run          # SynthFace test faces

Protocols: 300W common / challenging / full; AFLW full / frontal; WFLW test + 6 attribute
subsets; COFW test; for tracker runs 300-VW S1/S2/S3 (68 points, every frame) and Talking Face
(the 7 shared points, with --talking_face_dir), each scored with two crop protocols: the
tracking protocol as the headline (frame t cropped around the prediction for frame t-1, frame 0
around its ground truth, as `python -m zoo.track` runs) and, in a labelled second column, the
per-frame ground-truth crop. The report goes to <run_dir>/eval (report.txt, report.json,
ced.png).
AFLW is normalised by the dataset's face-box size (``box_size`` of HRNet's CSVs). ``--decode``
scores another decoder than the run's (``config.json``): 1D ``argmax`` (the paper's Eq. 7) or
``refined``; 2D ``argmax``, ``quarter_offset``, ``parabola`` or ``integral``.
"""
from absl import app, flags

import zoo.evaluation
from zoo.training.config import DECODE_METHODS

_RUN_DIR = flags.DEFINE_string("run_dir", None, "Training run folder (config.json + checkpoints).",
                               required=True)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Dataset root (default: the run's; none: SynthFace).")
_DATASET = flags.DEFINE_string("dataset", None, "Dataset name (default: the run's).")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Report folder (default <run_dir>/eval).")
_NUM_SYNTHETIC = flags.DEFINE_integer("num_synthetic", 200, "SynthFace test faces without data.")
_TALKING_FACE_DIR = flags.DEFINE_string(
    "talking_face_dir", None, "Talking Face root (tracker runs: the 7 shared points).")
_MAX_FRAMES = flags.DEFINE_integer("max_frames", None,
                                   "Tracker runs: at most this many frames per video.")
_DECODE = flags.DEFINE_enum("decode", None, DECODE_METHODS,
                            "Decode method (1D argmax = paper Eq. 7 | refined; 2D argmax | "
                            "quarter_offset | parabola | integral); default: the run's.")


def main(argv):
    del argv
    zoo.evaluation.evaluate_run(_RUN_DIR.value, output_dir=_OUTPUT_DIR.value,
                                data_dir=_DATA_DIR.value, dataset=_DATASET.value,
                                num_synthetic=_NUM_SYNTHETIC.value,
                                talking_face_dir=_TALKING_FACE_DIR.value,
                                max_frames=_MAX_FRAMES.value, decode=_DECODE.value)


if __name__ == "__main__":
    app.run(main)
