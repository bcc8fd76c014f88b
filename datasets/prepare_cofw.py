r"""COFW (29 points + occlusion) and optionally COFW-68 -> sharded TFRecords of face crops.

Usage:
    python datasets/prepare_cofw.py --root=/data/cofw --output_dir=/data/tfrecords/cofw \
        --cofw68_dir=/data/cofw/COFW68_Data/test_annotations

``root`` holds ``COFW_train_color.mat`` and ``COFW_test_color.mat`` (MATLAB v7.3). Writes
``cofw_train``, ``cofw_test`` (and ``cofw68_test`` when ``--cofw68_dir`` is given) shards
with per-point visibility. Prints a progress bar and what was skipped and why.
"""
import os

from absl import app, flags

from zoo.data import readers, tfrecord

_ROOT = flags.DEFINE_string("root", None, "Folder with COFW_{train,test}_color.mat.", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for the TFRecords.", required=True)
_COFW68_DIR = flags.DEFINE_string("cofw68_dir", None, "COFW-68 test_annotations folder (optional).")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 2, "Shards per split.")
_SIZE = flags.DEFINE_integer("size", 256, "Crop side in pixels.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Threads decoding and cropping images.")
_MARGIN = flags.DEFINE_float("margin", 0.25, "Extra fraction of the box side around it.")
_CROP_BOX = flags.DEFINE_enum("crop_box", "landmarks", ["landmarks", "box"], "What the crop surrounds.")


def _write(samples, report, prefix, scheme, split):
    report = tfrecord.write_samples(
        samples, _OUTPUT_DIR.value, prefix, "cofw", scheme, split, report=report,
        num_shards=_NUM_SHARDS.value, num_workers=_NUM_WORKERS.value, size=_SIZE.value, margin=_MARGIN.value, crop_box=_CROP_BOX.value,
    )
    print(f"{prefix}: {report.summary()}")


def main(argv):
    del argv
    for split in ("train", "test"):
        samples, report = readers.read_cofw_mat(os.path.join(_ROOT.value, f"COFW_{split}_color.mat"), split)
        _write(samples, report, f"cofw_{split}", "cofw", split)
    if _COFW68_DIR.value:
        samples, report = readers.read_cofw68(
            _COFW68_DIR.value, os.path.join(_ROOT.value, "COFW_test_color.mat")
        )
        _write(samples, report, "cofw68_test", "300w", "test")


if __name__ == "__main__":
    app.run(main)
