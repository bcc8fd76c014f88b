r"""300-VW -> sharded TFRecords of per-frame face crops (train and the S1/S2/S3 categories).

Usage:
    python datasets/prepare_300vw.py --root=/data/300vw --output_dir=/data/tfrecords/300vw \
        --categories=train,S1,S2,S3 --broken_frames=/data/300vw/broken_frames.json

Frames are decoded from each ``vid.avi`` (or taken from ``imgs/``). Each record's ``meta``
holds ``video`` and ``frame``; records are written in frame order per shard when
``--num_shards=1`` (use that for clip datasets). Known broken frames are skipped and counted.
"""
from absl import app, flags

from zoo.data import ReadReport, readers, tfrecord

_ROOT = flags.DEFINE_string("root", None, "300-VW root (one folder per video).", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for the TFRecords.", required=True)
_CATEGORIES = flags.DEFINE_list("categories", ["train", "S1", "S2", "S3"], "Categories to write.")
_BROKEN_FRAMES = flags.DEFINE_string("broken_frames", None, "JSON {video: [frames]} to skip.")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 1, "Shards per category.")
_SIZE = flags.DEFINE_integer("size", 256, "Crop side in pixels.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Threads decoding and cropping images.")
_MARGIN = flags.DEFINE_float("margin", 0.25, "Extra fraction of the box side around it.")


def main(argv):
    del argv
    for category in _CATEGORIES.value:
        report = ReadReport()
        frames = readers.iter_300vw(_ROOT.value, category, _BROKEN_FRAMES.value, report)
        report = tfrecord.write_samples(
            frames, _OUTPUT_DIR.value, f"300vw_{category}", "300vw", "300w", category, report=report,
            num_shards=_NUM_SHARDS.value, num_workers=_NUM_WORKERS.value, size=_SIZE.value, margin=_MARGIN.value,
        )
        print(f"300vw {category}: {report.summary()}")


if __name__ == "__main__":
    app.run(main)
