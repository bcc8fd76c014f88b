"""The bad-input matrix: every public entry point against the files and values users have.

Each row is one entry point and one bad input (a missing, empty, truncated or corrupt file, an
image of the wrong mode, dtype or range, a wrong landmark count, NaN / inf, coordinates far
outside the image, an empty dataset, an unknown name, a wrong flag value). It asserts either
the exception type and that its message names the input, what was expected and what was
received, or that a dataset reader skipped the sample and counted it in its
``zoo.data.ReadReport``.

The README's table is this matrix: ``python tests/test_bad_inputs.py`` prints it, and
``test_readme_shows_the_matrix`` checks that README.md holds exactly that output.
"""
import dataclasses
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import types
from typing import Callable, Optional, Tuple

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
README_START = "<!-- bad-input-matrix:start (python tests/test_bad_inputs.py) -->"
README_END = "<!-- bad-input-matrix:end -->"
PRESET = "aheat1d_mobile_300w"


class CommandFailed(Exception):
    """A command line exited with a non-zero status; the message is its stderr."""


@dataclasses.dataclass(frozen=True)
class Skip:
    """The outcome of a reader that skips the bad sample: ``reason`` counted ``count`` times."""

    reason: str
    count: int = 1


@dataclasses.dataclass(frozen=True)
class Row:
    entry: str  # the public entry point
    case: str  # the bad input
    outcome: object  # the exception class, or a Skip
    names: Tuple[str, ...]  # (input, expected, received): substrings of the message
    call: Callable
    slow: bool = False

    @property
    def id(self):
        return re.sub(r"[^\w.-]+", "_", f"{self.entry}-{self.case}")


ROWS = []


def row(entry, case, outcome, *names, slow=False):
    """Registers the decorated ``call(files)`` as a row of the matrix."""
    def register(call):
        ROWS.append(Row(entry, case, outcome, names, call, slow))
        return call
    return register


# ------------------------------------------------------------------------- the test files
def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def make_files(fixtures_dir, tmp):
    """Real fixture files and damaged copies of them, under ``tmp``."""
    f = types.SimpleNamespace(tmp=str(tmp))
    pts = (fixtures_dir / "300w/pts_images/3854178896_1.pts").read_text()
    lines = pts.splitlines()
    f.pts = _write(tmp / "face.pts", pts)
    f.pts_missing = str(tmp / "no_such.pts")
    f.pts_empty = _write(tmp / "empty.pts", "")
    f.pts_truncated = _write(tmp / "truncated.pts", "\n".join(lines[:40]) + "\n")
    f.pts_67 = _write(tmp / "points67.pts",
                      "\n".join([lines[0], "n_points: 67"] + lines[2:3] + lines[3:70] + ["}"]))
    f.pts_nan = _write(tmp / "nan.pts", "\n".join(lines[:10] + ["nan 12.5"] + lines[11:]))
    f.pts_binary = _write(tmp / "binary.pts", bytes(np.random.default_rng(0).integers(
        0, 256, 2000, dtype=np.uint8)))
    jpg = (fixtures_dir / "cofw/mmpose/001766.jpg").read_bytes()
    f.jpg = _write(tmp / "photo.jpg", jpg)
    f.jpg_missing = str(tmp / "no_such.jpg")
    f.jpg_empty = _write(tmp / "empty.jpg", b"")
    f.jpg_truncated = _write(tmp / "truncated.jpg", jpg[: len(jpg) // 2])
    f.jpg_corrupt = _write(tmp / "corrupt.jpg", jpg[:200] + bytes(1000) + jpg[1200:1300])
    f.text_as_image = _write(tmp / "notes.png", pts)
    csv_lines = (fixtures_dir / "300w/hrnet_csv/face_landmarks_300w_valid.csv").read_text() \
        .splitlines()[:6]
    f.csv = _write(tmp / "csv/valid.csv", "\n".join(csv_lines) + "\n")
    f.csv_empty = _write(tmp / "csv/empty.csv", "")
    f.csv_short_row = _write(tmp / "csv/short.csv", "\n".join(
        csv_lines[:2] + [",".join(csv_lines[2].split(",")[:-3])] + csv_lines[3:]) + "\n")
    nan_row = csv_lines[2].split(",")
    nan_row[10] = "nan"
    f.csv_nan = _write(tmp / "csv/nan.csv", "\n".join(csv_lines[:2] + [",".join(nan_row)]
                                                      + csv_lines[3:]) + "\n")
    text_row = csv_lines[2].split(",")
    text_row[12] = "12x"
    f.csv_text = _write(tmp / "csv/text.csv", "\n".join(csv_lines[:2] + [",".join(text_row)]
                                                        + csv_lines[3:]) + "\n")
    coco = (fixtures_dir / "300w/mmpose/test_300w.json").read_text()
    f.coco = _write(tmp / "coco/test_300w.json", coco)
    f.coco_truncated = _write(tmp / "coco/truncated.json", coco[: len(coco) // 2])
    content = json.loads(coco)
    content["annotations"][0]["keypoints"][4] = float("nan")
    f.coco_nan = _write(tmp / "coco/nan.json", json.dumps(content))
    wflw = (fixtures_dir / "wflw/list_98pt_sample/list_98pt_test_largepose_first5.txt") \
        .read_text().splitlines()
    f.wflw = _write(tmp / "wflw/list.txt", "\n".join(wflw) + "\n")
    f.wflw_short = _write(tmp / "wflw/short.txt", "\n".join(
        [" ".join(wflw[0].split()[:150] + wflw[0].split()[-1:])] + wflw[1:]) + "\n")
    f.wflw_nan = _write(tmp / "wflw/nan.txt", "\n".join(
        [wflw[0].replace(wflw[0].split()[0], "inf", 1)] + wflw[1:]) + "\n")
    san_dir = tmp / "san"
    san_dir.mkdir()
    for path in (fixtures_dir / "300w/pts_images").iterdir():
        shutil.copy(path, san_dir / path.name)
    san = (san_dir / "DEBUG.lst").read_text().splitlines()
    fields = san[0].split()
    f.san_bad_box = _write(san_dir / "bad_box.lst", "\n".join(
        [" ".join(fields[:2] + [fields[4], fields[5], fields[2], fields[3]])] + san[1:]) + "\n")
    f.san_missing = str(tmp / "san/no_such.lst")
    xml = (fixtures_dir / "dlib_faces/training_with_face_landmarks.xml").read_text()
    f.xml_truncated = _write(tmp / "dlib/truncated.xml", xml[: len(xml) // 3])
    f.xml_67 = _write(tmp / "dlib/parts67.xml", re.sub(r"\s*<part name='67'[^>]*/>", "", xml,
                                                       count=1))
    f.xml_no_name = _write(tmp / "dlib/no_name.xml", xml.replace("<part name=", "<part nam=", 1))
    mat = (fixtures_dir / "cofw/cofw68_sample/1_points.mat").read_bytes()
    f.mat_truncated = _write(tmp / "cofw/1_points.mat", mat[: len(mat) // 2])
    f.broken_corrupt = _write(tmp / "300vw/broken_frames.json", '{"401": [722, 723')
    f.broken_missing = str(tmp / "300vw/no_such.json")
    f.keras_corrupt = _write(tmp / "models/corrupt.keras", b"PK\x03\x04" + bytes(300))
    f.keras_empty = _write(tmp / "models/empty.keras", b"")
    f.keras_missing = str(tmp / "models/no_such.keras")
    f.weights_h5 = _write(tmp / "models/model.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    f.weights_corrupt = _write(tmp / "models/corrupt.weights.h5", b"not hdf5")
    f.wrong_sha = "0" * 64
    f.video = str(tmp / "clip.avi")
    import cv2

    writer = cv2.VideoWriter(f.video, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 64))
    for _ in range(2):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    f.missing_dir = str(tmp / "no_such_folder")
    f.out = str(tmp / "out")
    return f


# --------------------------------------------------------------------------------- readers
def _readers():
    from zoo.data import readers

    return readers


@row("readers.read_pts", "missing file", "DataError", "{pts_missing}", "missing annotation",
     "No such file")
def _(f):
    return _readers().read_pts(f.pts_missing, 68)


@row("readers.read_pts", "empty file", "DataError", "{pts_empty}", "'n_points' header",
     "truncated file")
def _(f):
    return _readers().read_pts(f.pts_empty, 68)


@row("readers.read_pts", "truncated file", "DataError", "{pts_truncated}", "n_points is 68",
     "ends after 37")
def _(f):
    return _readers().read_pts(f.pts_truncated, 68)


@row("readers.read_pts", "wrong landmark count", "DataError", "{pts_67}", "expected 68",
     "file has 67")
def _(f):
    return _readers().read_pts(f.pts_67, 68)


@row("readers.read_pts", "NaN coordinate", "DataError", "{pts_nan}:11", "non-finite coordinate",
     "'nan 12.5'")
def _(f):
    return _readers().read_pts(f.pts_nan, 68)


@row("readers.read_pts", "corrupt (binary) bytes", "DataError", "{pts_binary}",
     "expected 'n_points: <int>'", "found")
def _(f):
    return _readers().read_pts(f.pts_binary, 68)


@row("readers.load_image", "missing file", "DataError", "{jpg_missing}", "missing image",
     "no such file")
def _(f):
    return _readers().load_image(f.jpg_missing)


@row("readers.load_image", "empty file", "DataError", "{jpg_empty}", "unreadable image",
     "could not decode")
def _(f):
    return _readers().load_image(f.jpg_empty)


@row("readers.load_image", "truncated JPEG", "DataError", "{jpg_truncated}", "unreadable image",
     "could not decode")
def _(f):
    return _readers().load_image(f.jpg_truncated)


@row("readers.load_image", "corrupt JPEG bytes", "DataError", "{jpg_corrupt}", "unreadable image",
     "could not decode")
def _(f):
    return _readers().load_image(f.jpg_corrupt)


@row("readers.load_image", "a text file named .png", "DataError", "{text_as_image}",
     "unreadable image", "could not decode")
def _(f):
    return _readers().load_image(f.text_as_image)


@row("readers.read_hrnet_csv", "missing file", "DataError", "no_such.csv", "missing annotation",
     "No such file")
def _(f):
    return _readers().read_hrnet_csv(os.path.join(f.tmp, "no_such.csv"))


@row("readers.read_hrnet_csv", "empty file", "DataError", "{csv_empty}:1",
     "expected a first column 'image_name'", "bad header")
def _(f):
    return _readers().read_hrnet_csv(f.csv_empty)


@row("readers.read_hrnet_csv", "wrong landmark count (98-point layout)", "DataError", "{csv}:1",
     "expected 200 columns", "found 140")
def _(f):
    return _readers().read_hrnet_csv(f.csv, num_points=98)


@row("readers.read_hrnet_csv", "a row cut short", Skip("wrong column count"), "{csv_short_row}:3",
     "expected 140", "found 137")
def _(f):
    return _readers().read_hrnet_csv(f.csv_short_row)


@row("readers.read_hrnet_csv", "NaN coordinate", Skip("non-finite coordinate"), "{csv_nan}:3",
     "non-finite coordinate", "nan")
def _(f):
    return _readers().read_hrnet_csv(f.csv_nan)


@row("readers.read_hrnet_csv", "text in a number column", Skip("bad number"), "{csv_text}:3",
     "bad number", "12x")
def _(f):
    return _readers().read_hrnet_csv(f.csv_text)


@row("readers.read_coco_json", "missing file", "DataError", "no_such.json",
     "unreadable annotation", "No such file")
def _(f):
    return _readers().read_coco_json(os.path.join(f.tmp, "no_such.json"))


@row("readers.read_coco_json", "truncated JSON", "DataError", "{coco_truncated}",
     "unreadable annotation", "Expecting value")
def _(f):
    return _readers().read_coco_json(f.coco_truncated)


@row("readers.read_coco_json", "wrong landmark count", Skip("wrong point count", 2),
     "{coco}[annotations][0]", "expected 98", "found 68")
def _(f):
    return _readers().read_coco_json(f.coco, num_points=98, one_based=True)


@row("readers.read_coco_json", "NaN coordinate", Skip("non-finite coordinate"),
     "{coco_nan}[annotations][0]", "non-finite coordinate", "nan")
def _(f):
    return _readers().read_coco_json(f.coco_nan, num_points=68, one_based=True)


@row("readers.read_wflw_list", "missing file", "DataError", "no_such.txt", "missing annotation",
     "No such file")
def _(f):
    return _readers().read_wflw_list(os.path.join(f.tmp, "no_such.txt"))


@row("readers.read_wflw_list", "a line cut short", Skip("wrong column count"), "{wflw_short}:1",
     "expected 197 or 207 fields", "found 151")
def _(f):
    return _readers().read_wflw_list(f.wflw_short)


@row("readers.read_wflw_list", "inf coordinate", Skip("non-finite coordinate"), "{wflw_nan}:1",
     "non-finite coordinate", "inf")
def _(f):
    return _readers().read_wflw_list(f.wflw_nan)


@row("readers.read_san_list", "missing file", "DataError", "{san_missing}", "missing annotation",
     "No such file")
def _(f):
    return _readers().read_san_list(f.san_missing)


@row("readers.read_san_list", "an empty face box", Skip("bad box"), "{san_bad_box}:1", "bad box",
     "[")
def _(f):
    return _readers().read_san_list(f.san_bad_box)


@row("readers.read_dlib_xml", "truncated XML", "DataError", "{xml_truncated}",
     "unreadable annotation", "unclosed token")
def _(f):
    return _readers().read_dlib_xml(f.xml_truncated)


@row("readers.read_dlib_xml", "wrong landmark count", Skip("wrong point count"), "{xml_67}[",
     "expected 68", "found 67")
def _(f):
    return _readers().read_dlib_xml(f.xml_67)


@row("readers.read_dlib_xml", "a <part> without its name (found by fuzzing)", Skip("bad part"),
     "{xml_no_name}[", "'name' attribute", "a <part> without")
def _(f):
    return _readers().read_dlib_xml(f.xml_no_name)


@row("readers.read_cofw68_points", "truncated .mat", "DataError", "{mat_truncated}",
     "bad mat file", "Error")
def _(f):
    return _readers().read_cofw68_points(f.mat_truncated)


@row("readers.read_cofw_mat", "missing file", "DataError", "no_such_test.mat",
     "missing annotation", "no such file")
def _(f):
    return _readers().read_cofw_mat(os.path.join(f.tmp, "no_such_test.mat"))


@row("readers.read_cofw_mat", "unknown split", "ValueError", "`split`", "'train' or 'test'",
     "split=val")
def _(f):
    return _readers().read_cofw_mat(os.path.join(f.tmp, "x.mat"), split="val")


@row("readers.load_broken_frames", "truncated JSON", "DataError", "{broken_corrupt}",
     "unreadable annotation", "Expecting")
def _(f):
    return _readers().load_broken_frames(f.broken_corrupt)


@row("readers.load_broken_frames", "missing file", "DataError", "{broken_missing}",
     "missing annotation", "No such file")
def _(f):
    return _readers().load_broken_frames(f.broken_missing)


@row("readers.read_300w", "unknown split", "ValueError", "`split`", "must be one of", "split=val")
def _(f):
    return _readers().read_300w(f.missing_dir, "val")


@row("readers.read_300w", "empty dataset (no 300-W folders)", Skip("missing folder", 3),
     "{missing_dir}/", "missing folder", "lfpw/trainset")
def _(f):
    return _readers().read_300w(f.missing_dir, "train")


@row("readers.read_wflw", "unknown subset", "ValueError", "`subset`", "must be one of",
     "subset=hard")
def _(f):
    return _readers().read_wflw(f.missing_dir, "hard")


@row("readers.read_aflw", "missing CSV", "DataError", "face_landmarks_aflw_test_frontal.csv",
     "missing annotation", "No such file")
def _(f):
    return _readers().read_aflw(f.missing_dir, "frontal")


@row("readers.list_videos", "unknown category", "ValueError", "`category`",
     "S1, S2, S3, test or train", "category=S4")
def _(f):
    return _readers().list_videos(f.missing_dir, "S4")


@row("readers.load_sample_image", "coordinates far outside the image", "DataError",
     "{jpg}", "does not overlap the", "box [")
def _(f):
    from zoo.data import Sample

    return _readers().load_sample_image(Sample(f.jpg, _samples()[0].landmarks + 5000.0))


# ------------------------------------------------------------------------------ pipeline
def _codec():
    import zoo.codecs

    return zoo.codecs.Heatmap1DCodec(input_size=64, heatmap_size=128)


def _samples(landmarks=None, image=None, count=2):
    from zoo.data import Sample

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8) if image is None else image
    landmarks = rng.uniform(20, 80, (68, 2)).astype("float32") if landmarks is None else landmarks
    return [Sample(image, landmarks) for _ in range(count)]


def _make_dataset(source, **kwargs):
    from zoo.data import pipeline

    kwargs = dict(dict(scheme="300w", input_size=64, batch_size=1, training=False), **kwargs)
    return pipeline.make_dataset(source, _codec(), **kwargs)


@row("data.pipeline.make_dataset", "empty dataset", "ValueError", "source=",
     "non-empty list of zoo.data.Sample", "an empty list")
def _(f):
    return _make_dataset([])


@row("data.pipeline.make_dataset", "NaN landmarks", "DataError", "samples[0]",
     "non-finite coordinate", "nan")
def _(f):
    landmarks = _samples()[0].landmarks.copy()
    landmarks[5, 1] = np.nan
    return _make_dataset(_samples(landmarks))


@row("data.pipeline.make_dataset", "missing image file", "DataError", "{jpg_missing}",
     "missing image", "no such file")
def _(f):
    from zoo.data import Sample

    return _make_dataset([Sample(f.jpg_missing, _samples()[0].landmarks)])


@row("data.pipeline.make_dataset", "coordinates far outside the image", "DataError",
     "samples[0]", "does not overlap the 100x100 image", "box [50")
def _(f):
    return _make_dataset(_samples(_samples()[0].landmarks + 5000.0))


@row("data.pipeline.make_dataset", "wrong landmark count for the scheme", "ValueError",
     "'300w'", "has 68 landmarks", "the source has 67")
def _(f):
    return _make_dataset(_samples(_samples()[0].landmarks[:67]))


@row("data.pipeline.make_dataset", "landmark counts differ between samples", "DataError",
     "samples[1]", "expected 68", "found 67")
def _(f):
    return _make_dataset(_samples()[:1] + _samples(_samples()[0].landmarks[:67])[:1])


@row("data.pipeline.make_dataset", "unknown scheme", "ValueError", "landmark scheme",
     "Known: [", "name='ibug'")
def _(f):
    return _make_dataset(_samples(), scheme="ibug")


@row("data.pipeline.make_dataset", "wrong batch_size", "ValueError", "batch_size", ">= 1",
     "batch_size=0")
def _(f):
    return _make_dataset(_samples(), batch_size=0)


@row("data.pipeline.make_dataset", "unknown crop_from", "ValueError", "crop_from",
     "one of ('box', 'landmarks', 'image', 'frame_box')", "crop_from='face'")
def _(f):
    return _make_dataset(_samples(), crop_from="face")


# -------------------------------------------------------------------------------- codecs
@row("codecs.Heatmap1DCodec", "wrong input_size", "ValueError", "`input_size`",
     "positive integer", "input_size=0")
def _(f):
    import zoo.codecs

    return zoo.codecs.Heatmap1DCodec(input_size=0, heatmap_size=128)


@row("codecs.Heatmap1DCodec", "heatmap size not commensurate", "ValueError", "`heatmap_size`",
     "multiple", "heatmap_size=767")
def _(f):
    import zoo.codecs

    return zoo.codecs.Heatmap1DCodec(input_size=256, heatmap_size=767)


@row("codecs.Heatmap1DCodec", "negative sigma", "ValueError", "`sigma`", "positive number",
     "sigma=-1")
def _(f):
    import zoo.codecs

    return zoo.codecs.Heatmap1DCodec(input_size=64, heatmap_size=128, sigma=-1)


@row("codecs.Codec.encode", "landmarks of shape (68, 3)", "ValueError", "`landmarks`",
     "shape (N, 2)", "landmarks.shape=(68, 3)")
def _(f):
    return _codec().encode(np.zeros((68, 3), np.float32))


@row("codecs.Codec.encode", "NaN landmarks", "ValueError", "`landmarks`", "NaN or infinite",
     "Received: landmarks=")
def _(f):
    landmarks = np.zeros((68, 2), np.float32)
    landmarks[0, 0] = np.nan
    return _codec().encode(landmarks)


@row("codecs.Codec.decode", "missing heatmap key", "ValueError", "Heatmap1DCodec.decode",
     "expects keys ['x', 'y']", "outputs.keys()=['x']")
def _(f):
    return _codec().decode({"x": np.zeros((1, 68, 128), np.float32)})


@row("codecs.get", "unknown codec name", "ValueError", "class_name", "Allowed: [",
     "class_name='SimCCCodec'")
def _(f):
    import zoo.codecs

    return zoo.codecs.get({"class_name": "SimCCCodec", "config": {}})


@row("codecs.get", "config without a required size", "ValueError", "Heatmap1DCodec",
     "heatmap_size", "config={{'input_size': 64}}")
def _(f):
    import zoo.codecs

    return zoo.codecs.get({"class_name": "Heatmap1DCodec", "config": {"input_size": 64}})


# ------------------------------------------------------------------------------- metrics
def _faces(n=68, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 100, (batch, n, 2))


@row("metrics.nme", "wrong landmark count", "ValueError", "`pred`", "68 landmarks",
     "pred.shape=(2, 67, 2)")
def _(f):
    import zoo.metrics

    return zoo.metrics.nme(_faces(67), _faces(67), scheme="300w")


@row("metrics.nme", "NaN prediction", "ValueError", "`pred`", "NaN or infinite", "=nan/inf")
def _(f):
    import zoo.metrics

    pred = _faces()
    pred[1, 3, 0] = np.nan
    return zoo.metrics.nme(pred, _faces(), scheme="300w")


@row("metrics.nme", "coinciding eye corners (zero normaliser)", "ValueError",
     "normalising distance", "positive and finite", "distance=[0.0]")
def _(f):
    import zoo.metrics

    return zoo.metrics.nme(np.zeros((1, 68, 2)), np.zeros((1, 68, 2)), scheme="300w")


@row("metrics.nme", "unknown normalizer", "ValueError", "`normalizer`",
     "('interocular', 'interpupil', 'box', 'diagonal')", "normalizer='eyes'")
def _(f):
    import zoo.metrics

    return zoo.metrics.nme(_faces(), _faces(seed=1), scheme="300w", normalizer="eyes")


@row("metrics.nme", "box-normalised scheme without boxes", "ValueError", "scheme='aflw'",
     "Allowed: normalizer=<(B,) box sizes>", "boxes=None")
def _(f):
    import zoo.metrics

    return zoo.metrics.nme(_faces(19), _faces(19, seed=1), scheme="aflw")


@row("metrics.auc", "threshold 0", "ValueError", "`threshold`", "positive number",
     "threshold=0")
def _(f):
    import zoo.metrics

    return zoo.metrics.auc(np.array([0.01, 0.02]), threshold=0)


@row("metrics.failure_rate", "negative error", "ValueError", "`errors`", "finite and non-negative",
     "errors[1]=-0.5")
def _(f):
    import zoo.metrics

    return zoo.metrics.failure_rate(np.array([0.01, -0.5]))


@row("metrics.ced", "empty errors", "ValueError", "`errors`", "non-empty 1D array",
     "errors.shape=(0,)")
def _(f):
    import zoo.metrics

    return zoo.metrics.ced(np.array([]))


@row("schemes.get_scheme", "unknown name", "ValueError", "landmark scheme", "Known: [",
     "name='ibug'")
def _(f):
    import zoo.schemes

    return zoo.schemes.get_scheme("ibug")


# ------------------------------------------------------------------------ create and load
@row("zoo.create", "unknown name", "ValueError", "preset", "Allowed: [",
     "name='aheat1d_mobile'")
def _(f):
    import zoo

    return zoo.create("aheat1d_mobile")


@row("zoo.create", "unknown override", "ValueError", "override", "Allowed: [",
     "nonsense=1")
def _(f):
    import zoo

    return zoo.create(PRESET, nonsense=1)


@row("zoo.create", "wrong input_size", "ValueError", "`input_size`", "int >= 4",
     "input_size=-1")
def _(f):
    import zoo

    return zoo.create(PRESET, input_size=-1)


@row("zoo.load", "unknown name", "ValueError", "name_or_path='no_such_model'",
     "Allowed names: [", "Not a preset name")
def _(f):
    import zoo

    return zoo.load("no_such_model")


@row("zoo.load", "missing .keras file", "ValueError", "{keras_missing}", "Expected a preset name",
     "No such file")
def _(f):
    import zoo

    return zoo.load(f.keras_missing)


@row("zoo.load", "empty .keras file", "ValueError", "{keras_empty}", "zip archive",
     "size=0 bytes")
def _(f):
    import zoo

    return zoo.load(f.keras_empty)


@row("zoo.load", "corrupt .keras file", "ValueError", "{keras_corrupt}", "corrupt or truncated",
     "size=304 bytes")
def _(f):
    import zoo

    return zoo.load(f.keras_corrupt)


@row("zoo.load", "weights not a .weights.h5 / .keras file", "ValueError", "{weights_h5}",
     "`.weights.h5` or `.keras`", "weights=")
def _(f):
    import zoo

    return zoo.load(PRESET, weights=f.weights_h5)


@row("zoo.load", "corrupt weights file", "ValueError", "{weights_corrupt}",
     "corrupt or truncated", "file signature not found")
def _(f):
    import zoo

    return zoo.load(PRESET, weights=f.weights_corrupt)


@row("zoo.load", "local weights with the wrong sha256", "ValueError", "{weights_corrupt}",
     "Expected: 0000000000000000000000000000000000000000000000000000000000000000",
     "actual sha256=")
def _(f):
    import zoo

    return zoo.load(PRESET, weights=f.weights_corrupt, weights_sha256=f.wrong_sha)


@row("zoo.load", "weights URL without its sha256", "ValueError", "weights='https://",
     "need their sha256", "sha256=None")
def _(f):
    import zoo

    return zoo.load(PRESET, weights="https://example.com/model.weights.h5")


# ------------------------------------------------------------------ FaceLandmarker.detect
_LANDMARKER = {}


def _landmarker():
    if "model" not in _LANDMARKER:
        import warnings

        import zoo

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _LANDMARKER["model"] = zoo.FaceLandmarker(zoo.load(PRESET))
    return _LANDMARKER["model"]


_BOX = [[5, 5, 45, 45]]


@row("FaceLandmarker.detect", "missing image path", "FileNotFoundError", "{jpg_missing}",
     "Expected an image file", "no such file")
def _(f):
    return _landmarker().detect(f.jpg_missing)


@row("FaceLandmarker.detect", "truncated image file", "ValueError", "{jpg_truncated}",
     "Cannot decode an image", "size=")
def _(f):
    return _landmarker().detect(f.jpg_truncated)


@row("FaceLandmarker.detect", "image with 2 channels", "ValueError", "image of shape",
     "(H, W, 3) or (H, W, 4)", "shape=(50, 50, 2)")
def _(f):
    return _landmarker().detect(np.zeros((50, 50, 2), np.uint8), boxes=_BOX)


@row("FaceLandmarker.detect", "bool image", "ValueError", "pixels", "uint8, uint16 or float",
     "dtype=bool")
def _(f):
    return _landmarker().detect(np.zeros((50, 50, 3), bool), boxes=_BOX)


@row("FaceLandmarker.detect", "float image in [0, 1]", "ValueError", "`image`",
     "float pixels in [0, 255]", "range=[0.5, 0.5]")
def _(f):
    return _landmarker().detect(np.full((50, 50, 3), 0.5, np.float32), boxes=_BOX)


@row("FaceLandmarker.detect", "float image above 255", "ValueError", "`image`",
     "float pixels in [0, 255]", "range=[300, 300]")
def _(f):
    return _landmarker().detect(np.full((50, 50, 3), 300.0, np.float32), boxes=_BOX)


@row("FaceLandmarker.detect", "NaN pixels", "ValueError", "`image`", "finite pixel values",
     "NaN or inf")
def _(f):
    return _landmarker().detect(np.full((50, 50, 3), np.nan, np.float32), boxes=_BOX)


@row("FaceLandmarker.detect", "empty image", "ValueError", "image", "non-empty image",
     "shape=(0, 0, 3)")
def _(f):
    return _landmarker().detect(np.zeros((0, 0, 3), np.uint8))


@row("FaceLandmarker.detect", "boxes of shape (1, 3)", "ValueError", "`boxes`",
     "(K, 4) x1, y1, x2, y2", "boxes.shape=(1, 3)")
def _(f):
    return _landmarker().detect(np.zeros((50, 50, 3), np.uint8), boxes=[[0, 0, 10]])


@row("FaceLandmarker.detect", "NaN box", "ValueError", "box", "x1 < x2, y1 < y2", "nan")
def _(f):
    return _landmarker().detect(np.zeros((50, 50, 3), np.uint8), boxes=[[np.nan, 0, 40, 40]])


@row("FaceLandmarker.detect", "box far outside the image", "ValueError", "box",
     "overlap the 50x50 image", "box=[5000.0, 5000.0, 5100.0, 5100.0]")
def _(f):
    return _landmarker().detect(np.zeros((50, 50, 3), np.uint8),
                                boxes=[[5000, 5000, 5100, 5100]])


# ----------------------------------------------------------------------------- streaming
@row("zoo.streaming", "not a model", "ValueError", "`tracker`", "keras.Model", "tracker='x'")
def _(f):
    import zoo

    return zoo.streaming("x")


@row("zoo.streaming", "a detector, not a tracker", "ValueError", "`tracker`",
     "zoo.models.build_*_tracker", "Received: tracker=")
def _(f):
    return __import__("zoo").streaming(_landmarker().model.keras_model)


# -------------------------------------------------------------------------------- export
def _tiny():
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from export_contract import tiny_detector

    return tiny_detector()


@row("export.export_saved_model", "version 0", "ValueError", "version", "positive integer",
     "version=0")
def _(f):
    import zoo.export

    return zoo.export.export_saved_model(_tiny(), f.out, "tiny", version=0)


@row("export.export_saved_model", "model name with a slash", "ValueError", "model_name",
     "plain folder name", "model_name='a/b'")
def _(f):
    import zoo.export

    return zoo.export.export_saved_model(_tiny(), f.out, "a/b")


@row("export.export_tflite", "existing target", "FileExistsError", "{jpg}",
     "Refusing to overwrite", "path=")
def _(f):
    import zoo.export

    return zoo.export.export_tflite(_tiny(), f.jpg)


@row("export.export_tflite", "unknown quantization", "ValueError", "quantization",
     "one of ('float32', 'float16', 'dynamic_int8', 'int8')", "quantization='int4'")
def _(f):
    import zoo.export

    return zoo.export.export_tflite(_tiny(), os.path.join(f.out, "m.tflite"), quantization="int4")


@row("export.export_tflite", "int8 without calibration data", "ValueError", "representative_data",
     "needs representative_data", "representative_data=None")
def _(f):
    import zoo.export

    return zoo.export.export_tflite(_tiny(), os.path.join(f.out, "m8.tflite"), quantization="int8")


@row("export.export_onnx", "parity inputs with a wrong key", "ValueError", "inputs",
     "keys ['images']", "inputs=['image']")
def _(f):
    import zoo.export

    return zoo.export.export_onnx(_tiny(), os.path.join(f.out, "m.onnx"),
                                  parity_inputs={"image": np.zeros((2, 32, 32, 3), np.uint8)})


@row("export.export_onnx", "parity images of the wrong size", "ValueError", "Input 'images'",
     "(B,) + (32, 32, 3)", "shape=(2, 31, 32, 3)")
def _(f):
    import zoo.export

    return zoo.export.export_onnx(_tiny(), os.path.join(f.out, "m2.onnx"),
                                  parity_inputs={"images": np.zeros((2, 31, 32, 3), np.uint8)})


# ----------------------------------------------------------------------- command lines
def _command(f, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("ZOO_VERBOSE", None)
    result = subprocess.run([sys.executable, *args], cwd=f.tmp, env=env, capture_output=True,
                            text=True, timeout=900)
    if result.returncode != 0:
        raise CommandFailed(f"exit status {result.returncode}\n{result.stderr}")
    return result


@row("python -m zoo.track", "missing video", "CommandFailed", "input='{tmp}/no_such.mp4'",
     "cannot open the video", "exit status 2", slow=True)
def _(f):
    return _command(f, "-m", "zoo.track", os.path.join(f.tmp, "no_such.mp4"), "--output",
                    os.path.join(f.out, "o.mp4"))


@row("python -m zoo.track", "wrong flag value", "CommandFailed", "--max_faces", "int",
     "'abc'", slow=True)
def _(f):
    return _command(f, "-m", "zoo.track", f.video, "--output", os.path.join(f.out, "o.mp4"),
                    "--max_faces", "abc")


@row("python -m zoo.track", "unknown model", "CommandFailed", "no_such_tracker",
     "Allowed names: [", "exit status 2", slow=True)
def _(f):
    return _command(f, "-m", "zoo.track", f.video, "--output", os.path.join(f.out, "o.mp4"),
                    "--model", "no_such_tracker")


@row("python -m zoo.detect", "missing photo", "CommandFailed", "path='{jpg_missing}'",
     "Expected an image file", "no such file", slow=True)
def _(f):
    return _command(f, "-m", "zoo.detect", f.jpg_missing, "--output", os.path.join(f.out, "o.png"))


@row("python -m zoo.detect", "corrupt photo", "CommandFailed", "path='{jpg_corrupt}'",
     "Cannot decode an image", "size=", slow=True)
def _(f):
    return _command(f, "-m", "zoo.detect", f.jpg_corrupt, "--output", os.path.join(f.out, "o.png"))


@row("recipes/train_300w.py", "unknown --model", "CommandFailed", "name='no_such_model'",
     "Allowed: [", "Unknown preset", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "recipes/train_300w.py"), "--model=no_such_model",
                    "--steps=1", f"--output_dir={f.out}/r1")


@row("recipes/train_300w.py", "missing --data_dir", "CommandFailed", "data_dir={missing_dir}",
     "lfpw/testset", "Received:", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "recipes/train_300w.py"), f"--data_dir={f.missing_dir}",
                    "--steps=1", f"--output_dir={f.out}/r2")


@row("recipes/train_300w.py", "wrong --steps", "CommandFailed", "steps", "positive integer",
     "steps=-5", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "recipes/train_300w.py"), "--steps=-5",
                    f"--output_dir={f.out}/r3")


@row("recipes/train_300w.py", "unknown --strategy", "CommandFailed", "--strategy",
     "value should be one of", "bogus", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "recipes/train_300w.py"), "--strategy=bogus",
                    f"--output_dir={f.out}/r4")


@row("recipes/evaluate.py", "missing --run_dir", "CommandFailed", "{missing_dir}",
     "config.json", "Received:", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "recipes/evaluate.py"), f"--run_dir={f.missing_dir}")


@row("export/export.py", "unknown --quantization", "CommandFailed", "--quantization",
     "value should be one of", "int4", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "export/export.py"), f"--preset={PRESET}",
                    "--format=tflite", "--quantization=int4", f"--output_dir={f.out}/e0")


@row("export/export.py", "unknown --preset", "CommandFailed", "name='no_such_model'",
     "Allowed: [", "Unknown preset", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "export/export.py"), "--preset=no_such_model",
                    f"--output_dir={f.out}/e1")


@row("export/export.py", "corrupt --keras_file", "CommandFailed", "{keras_corrupt}",
     "corrupt or truncated", "size=304 bytes", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "export/export.py"), f"--keras_file={f.keras_corrupt}",
                    f"--output_dir={f.out}/e2")


@row("datasets/prepare_300w.py", "missing --root", "CommandFailed", "{missing_dir}",
     "at least one sample", "kept 0", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "datasets/prepare_300w.py"), f"--root={f.missing_dir}",
                    f"--output_dir={f.out}/p1", "--splits=common")


@row("datasets/prepare_wflw.py", "--root without WFLW", "CommandFailed", "{missing_dir}",
     "missing annotation", "No such file", slow=True)
def _(f):
    return _command(f, str(REPO_ROOT / "datasets/prepare_wflw.py"), f"--root={f.missing_dir}",
                    f"--output_dir={f.out}/p2")


# ------------------------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def files(fixtures_dir, tmp_path_factory):
    return make_files(fixtures_dir, tmp_path_factory.mktemp("bad_inputs"))


def _outcome_name(outcome):
    return outcome if isinstance(outcome, str) else f"skip: {outcome.reason}"


def _exception_class(name):
    from zoo.data import DataError

    return {"DataError": DataError, "ValueError": ValueError, "CommandFailed": CommandFailed,
            "FileNotFoundError": FileNotFoundError, "FileExistsError": FileExistsError}[name]


@pytest.mark.parametrize(
    "case", [pytest.param(r, id=r.id, marks=[pytest.mark.slow] if r.slow else []) for r in ROWS])
def test_bad_input(case, files):
    names = [name.format(**vars(files)) for name in case.names]
    if isinstance(case.outcome, Skip):
        samples, report = case.call(files)
        assert report.skipped[case.outcome.reason] == case.outcome.count, report.summary()
        examples = [e for e in report.examples if e.startswith(case.outcome.reason)]
        assert any(all(name in e for name in names) for e in examples), report.examples
        assert report.kept == len(samples)
        return
    expected = _exception_class(case.outcome)
    with pytest.raises(Exception) as error:
        case.call(files)
    assert type(error.value) is expected, (type(error.value), str(error.value)[-2000:])
    message = str(error.value)
    missing = [name for name in names if name not in message]
    assert not missing, f"message lacks {missing}: {message[-2000:]}"


def test_matrix_has_at_least_60_rows_over_every_entry_point():
    assert len(ROWS) >= 60
    entries = {r.entry.split(".")[0] if r.entry.startswith("readers") else r.entry for r in ROWS}
    for required in ("readers", "data.pipeline.make_dataset", "codecs.Codec.encode",
                     "metrics.nme", "zoo.create", "zoo.load", "FaceLandmarker.detect",
                     "zoo.streaming", "export.export_tflite", "python -m zoo.track",
                     "python -m zoo.detect", "recipes/train_300w.py", "export/export.py",
                     "datasets/prepare_300w.py"):
        assert required in entries, required
    assert len({r.id for r in ROWS}) == len(ROWS)


def markdown_table():
    """The matrix as a Markdown table (what the README shows)."""
    class Placeholders(dict):
        def __missing__(self, key):
            return f"<{key}>"

    def show(text):
        return text.format_map(Placeholders()).replace("|", "\\|")

    lines = ["| # | Entry point | Bad input | Outcome | The message names: input; expected; "
             "received |", "|---|---|---|---|---|"]
    for number, case in enumerate(ROWS, start=1):
        names = "; ".join(f"`{show(name)}`" for name in case.names)
        lines.append(f"| {number} | `{case.entry}` | {case.case} | "
                     f"{_outcome_name(case.outcome)} | {names} |")
    return "\n".join(lines)


def test_readme_shows_the_matrix():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert README_START in readme and README_END in readme
    shown = readme.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    assert shown == markdown_table(), "README is stale: run python tests/test_bad_inputs.py"


if __name__ == "__main__":
    print(markdown_table())
