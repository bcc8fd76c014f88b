"""Tests for zoo.data.pipeline: batches, augmentation consistency (markers), flips, inverse, clips."""
import colorsys

import cv2
import numpy as np
import pytest
import tensorflow as tf

import zoo.codecs
import zoo.schemes
from zoo.data import pipeline, synthface, transforms
from zoo.data.sample import Sample

F, L = 64, 192


@pytest.fixture(scope="module")
def codec():
    return zoo.codecs.Heatmap1DCodec(input_size=F, heatmap_size=L)


@pytest.fixture(scope="module")
def faces():
    face = synthface.SynthFace(image_size=96, seed=3)
    return [face.sample(i) for i in range(8)]


def _marker_samples(num, rng):
    """Images with one coloured Gaussian blob per 300-W landmark; 68 distinct hues identify them."""
    colours = np.array([colorsys.hsv_to_rgb(k / 68.0, 1.0, 1.0) for k in range(68)]) * 230.0
    grid = np.stack(np.meshgrid(np.arange(9), np.arange(8)), -1).reshape(-1, 2)[:68]
    gy, gx = np.mgrid[-8:9, -8:9].astype(np.float32)
    samples = []
    for _ in range(num):
        points = (grid * 28.0 + 18.0 + rng.uniform(-3, 3, (68, 2))).astype(np.float32)
        image = np.zeros((240, 260, 3), np.float32)
        for (x, y), colour in zip(points, colours):
            cx, cy = int(round(x)), int(round(y))  # blobs are 28 px apart: 17x17 windows suffice
            blob = np.exp(-((gx + cx - x) ** 2 + (gy + cy - y) ** 2) / (2 * 2.0**2))
            image[cy - 8:cy + 9, cx - 8:cx + 9] += blob[..., None] * colour
        samples.append(Sample(image=np.clip(image, 0, 255).astype(np.uint8), landmarks=points))
    return samples, colours


def test_augmented_markers_land_on_their_landmarks_and_flips_use_the_permutation():
    # The consistency bar: markers rendered at the landmarks, augmented (rotation, scale, shift,
    # flip) by the pipeline, are found again at the returned landmarks, and each returned
    # landmark index sits on the marker of the point the scheme's permutation says.
    samples, colours = _marker_samples(8, np.random.default_rng(0))
    codec = zoo.codecs.Heatmap1DCodec(input_size=128, heatmap_size=384)
    config = transforms.AugmentConfig.geometric(rotation=30.0, scale=0.25, translation=0.05, flip_probability=0.5)
    ds = pipeline.make_dataset(samples, codec, "300w", input_size=128, batch_size=8, augment=config,
                               margin=0.1, seed=4, return_metadata=True, shuffle=0)
    images, _, meta = next(iter(ds))
    permutation = np.array(zoo.schemes.get_scheme("300w").flip_permutation)
    flipped = meta["flipped"].numpy()
    assert flipped.any() and not flipped.all()
    unit = colours / np.linalg.norm(colours, axis=1, keepdims=True)
    errors, checked = [], 0
    for b in range(8):
        image = images[b].numpy()
        for index, point in enumerate(meta["landmarks"][b].numpy()):
            x, y = int(round(point[0])), int(round(point[1]))
            if not (6 <= x < 122 and 6 <= y < 122):
                continue
            window = image[y - 5:y + 6, x - 5:x + 6].astype(np.float64)
            weight = np.maximum(window.sum(-1) - 0.05 * window.sum(-1).max(), 0)
            gy, gx = np.mgrid[-5:6, -5:6]
            centre = np.array([x + (gx * weight).sum() / weight.sum(), y + (gy * weight).sum() / weight.sum()])
            errors.append(np.linalg.norm(centre - point))
            hue = window.sum((0, 1))
            found = int(np.argmax(unit @ (hue / np.linalg.norm(hue))))
            expected = permutation[index] if flipped[b] else index
            assert found == expected, (b, index, found, expected)
            checked += 1
    assert checked > 300
    assert np.max(errors) < 1.0 and np.mean(errors) < 0.3, (np.max(errors), np.mean(errors))


def test_batches_shapes_ranges_and_targets(codec, faces):
    ds = pipeline.make_dataset(faces, codec, "300w", input_size=F, batch_size=4, return_metadata=True)
    batches = list(ds)
    assert len(batches) == 2
    images, targets, meta = batches[0]
    assert images.shape == (4, F, F, 3) and images.dtype == tf.float32
    assert float(tf.reduce_min(images)) >= 0.0 and float(tf.reduce_max(images)) <= 255.0
    assert set(targets) == {"x", "y"} and targets["x"].shape == (4, 68, L)
    assert meta["matrix"].shape == (4, 2, 3) and meta["visibility"].shape == (4, 68)
    coords, _ = codec.decode(targets)
    inside = np.all((meta["landmarks"].numpy() > 1) & (meta["landmarks"].numpy() < F - 2), axis=-1)
    np.testing.assert_allclose(coords.numpy()[inside], meta["landmarks"].numpy()[inside], atol=0.05)


def test_inverse_transform_returns_image_coordinates(codec, faces):
    ds = pipeline.make_dataset(faces, codec, "300w", input_size=F, batch_size=8, return_metadata=True, seed=1,
                               shuffle=0)
    _, targets, meta = next(iter(ds))
    permutation = np.array(zoo.schemes.get_scheme("300w").flip_permutation)
    back = transforms.to_image_coordinates(meta["landmarks"], meta["matrix"]).numpy()
    for b in range(8):
        # Undo the renaming of a flip (the permutation is its own inverse) before comparing.
        predicted = back[b][permutation] if meta["flipped"][b] else back[b]
        np.testing.assert_allclose(predicted, meta["image_landmarks"][b].numpy(), atol=2e-3)
    np.testing.assert_allclose(meta["image_landmarks"].numpy(), np.stack([f.landmarks for f in faces]), atol=1e-5)


def test_evaluation_pipeline_is_a_plain_crop(codec, faces):
    ds = pipeline.make_dataset(faces[:2], codec, "300w", input_size=F, batch_size=2, training=False,
                               return_metadata=True, margin=0.25)
    _, _, meta = next(iter(ds))
    box = faces[0].box
    size = max(box[2] - box[0], box[3] - box[1]) * 1.25
    expected = transforms.crop_matrix(0.5 * (box[:2] + box[2:]), size, F).numpy()
    np.testing.assert_allclose(meta["matrix"][0].numpy(), expected, atol=1e-4)
    assert not meta["flipped"].numpy().any()


def test_seeded_pipeline_is_deterministic(codec, faces):
    def first(seed):
        ds = pipeline.make_dataset(faces, codec, "300w", input_size=F, batch_size=4, seed=seed)
        return next(iter(ds))

    a, b, c = first(7), first(7), first(8)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1]["x"].numpy(), b[1]["x"].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_tuple_and_encoded_jpeg_sources(codec, faces):
    images = np.stack([f.image for f in faces[:4]])
    landmarks = np.stack([f.landmarks for f in faces[:4]])
    encoded = [cv2.imencode(".jpg", cv2.cvtColor(im, cv2.COLOR_RGB2BGR))[1].tobytes() for im in images]
    raw = tf.data.Dataset.from_tensor_slices((images, landmarks))
    jpeg = tf.data.Dataset.from_tensor_slices((encoded, landmarks))
    kwargs = dict(input_size=F, batch_size=4, training=False, return_metadata=True)
    a = next(iter(pipeline.make_dataset(raw, codec, "300w", **kwargs)))
    b = next(iter(pipeline.make_dataset(jpeg, codec, "300w", **kwargs)))
    np.testing.assert_allclose(a[2]["landmarks"].numpy(), b[2]["landmarks"].numpy())
    assert np.abs(a[0].numpy() - b[0].numpy()).mean() < 6.0  # JPEG loss only


def test_record_source_matrix_maps_the_original_image(codec, faces):
    # A tfrecord-style dict: the stored crop is a 2x downscale of the original; the box is in
    # original pixels. Returned matrices must map original-image landmarks to the network input.
    face = faces[0]
    record_matrix = np.array([[0.5, 0.0, -0.25], [0.0, 0.5, -0.25]], np.float32)
    crop = cv2.resize(face.image, (48, 48), interpolation=cv2.INTER_AREA)
    element = {"image": crop[None], "landmarks": (face.landmarks * 0.5 - 0.25)[None],
               "box": face.box[None], "crop_matrix": record_matrix[None]}
    ds = pipeline.make_dataset(tf.data.Dataset.from_tensor_slices(element), codec, "300w", input_size=F,
                               batch_size=1, training=False, return_metadata=True)
    _, _, meta = next(iter(ds))
    np.testing.assert_allclose(meta["image_landmarks"][0].numpy(), face.landmarks, atol=1e-4)
    mapped = transforms.transform_landmarks(face.landmarks, meta["matrix"][0]).numpy()
    np.testing.assert_allclose(mapped, meta["landmarks"][0].numpy(), atol=1e-3)
    box = face.box
    size = max(box[2] - box[0], box[3] - box[1]) * 1.25
    np.testing.assert_allclose(meta["matrix"][0].numpy(),
                               transforms.crop_matrix(0.5 * (box[:2] + box[2:]), size, F).numpy(), atol=1e-3)


def test_occlusion_marks_visibility(codec, faces):
    config = transforms.AugmentConfig.geometric(flip_probability=0.0, occlusion_probability=1.0,
                                                occlusion_size=(0.4, 0.6))
    ds = pipeline.make_dataset(faces, codec, "300w", input_size=F, batch_size=8, augment=config,
                               return_metadata=True)
    _, _, meta = next(iter(ds))
    source = np.stack([f.visibility for f in faces])
    hidden = (meta["visibility"].numpy() == 0) & (source == 1)
    assert hidden.sum() > 8  # big rectangles always cover some landmarks


def test_clip_dataset_one_augmentation_per_clip(codec):
    frame = synthface.SynthFace(image_size=80, seed=0).sample(0)
    clip = {"image": np.stack([frame.image] * 3)[None], "landmarks": np.stack([frame.landmarks] * 3)[None]}
    source = tf.data.Dataset.from_tensor_slices(clip).repeat(2)
    ds = pipeline.make_clip_dataset(source, codec, "300w", clip_length=3, input_size=F, batch_size=2,
                                    return_metadata=True, seed=2, shuffle=0)
    clips, targets, meta = next(iter(ds))
    assert clips.shape == (2, 3, F, F, 3) and targets["x"].shape == (2, 3, 68, L)
    assert meta["matrix"].shape == (2, 2, 3)
    # Identical frames + one draw per clip = identical outputs across the clip; the two clips
    # got different draws.
    for t in (1, 2):
        np.testing.assert_array_equal(clips[:, 0].numpy(), clips[:, t].numpy())
        np.testing.assert_array_equal(targets["x"][:, 0].numpy(), targets["x"][:, t].numpy())
    assert not np.array_equal(clips[0, 0].numpy(), clips[1, 0].numpy())


def test_synthface_clips_and_clips_from_frames(codec):
    clips = synthface.clip_dataset(4, image_size=64, num_clips=2, seed=1)
    ds = pipeline.make_clip_dataset(clips, codec, "300w", clip_length=4, input_size=F, batch_size=2,
                                    return_metadata=True)
    images, targets, meta = next(iter(ds))
    assert images.shape == (2, 4, F, F, 3)
    coords, _ = codec.decode({k: tf.reshape(v, (-1, 68, L)) for k, v in targets.items()})
    crop = tf.reshape(meta["landmarks"], (-1, 68, 2)).numpy()
    inside = np.all((crop > 1) & (crop < F - 2), -1)
    np.testing.assert_allclose(coords.numpy()[inside], crop[inside], atol=0.05)
    samples = synthface.SynthFace(64).video_samples(9, seed=0)
    cut = list(pipeline.clips_from_frames(pipeline.samples_to_dataset(samples), 4))
    assert len(cut) == 2 and cut[1]["image"].shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(cut[1]["landmarks"][0].numpy(), samples[4].landmarks)


def test_cache_gives_the_same_batches(codec, faces):
    ds = pipeline.make_dataset(faces, codec, "300w", input_size=F, batch_size=4, training=False, cache=True)
    first = [b[0].numpy() for b in ds]
    second = [b[0].numpy() for b in ds]
    assert len(first) == 2
    np.testing.assert_array_equal(first[1], second[1])


def test_bad_arguments_raise(codec, faces):
    with pytest.raises(ValueError, match="Received: crop_from='face'"):
        pipeline.make_dataset(faces, codec, "300w", crop_from="face")
    with pytest.raises(ValueError, match="Received: scheme=None"):
        pipeline.make_dataset(faces, codec, None)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        pipeline.make_dataset(faces, codec, "300w", batch_size=0)
    with pytest.raises(ValueError, match="Received: landmarks.shape"):
        pipeline.make_dataset(faces, codec, "wflw")
    with pytest.raises(ValueError, match="Received: source=int"):
        pipeline.make_dataset(3, codec, "300w")
    with pytest.raises(ValueError, match="Received: clip_length=5"):
        pipeline.make_clip_dataset(synthface.clip_dataset(4, image_size=64, num_clips=1), codec, "300w",
                                   clip_length=5)
