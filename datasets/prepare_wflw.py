r"""WFLW -> sharded TFRecords of face crops (train, test and the six attribute test subsets).

Usage:
    python datasets/prepare_wflw.py --root=/data/wflw --output_dir=/data/tfrecords/wflw \
        --splits=train,test,pose,expression,illumination,makeup,occlusion,blur

``root`` holds ``WFLW_images/`` and ``WFLW_annotations/`` (datasets/README.md). Writes
``wflw_<split>-*-of-*.tfrecord`` and ``wflw_<split>.json``; the attribute flags go to each
record's ``meta``. Prints a progress bar and what was skipped and why.
"""
from absl import app, flags

from zoo.data import readers, tfrecord

_ROOT = flags.DEFINE_string("root", None, "WFLW root.", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for the TFRecords.", required=True)
_SPLITS = flags.DEFINE_list("splits", ["train", "test"], "train, test or attribute subsets.")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 8, "Shards per split.")
_SIZE = flags.DEFINE_integer("size", 256, "Crop side in pixels.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Threads decoding and cropping images.")
_MARGIN = flags.DEFINE_float("margin", 0.25, "Extra fraction of the box side around it.")
_CROP_BOX = flags.DEFINE_enum("crop_box", "landmarks", ["landmarks", "box"], "What the crop surrounds.")
_IMAGE_FORMAT = flags.DEFINE_enum("image_format", "jpeg", ["jpeg", "png"], "Crop encoding.")


def main(argv):
    del argv
    for split in _SPLITS.value:
        samples, report = readers.read_wflw(_ROOT.value, split)
        report = tfrecord.write_samples(
            samples, _OUTPUT_DIR.value, f"wflw_{split}", "wflw", "wflw", split, report=report,
            num_shards=_NUM_SHARDS.value, num_workers=_NUM_WORKERS.value, size=_SIZE.value, margin=_MARGIN.value,
            crop_box=_CROP_BOX.value, image_format=_IMAGE_FORMAT.value,
        )
        print(f"wflw {split}: {report.summary()}")


if __name__ == "__main__":
    app.run(main)
