"""Loose face boxes for RDFN training (issue 15): ``AugmentConfig(box_shift=, box_scale=)``."""
import dataclasses

import numpy as np
import pytest

import zoo.codecs
import zoo.data.pipeline
import zoo.data.synthface
from zoo.data.transforms import AugmentConfig

SIZE, MARGIN = 64, 0.25


def _crops(augment, num_samples=48):
    codec = zoo.codecs.Heatmap2DCodec(SIZE, 16)
    source = zoo.data.synthface.dataset(image_size=96, num_samples=num_samples,
                                        with_metadata=True)
    dataset = zoo.data.pipeline.make_dataset(source, codec, "300w", input_size=SIZE,
                                             batch_size=num_samples, augment=augment,
                                             training=True, shuffle=0, seed=3,
                                             return_metadata=True, margin=MARGIN)
    images, _, metadata = next(iter(dataset))
    return images.numpy(), metadata["landmarks"].numpy()


def _box_stats(landmarks):
    low, high = landmarks.min(1), landmarks.max(1)
    centre = (low + high) / 2
    side = (high - low).max(-1)
    return centre, side


def test_box_perturbation_is_off_by_default_and_changes_nothing_else():
    assert AugmentConfig().box_shift == 0.0 and AugmentConfig().box_scale == (1.0, 1.0)
    plain = AugmentConfig.geometric()
    images, landmarks = _crops(plain, 8)
    again, landmarks_again = _crops(dataclasses.replace(plain, box_scale=[1.0, 1.0]), 8)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(landmarks, landmarks_again)


def test_box_shift_and_scale_move_and_resize_the_face_within_their_ranges():
    reference_centre, reference_side = _box_stats(_crops(AugmentConfig.none())[1])
    # The well-cropped face: centred, side F / (1 + margin).
    np.testing.assert_allclose(reference_centre, (SIZE - 1) / 2, atol=0.51)
    np.testing.assert_allclose(reference_side, SIZE / (1 + MARGIN), rtol=0.03)
    box = SIZE / (1 + MARGIN)
    shifted = dataclasses.replace(AugmentConfig.none(), box_shift=0.25)
    centre, side = _box_stats(_crops(shifted)[1])
    offset = np.abs(centre - reference_centre) / box
    assert offset.max() <= 0.25 + 1e-3 and offset.max() > 0.15, offset.max()
    np.testing.assert_allclose(side, reference_side, rtol=1e-4)  # a shift keeps the size
    scaled = dataclasses.replace(AugmentConfig.none(), box_scale=(0.75, 1.35))
    centre, side = _box_stats(_crops(scaled)[1])
    ratio = reference_side / side  # the box factor k: the face shrinks by 1 / k
    assert ratio.min() >= 0.75 - 1e-3 and ratio.max() <= 1.35 + 1e-3
    assert ratio.min() < 0.85 and ratio.max() > 1.25, (ratio.min(), ratio.max())
    np.testing.assert_allclose(centre, reference_centre, atol=1e-3)  # scaled about the centre


def test_box_perturbation_arguments_are_checked():
    with pytest.raises(ValueError, match="Received: box_shift=1.5"):
        AugmentConfig(box_shift=1.5)
    with pytest.raises(ValueError, match="Received: box_scale=\\(1.2, 0.8\\)"):
        AugmentConfig(box_scale=(1.2, 0.8))
