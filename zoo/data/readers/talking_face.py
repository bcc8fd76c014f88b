"""Talking Face (FGNet): one video of 5000 frames, 68 points per frame (``.pts``).

Expected layout under ``root`` (as unpacked from the FGNet downloads)::

    root/images/franck_00000.jpg ... franck_04999.jpg    (or any folder below root)
    root/points/franck_00000.pts ... franck_04999.pts    (68 points, iBUG .pts syntax)

Image and annotation are matched by the file stem (``franck_00042``), wherever below
``root`` they are. The ``.pts`` values are read as 1-based like every ``.pts`` file and
returned 0-based.

The Talking Face 68-point markup is **not** the iBUG 300-W one. Cross-dataset evaluation
(trained on 300-VW) uses seven landmarks both schemes share (Liu et al., TSTN, TPAMI 2018):
the four eye corners, the nose tip and the two mouth corners. ``COMMON_7_IBUG`` are their
indices in the iBUG 68 scheme (certain); ``COMMON_7_TALKING_FACE`` are the indices in the
FGNet markup (the Cootes/XM2VTS 68-point order). The latter were written from the published
markup description and have **not** been checked against a real annotation file (none
was available); verify them on the real data before quoting numbers.

Reference: FGNet Talking Face video, www-prima.inrialpes.fr/FGnet/data/01-TalkingFace.
"""
import os
import re

import numpy as np

from zoo.data.readers.common import IMAGE_EXTENSIONS, collect, data_error, read_pts
from zoo.data.sample import Sample

NUM_POINTS = 68
NUM_FRAMES = 5000
# Order: right eye outer, right eye inner, left eye inner, left eye outer, nose tip,
# right mouth corner, left mouth corner (subject's right/left).
COMMON_7_IBUG = (36, 39, 42, 45, 30, 48, 54)
COMMON_7_TALKING_FACE = (27, 29, 34, 32, 67, 48, 54)

_FRAME = re.compile(r"franck_(\d+)$")


def to_common_7(landmarks, scheme):
    """Selects the seven shared landmarks from 68-point landmarks.

    Args:
        landmarks: (..., 68, 2) array.
        scheme: ``"ibug"`` (300-W / 300-VW order) or ``"talking_face"``.

    Returns:
        (..., 7, 2) array.

    Example:
        >>> zoo.data.readers.talking_face.to_common_7(np.zeros([68, 2]), "ibug").shape
        (7, 2)
    """
    indices = {"ibug": COMMON_7_IBUG, "talking_face": COMMON_7_TALKING_FACE}.get(scheme)
    if indices is None:
        raise ValueError(f"`scheme` must be 'ibug' or 'talking_face'. Received: scheme={scheme}")
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2:] != (NUM_POINTS, 2):
        raise ValueError(f"`landmarks` must end in (68, 2). Received: landmarks.shape={landmarks.shape}")
    return landmarks[..., list(indices), :]


def read_talking_face(root):
    """Reads the Talking Face frames and their 68-point annotations.

    Args:
        root: folder holding the ``franck_*`` images and ``.pts`` files (any subfolders).

    Returns:
        ``(samples, report)`` sorted by frame, ``meta["frame"]`` the 0-based frame number;
        a note lands in the report's examples when there are not 5000 annotated frames.

    Example:
        >>> samples, report = zoo.data.readers.read_talking_face("/data/talking_face")
    """
    root = os.fspath(root)
    annotations, images = {}, {}
    for directory, _, names in os.walk(root):
        for name in names:
            stem, extension = os.path.splitext(name)
            match = _FRAME.match(stem)
            if not match:
                continue
            frame = int(match.group(1))
            if extension.lower() == ".pts":
                annotations[frame] = os.path.join(directory, name)
            elif extension.lower() in IMAGE_EXTENSIONS:
                images[frame] = os.path.join(directory, name)

    def parse(frame):
        landmarks = read_pts(annotations[frame], NUM_POINTS)
        if frame not in images:
            raise data_error("missing image", f"no image for frame {frame}", annotations[frame])
        return Sample(images[frame], landmarks, None, None, {"frame": frame, "video": "franck"})

    samples, report = collect(sorted(annotations), parse)
    if len(annotations) != NUM_FRAMES:
        report.examples.append(f"count differs: {len(annotations)} annotated frames, published {NUM_FRAMES}")
    return samples, report
