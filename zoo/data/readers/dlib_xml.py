"""dlib's imglab XML (``training_with_face_landmarks.xml``): boxes with 68 ``<part>`` points.

Layout: ``<image file width height>`` -> ``<box top left width height>`` ->
``<part name='00'..'67' x y>``. Coordinates are integer pixel indices (0-based already).
"""
import os
import xml.etree.ElementTree as ElementTree

import numpy as np

from zoo.data.readers.common import check_landmarks, collect, data_error
from zoo.data.sample import Sample


def read_dlib_xml(path, num_points=68):
    """Reads a dlib imglab XML with landmark parts.

    Args:
        path: the XML file; image paths are relative to its folder.
        num_points: parts per box.

    Returns:
        ``(samples, report)``: one ``Sample`` per box, box ``x1, y1, x2, y2`` with
        ``x2 = left + width``; parts ordered by their ``name``.

    Example:
        >>> samples, report = zoo.data.readers.read_dlib_xml(
        ...     fixtures_dir / "dlib_faces" / "training_with_face_landmarks.xml")
        >>> len(samples), samples[0].landmarks.shape, samples[0].box.tolist()
        (18, (68, 2), [194.0, 90.0, 231.0, 127.0])
    """
    path = os.fspath(path)
    try:
        tree = ElementTree.parse(path)
    except (OSError, ElementTree.ParseError, LookupError, ValueError) as error:
        # LookupError: a damaged encoding name in the XML declaration
        raise data_error("unreadable annotation", f"{type(error).__name__}: {error}", path) \
            from error
    folder = os.path.dirname(path)
    boxes = []
    for image in tree.getroot().iter("image"):
        for number, box in enumerate(image.iter("box")):
            boxes.append((image.get("file"), number, box))

    def parse(item):
        file_name, number, box = item
        where = f"{path}[{file_name} box {number}]"
        if file_name is None:
            raise data_error("bad image entry", "an <image> without a 'file' attribute", where)
        parts = list(box.iter("part"))
        if any(part.get("name") is None for part in parts):
            raise data_error("bad part", "a <part> without a 'name' attribute", where)
        parts.sort(key=lambda part: part.get("name"))
        try:
            points = [[float(p.get("x")), float(p.get("y"))] for p in parts]
            left, top = float(box.get("left")), float(box.get("top"))
            width, height = float(box.get("width")), float(box.get("height"))
        except (TypeError, ValueError) as error:
            raise data_error("bad number", str(error), where) from error
        landmarks = check_landmarks(np.asarray(points).reshape(-1, 2), num_points, where)
        box_xyxy = np.array([left, top, left + width, top + height], np.float32)
        return Sample(os.path.join(folder, file_name), landmarks, None, box_xyxy, {"box_index": number})

    return collect(boxes, parse)
