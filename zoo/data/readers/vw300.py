"""300-VW: per-video ``vid.avi`` + ``annot/NNNNNN.pts``; training videos and test categories.

Expected layout under ``root`` (the iBUG download, 114 videos)::

    root/001/vid.avi
    root/001/annot/000001.pts ...     (68 points, 1-based, one file per frame, from 000001)
    (or root/001/imgs/000001.jpg ...  frames already extracted, as mmpose does)

Splits (video ids; Shen et al. 2015, Chrysos et al. 2018):

* ``S1`` (well-lit, 31 videos), ``S2`` (mild unconstrained, 19), ``S3`` (challenging, 14):
  64 test videos, the lists in ``CATEGORIES``;
* ``train``: the other 50 videos of the 114.

Known broken frames (mmpose's ``broken_frames.npy``, here as JSON ``{video id: [frame]}``)
are skipped and counted under ``"known broken frame"``.

Landmarks are 0-based (the ``.pts`` values are 1-based, 1 is subtracted).

Reference: Shen et al., "The First Facial Landmark Tracking in-the-Wild Challenge", ICCVW 2015.
"""
import json
import os
import re
import warnings

import cv2

from zoo.data.readers.common import data_error, find_image, read_pts, skip_reason
from zoo.data.sample import DataError, ReadReport, Sample

NUM_POINTS = 68
CATEGORIES = {
    "S1": (
        "114", "124", "125", "126", "150", "158", "401", "402", "505", "506", "507", "508",
        "509", "510", "511", "514", "515", "518", "519", "520", "521", "522", "524", "525",
        "537", "538", "540", "541", "546", "547", "548",
    ),
    "S2": (
        "203", "208", "211", "212", "213", "214", "218", "224", "403", "404", "405", "406",
        "407", "408", "409", "412", "550", "551", "553",
    ),
    "S3": (
        "410", "411", "516", "517", "526", "528", "529", "530", "531", "533", "557", "558",
        "559", "562",
    ),
}
CATEGORY_COUNTS = {"S1": 31, "S2": 19, "S3": 14, "train": 50}
NUM_VIDEOS = 114
# The 114 video folders of the 300-VW release.
ALL_VIDEOS = (
    "001", "002", "003", "004", "007", "009", "010", "011", "013", "015", "016", "017", "018",
    "019", "020", "022", "025", "027", "028", "029", "031", "033", "034", "035", "037", "039",
    "041", "043", "044", "046", "047", "048", "049", "053", "057", "059", "112", "113", "114",
    "115", "119", "120", "123", "124", "125", "126", "138", "143", "144", "150", "158", "160",
    "203", "204", "205", "208", "211", "212", "213", "214", "218", "223", "224", "225", "401",
    "402", "403", "404", "405", "406", "407", "408", "409", "410", "411", "412", "505", "506",
    "507", "508", "509", "510", "511", "514", "515", "516", "517", "518", "519", "520", "521",
    "522", "524", "525", "526", "528", "529", "530", "531", "533", "537", "538", "540", "541",
    "546", "547", "548", "550", "551", "553", "557", "558", "559", "562",
)
TEST_VIDEOS = frozenset(v for videos in CATEGORIES.values() for v in videos)
TRAIN_VIDEOS = tuple(v for v in ALL_VIDEOS if v not in TEST_VIDEOS)


def load_broken_frames(path):
    """Loads the broken-frame list: JSON ``{"401": [722, ...], ...}`` -> ``{video: set(frames)}``.

    Example:
        >>> broken = zoo.data.readers.load_broken_frames(fixtures_dir / "300vw" / "broken_frames.json")
        >>> len(broken), len(broken["401"]), 731 in broken["401"]
        (16, 120, True)
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            content = json.load(file)
    except OSError as error:
        raise data_error("missing annotation", str(error), path) from error
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise data_error("unreadable annotation", str(error), path) from error
    try:
        return {str(video): {int(f) for f in frames} for video, frames in content.items()}
    except (AttributeError, TypeError, ValueError) as error:
        raise data_error("unreadable annotation", "expected {\"<video>\": [<frame>, ...]}, "
                         f"found {type(error).__name__}: {error}", path) from error


def list_videos(root, category):
    """The video folders of a category that exist under ``root``.

    Args:
        root: the 300-VW root.
        category: ``S1``, ``S2``, ``S3``, ``test`` (all three) or ``train``.

    Returns:
        sorted list of video ids (folder names with an ``annot`` subfolder) that belong to the
        category (``train`` = ``TRAIN_VIDEOS``). Videos of the category that are missing
        under ``root`` are named in a warning.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():  # the fixtures hold 2 of the 114 videos
        ...     warnings.simplefilter("ignore")
        ...     (zoo.data.readers.list_videos(fixtures_dir / "300vw", "S1"),
        ...      zoo.data.readers.list_videos(fixtures_dir / "300vw", "train"))
        (['401'], ['001'])
    """
    if category not in ("S1", "S2", "S3", "test", "train"):
        raise ValueError(f"`category` must be S1, S2, S3, test or train. Received: category={category}")
    present = sorted(
        name for name in os.listdir(root) if os.path.isdir(os.path.join(root, name, "annot"))
    )
    wanted = {"train": set(TRAIN_VIDEOS), "test": TEST_VIDEOS}.get(category) or set(CATEGORIES[category])
    videos = [v for v in present if v in wanted]
    missing = sorted(wanted - set(present))
    if missing:
        warnings.warn(
            f"300-VW {category}: {len(missing)} of {len(wanted)} videos are missing under {root} "
            f"(first: {missing[:5]})",
            stacklevel=2,
        )
    return videos


def _annotated_frames(video_dir):
    annot_dir = os.path.join(video_dir, "annot")
    frames = []
    for name in os.listdir(annot_dir):
        match = re.fullmatch(r"(\d+)\.pts", name)
        if match:
            frames.append((int(match.group(1)), os.path.join(annot_dir, name)))
    return sorted(frames)


def iter_300vw_video(video_dir, broken_frames=None, report=None, decode_video=True):
    """Yields the annotated frames of one 300-VW video in order.

    Frames come from ``vid.avi`` (``cv2.VideoCapture``, read sequentially; frame ``k`` of
    the video is annotation ``k``, 1-based) when it exists and ``decode_video`` is True,
    else from ``imgs/NNNNNN.*``. Known broken frames, unreadable annotations and frames the
    video does not have are skipped and counted in ``report``.

    Args:
        video_dir: folder of one video (``.../001``).
        broken_frames: ``{video id: set of frame numbers}`` (``load_broken_frames``) or None.
        report: ``zoo.data.ReadReport`` to fill, or None.
        decode_video: read frames from ``vid.avi``; False lists ``imgs/`` paths only.

    Yields:
        ``Sample`` with ``image`` an (H, W, 3) uint8 RGB frame (from the video) or the frame's
        path (from ``imgs/``), 68 0-based landmarks, ``meta`` with ``video`` and ``frame``.

    Example:
        >>> report = zoo.data.ReadReport()
        >>> for sample in zoo.data.readers.iter_300vw_video(fixtures_dir / "300vw" / "001",
        ...                                                 report=report):
        ...     print(sample.meta["frame"], sample.landmarks.shape)
        6 (68, 2)
        9 (68, 2)
    """
    video_dir = os.fspath(video_dir)
    video = os.path.basename(os.path.normpath(video_dir))
    report = ReadReport() if report is None else report
    broken = (broken_frames or {}).get(video, set())
    frames = _annotated_frames(video_dir)
    avi = os.path.join(video_dir, "vid.avi")
    capture = cv2.VideoCapture(avi) if decode_video and os.path.isfile(avi) else None
    position, frame = 0, None
    try:
        for number, pts_path in frames:
            if number in broken:
                report.skip("known broken frame", f"{video}/{number:06d}")
                continue
            try:
                landmarks = read_pts(pts_path, NUM_POINTS)
                if capture is not None:
                    while position < number:
                        ok, frame = capture.read()
                        position += 1
                        if not ok:
                            raise data_error("missing frame", f"the video ends before frame {number}", avi)
                    image = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                    source = f"{avi}#{number}"
                else:
                    image = find_image(os.path.join(video_dir, "imgs", f"{number:06d}"))
                    if image is None:
                        raise data_error("missing frame", "no imgs/ frame and no vid.avi", pts_path)
                    source = image
            except DataError as error:
                report.skip(skip_reason(error), str(error))
                continue
            report.kept += 1
            meta = {"video": video, "frame": number, "annotation": pts_path, "source": source}
            yield Sample(image, landmarks, None, None, meta)
    finally:
        if capture is not None:
            capture.release()


def iter_300vw(root, category, broken_frames=None, report=None, decode_video=True):
    """Yields the annotated frames of every video of a category (``list_videos``).

    Args:
        root: the 300-VW root.
        category: ``S1``, ``S2``, ``S3``, ``test`` or ``train``.
        broken_frames: ``{video: set(frames)}``, a path to the JSON list, or None (then
            ``root/broken_frames.json`` is used when it exists).
        report: ``zoo.data.ReadReport`` to fill (read it after the loop), or None.
        decode_video: see ``iter_300vw_video``.

    Yields:
        ``Sample`` per frame; ``meta["category"]`` is set.

    Example:
        >>> report = zoo.data.ReadReport()
        >>> import warnings
        >>> with warnings.catch_warnings():  # the fixtures hold 2 of the 31 S1 videos
        ...     warnings.simplefilter("ignore")
        ...     frames = list(zoo.data.readers.iter_300vw(fixtures_dir / "300vw", "S1",
        ...                                               report=report))
        >>> [(f.meta["video"], f.meta["frame"], f.meta["category"]) for f in frames]
        [('401', 732, 'S1')]
        >>> print(report.summary())  # frame 731 of video 401 is in broken_frames.json
        kept 1, skipped 1
               1  known broken frame
    """
    if broken_frames is None and os.path.isfile(os.path.join(root, "broken_frames.json")):
        broken_frames = os.path.join(root, "broken_frames.json")
    if isinstance(broken_frames, (str, os.PathLike)):
        broken_frames = load_broken_frames(broken_frames)
    for video in list_videos(root, category):
        for sample in iter_300vw_video(os.path.join(root, video), broken_frames, report, decode_video):
            sample.meta["category"] = category
            yield sample
