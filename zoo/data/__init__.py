"""Datasets: readers for the benchmark formats, transforms, tf.data pipelines, SynthFace."""
from zoo.data.sample import DataError, ReadReport, Sample  # noqa: F401
