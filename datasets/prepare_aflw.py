r"""AFLW-19 (SAN/HRNet protocol) -> sharded TFRecords of face crops (train, full, frontal).

Usage:
    python datasets/prepare_aflw.py --root=/data/aflw --output_dir=/data/tfrecords/aflw \
        --image_root=/data/aflw/images

``root`` holds HRNet's ``face_landmarks_aflw_{train,test,test_frontal}.csv``. The crop is
around AFLW's face box by default (the protocol's box, whose side ``box_size`` is also the
NME normaliser and is kept in each record's ``meta``). Prints a progress bar and a summary.
"""
from absl import app, flags

from zoo.data import readers, tfrecord

_ROOT = flags.DEFINE_string("root", None, "Folder with the HRNet AFLW CSVs.", required=True)
_IMAGE_ROOT = flags.DEFINE_string("image_root", None, "Folder the CSV image names are relative to.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for the TFRecords.", required=True)
_SPLITS = flags.DEFINE_list("splits", ["train", "full", "frontal"], "Splits to write.")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 8, "Shards per split.")
_SIZE = flags.DEFINE_integer("size", 256, "Crop side in pixels.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Threads decoding and cropping images.")
_MARGIN = flags.DEFINE_float("margin", 0.25, "Extra fraction of the box side around it.")
_CROP_BOX = flags.DEFINE_enum("crop_box", "box", ["landmarks", "box"], "What the crop surrounds.")


def main(argv):
    del argv
    for split in _SPLITS.value:
        samples, report = readers.read_aflw(_ROOT.value, split, _IMAGE_ROOT.value)
        report = tfrecord.write_samples(
            samples, _OUTPUT_DIR.value, f"aflw_{split}", "aflw", "aflw", split, report=report,
            num_shards=_NUM_SHARDS.value, num_workers=_NUM_WORKERS.value, size=_SIZE.value, margin=_MARGIN.value, crop_box=_CROP_BOX.value,
        )
        print(f"aflw {split}: {report.summary()}")


if __name__ == "__main__":
    app.run(main)
