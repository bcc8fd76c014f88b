"""The record every reader returns, the error readers raise, and the skip report.

Landmarks are (x, y) in 0-based pixel coordinates (centre of the top-left pixel is (0, 0));
readers of 1-based formats (``.pts``) subtract 1 on load.
"""
import collections
import dataclasses
from typing import Any, Optional

import numpy as np


class DataError(ValueError):
    """A malformed annotation or image. The message names the file (and line where known)."""

    def __init__(self, message, path=None, line=None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


@dataclasses.dataclass
class Sample:
    """One annotated face.

    Attributes:
        image: path of the image file, or an (H, W, 3) uint8 RGB array (video frames).
        landmarks: (N, 2) float32, 0-based pixel coordinates.
        visibility: (N,) float32, 1 visible / 0 occluded, or None if the dataset has none.
        box: (4,) float32 face box x1, y1, x2, y2 in pixels, or None.
        meta: free-form metadata (subset, attributes, video id, frame index, ...).
    """

    image: Any
    landmarks: np.ndarray
    visibility: Optional[np.ndarray] = None
    box: Optional[np.ndarray] = None
    meta: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ReadReport:
    """What a dataset-level reader kept and skipped, and why. Never silent."""

    kept: int = 0
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    examples: list = dataclasses.field(default_factory=list)

    def skip(self, reason, detail=""):
        self.skipped[reason] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{reason}: {detail}")

    @property
    def num_skipped(self):
        return sum(self.skipped.values())

    def summary(self):
        lines = [f"kept {self.kept}, skipped {self.num_skipped}"]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  {count:6d}  {reason}")
        return "\n".join(lines)
