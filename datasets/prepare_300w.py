r"""300-W -> sharded TFRecords of face crops (train, common, challenging, full, test).

Usage:
    python datasets/prepare_300w.py --root=/data/300w --output_dir=/data/tfrecords/300w \
        --splits=train,common,challenging,test --size=256 --margin=0.25

Reads the iBUG folders (layout in datasets/README.md and ``zoo.data.readers.w300``), crops a
square around each landmark box, and writes ``300w_<split>-*-of-*.tfrecord`` plus a
``300w_<split>.json`` summary. Prints a progress bar and what was skipped and why. With
``--hrnet_csv_dir`` the lists come from HRNet's ``face_landmarks_300w_*.csv`` instead.
"""
import os

from absl import app, flags

from zoo.data import readers, tfrecord

_ROOT = flags.DEFINE_string("root", None, "300-W root (lfpw/, helen/, afw/, ibug/, 300W/).", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for the TFRecords.", required=True)
_HRNET_CSV_DIR = flags.DEFINE_string(
    "hrnet_csv_dir", None, "Read HRNet's face_landmarks_300w_*.csv lists from here instead of the .pts folders."
)
_SPLITS = flags.DEFINE_list("splits", ["train", "common", "challenging", "test"], "Splits to write.")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 4, "Shards per split.")
_SIZE = flags.DEFINE_integer("size", 256, "Crop side in pixels.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Threads decoding and cropping images.")
_MARGIN = flags.DEFINE_float("margin", 0.25, "Extra fraction of the box side around it.")
_CROP_BOX = flags.DEFINE_enum("crop_box", "landmarks", ["landmarks", "box"], "What the crop surrounds.")
_IMAGE_FORMAT = flags.DEFINE_enum("image_format", "jpeg", ["jpeg", "png"], "Crop encoding.")


# Split name -> HRNet CSV name.
_HRNET_CSV_NAMES = {
    "train": "train", "common": "valid_common", "challenging": "valid_challenge", "full": "valid", "test": "test",
}


def main(argv):
    del argv
    for split in _SPLITS.value:
        if _HRNET_CSV_DIR.value:
            name = _HRNET_CSV_NAMES[split]
            path = os.path.join(_HRNET_CSV_DIR.value, f"face_landmarks_300w_{name}.csv")
            samples, report = readers.read_hrnet_csv(path, image_root=_ROOT.value)
        else:
            samples, report = readers.read_300w(_ROOT.value, split)
        report = tfrecord.write_samples(
            samples, _OUTPUT_DIR.value, f"300w_{split}", "300w", "300w", split, report=report,
            num_shards=_NUM_SHARDS.value, num_workers=_NUM_WORKERS.value, size=_SIZE.value, margin=_MARGIN.value,
            crop_box=_CROP_BOX.value, image_format=_IMAGE_FORMAT.value,
        )
        print(f"300w {split}: {report.summary()}")


if __name__ == "__main__":
    app.run(main)
