"""Paper-style evaluation report of a trained run: NME per subset, FR, AUC, per-area NME, CED PNG.

The protocols (paper Sec. 4): 300W common / challenging / full (inter-ocular NME); AFLW full /
frontal (NME over the dataset's face-box size, ``box_size`` of HRNet's CSV, carried from the
reader by :func:`box_normalizers`; a face without one is an error); WFLW test and its six
attribute subsets; COFW test. With no data folder the run is evaluated on held-out SynthFace
faces (and the report says so). Landmarks are decoded with the run's decode method
(``config.json``) or the one asked for (``decode``); the report title names it.

Trackers (paper Sec. 5) are evaluated on videos: the streaming step model
(``zoo.streaming``) runs frame by frame over each test video with its state reset at the
start of every video; NME per frame (inter-ocular, 68 points) over the 300-VW categories S1,
S2, S3, and over the 7 landmarks Talking Face shares with the 300-W markup
(``shared7`` scheme, ``zoo.data.readers.talking_face.to_common_7``). Two crop protocols
(:func:`track_clips`): the headline is the tracking protocol, the one the tracker is meant for
and ``python -m zoo.track`` runs (frame t cropped around the prediction for frame t-1, frame 0
around its ground truth, a lost face restarting from the ground truth); beside it, in a
labelled column, the per-frame ground-truth crop (every frame cropped around its own ground
truth, as the image protocols crop test faces: localisation with temporal context, without
the tracker's own drift). With no data the run is evaluated on held-out SynthFace videos (all
68 points, and the same 7 points).

Example:
    >>> import zoo.evaluation
    >>> # needs a trained run folder (``python -m zoo.demo`` trains one in minutes)
    >>> report = zoo.evaluation.evaluate_run("demo_out/run")  # doctest: +SKIP
"""
import json
import os

import numpy as np


# Subsets each dataset is reported on, and the reader split that holds them.
PROTOCOLS = {
    "300w": (("common", "common"), ("challenging", "challenging"), ("full", "full")),
    "aflw": (("full", "full"), ("frontal", "frontal")),
    "wflw": (("test", "test"), ("pose", "pose"), ("expression", "expression"),
             ("illumination", "illumination"), ("makeup", "makeup"),
             ("occlusion", "occlusion"), ("blur", "blur")),
    "cofw": (("test", "test"),),
}


# Video protocols of trackers: 300-VW test categories (Shen et al. 2015).
VIDEO_PROTOCOLS = {"300vw": ("S1", "S2", "S3")}


def load_run(run_dir, decode=None):
    """Rebuilds the model of a training run folder and loads its latest checkpoint.

    Args:
        run_dir: the ``output_dir`` of a training run (holds ``config.json`` and checkpoints).
        decode: decode method to evaluate with (``codec.decode_methods``: ``"argmax"`` /
            ``"refined"`` for 1D, ``"argmax"`` / ``"quarter_offset"`` / ``"parabola"`` /
            ``"integral"`` for 2D); None: the one the run recorded in ``config.json``.

    Returns:
        ``(model, codec, config, step)``; ``config.decode`` names the codec's decode method.

    Example:
        >>> import zoo.evaluation
        >>> # needs a trained run folder (tests/test_registry_toy.py trains and loads one)
        >>> model, codec, config, step = zoo.evaluation.load_run("runs/300w")  # doctest: +SKIP
    """
    from zoo.training import config as config_lib
    from zoo.training import loop, resolve

    # applicable: runs written before the architecture records stored gamma / lambda for all.
    config = resolve.applicable(config_lib.load_config(run_dir))
    if decode is not None:
        config = config.replace(decode=decode)
    # One path for every architecture: the run's model, its codec fitted to it.
    run = resolve.resolve(config)
    step = loop.restore_model(run.model, run_dir)
    return run.model, run.codec, run.config, step


def box_normalizers(source, scheme):
    """Per-face NME normalisers in crop pixels for a scheme scored by face-box size (AFLW).

    The AFLW protocol (SAN, HRNet) divides by the dataset's face-box size, which
    ``zoo.data.readers.read_aflw`` keeps as ``sample.meta["box_size"]`` (image pixels). The
    crops of ``source`` (``SampleSource``: ``zoo.data.tfrecord.crop_face`` around
    ``sample.box``, margin 0.25) scale the image by ``size / side``, so the box size in crop
    pixels is ``box_size * size / side``; NME is the same as in image pixels.

    Args:
        source: a ``zoo.training.data.SampleSource`` (or anything with ``samples`` and
            ``image_size``).
        scheme: scheme name or ``zoo.schemes.Scheme`` the faces are scored in.

    Returns:
        ``(B,)`` float64 box sizes in crop pixels, or None when the scheme's normaliser is not
        a box (300W, WFLW, COFW: inter-ocular).

    Raises:
        ValueError: the scheme needs box sizes and a face has none (or the source has no
            samples, e.g. SynthFace).

    Example:
        >>> import zoo.evaluation
        >>> from zoo.data.synthface import SynthFace
        >>> from zoo.training.data import SampleSource
        >>> face = SynthFace(image_size=128, seed=0).sample(0)
        >>> face.meta["box_size"] = 60.0
        >>> source = SampleSource([face], 64, "aflw")
        >>> zoo.evaluation.box_normalizers(source, "aflw").shape
        (1,)
        >>> zoo.evaluation.box_normalizers(source, "300w") is None
        True
    """
    from zoo import schemes
    from zoo.data import tfrecord

    scheme = schemes.get_scheme(scheme)
    if scheme.normalizer not in ("box", "diagonal"):
        return None
    samples = getattr(source, "samples", None)
    if not samples:
        raise ValueError(
            f"Scheme {scheme.name!r} is scored by the dataset's face-box size, and this source "
            f"has no annotated samples to take it from. Received: source={type(source).__name__}")
    sizes = []
    for index, sample in enumerate(samples):
        box_size = (sample.meta or {}).get("box_size")
        if box_size is None or not np.isfinite(box_size) or box_size <= 0:
            name = sample.image if isinstance(sample.image, str) else "an array image"
            raise ValueError(
                f"Scheme {scheme.name!r} is scored by the dataset's face-box size "
                "(meta['box_size'], the box_size column of HRNet's AFLW CSV read by "
                f"zoo.data.readers.read_aflw); face {index} ({name}) has none. "
                f"Received: meta={sample.meta!r}")
        box = sample.box if sample.box is not None else tfrecord.landmark_box(sample.landmarks)
        # The same square crop as SampleSource (crop_face's default margin).
        scale = tfrecord.square_crop_matrix(box, size=source.image_size)[0, 0]
        sizes.append(float(box_size) * scale)
    return np.asarray(sizes, np.float64)


def evaluate_detector(model, codec, images, landmarks, scheme, subsets=None, boxes=None,
                      normalizer=None):
    """Predicts, decodes and scores a set of face crops.

    Args:
        model: a training model (stacked dict outputs; the last stack is scored).
        codec: its codec (its ``decode_method`` is the one scored).
        images: ``(B, F, F, 3)`` crops in [0, 255].
        landmarks: ``(B, N, 2)`` ground truth in crop pixels.
        scheme: landmark scheme name (normaliser and areas).
        subsets: optional ``zoo.metrics.report`` subsets.
        boxes: optional ``(B, 4)`` boxes (box normalisers).
        normalizer: None (the scheme's) or ``(B,)`` distances in crop pixels; AFLW needs its
            face-box sizes here (:func:`box_normalizers`), ``zoo.metrics.nme`` refuses it
            without them.

    Returns:
        ``(errors (B,), report dict, predictions (B, N, 2))``.

    Example:
        >>> import zoo, zoo.evaluation
        >>> from zoo.models import presets
        >>> from zoo.training.data import SynthFaceSource
        >>> model = zoo.create("fan2d_300w", **presets.get_architecture("fan2d").tiny_config)
        >>> images, landmarks = SynthFaceSource(32, num_samples=2).arrays()
        >>> errors, report, predictions = zoo.evaluation.evaluate_detector(
        ...     model, presets.model_codec(model), images, landmarks, "300w")
        >>> errors.shape, predictions.shape
        ((2,), (2, 68, 2))
    """
    import zoo.metrics
    from zoo.training.image_trainer import predict_landmarks

    predictions = predict_landmarks(model, codec, images)
    errors = zoo.metrics.nme(predictions, landmarks, scheme=scheme, normalizer=normalizer,
                             boxes=boxes)
    report = zoo.metrics.report(predictions, landmarks, scheme, subsets=subsets,
                                normalizer=normalizer, boxes=boxes, verbose=False)
    return errors, report, predictions


def write_report(results, output_dir, title, extra=None):
    """Writes ``report.txt``, ``report.json`` and ``ced.png`` for ``{subset: (errors, row)}``.

    Args:
        results: dict ``name -> (errors (B,), report row dict)``.
        output_dir: folder to write to.
        title: heading (model, dataset, step).
        extra: optional ``{"text": str appended to the text report, "json": dict merged into
            the JSON report}`` (trackers: the second crop protocol).

    Returns:
        dict of written paths ``{"text", "json", "ced"}``.
    """
    import zoo.metrics

    os.makedirs(output_dir, exist_ok=True)
    table = {name: row for name, (_, row) in results.items()}
    # Rows of different schemes (68 points, the 7 shared ones) have different areas: one
    # table per scheme.
    groups = {}
    for name, row in table.items():
        groups.setdefault(tuple(row.get("areas", {})), {})[name] = row
    text = title + "\n" + "\n".join(zoo.metrics.format_report(group)
                                     for group in groups.values()) + "\n"
    extra = extra or {}
    if extra.get("text"):
        text += "\n" + extra["text"] + "\n"
    paths = {"text": os.path.join(output_dir, "report.txt"),
             "json": os.path.join(output_dir, "report.json"),
             "ced": os.path.join(output_dir, "ced.png")}
    with open(paths["text"], "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(paths["json"], "w", encoding="utf-8") as handle:
        json.dump({"title": title, "subsets": table, **extra.get("json", {})}, handle, indent=2)
    zoo.metrics.plot_ced({name: errors for name, (errors, _) in results.items()}, paths["ced"],
                         title=title)
    print(text)
    return paths


def evaluate_run(run_dir, output_dir=None, data_dir=None, dataset=None, num_synthetic=200,
                 talking_face_dir=None, max_frames=None, decode=None):
    """Evaluates a training run on its dataset's test protocol and writes the report.

    Args:
        run_dir: training run folder.
        output_dir: where the report goes (default ``run_dir/eval``).
        data_dir: dataset root (default the run's ``data_dir``); None evaluates on held-out
            SynthFace faces.
        dataset: dataset name (default the run's).
        num_synthetic: SynthFace test faces when there is no data (trackers: videos of 50
            frames, ``num_synthetic // 50`` of them).
        talking_face_dir: trackers only: the Talking Face root (7-point protocol).
        max_frames: trackers only: at most this many frames per video (None: all).
        decode: decode method (see :func:`load_run`); None: the run's own.

    Returns:
        ``{"subsets": {name: report row}, "paths": {...}, "step": int, "decode": str}``.

    Example:
        >>> import zoo.evaluation
        >>> # needs a trained run folder (tests/test_registry_toy.py trains and evaluates one)
        >>> report = zoo.evaluation.evaluate_run("runs/300w", decode="argmax")  # doctest: +SKIP
    """
    from zoo.models import presets
    from zoo.training import data as data_lib
    from zoo.training import sources

    model, codec, config, step = load_run(run_dir, decode=decode)
    if presets.is_clip_model(config.model):  # the registry: video protocols
        return evaluate_tracker_run(run_dir, output_dir=output_dir, data_dir=data_dir,
                                    talking_face_dir=talking_face_dir,
                                    num_videos=max(1, num_synthetic // 50),
                                    max_frames=max_frames, loaded=(model, codec, config, step))
    dataset = dataset or config.dataset
    data_dir = data_dir if data_dir is not None else config.data_dir
    output_dir = output_dir or os.path.join(run_dir, "eval")
    results = {}
    if data_dir is None:
        # Seeds far from training (seed) and validation (seed + 1000) faces.
        source = data_lib.SynthFaceSource(config.input_size, seed=config.seed + 2_000,
                                          num_samples=num_synthetic)
        images, landmarks = source.arrays()
        errors, report, _ = evaluate_detector(model, codec, images, landmarks, "300w")
        results["synthface"] = (errors, report["full"])
        title = (f"{config.model} step {step} on {num_synthetic} SynthFace test faces "
                 f"(synthetic), decode={codec.decode_method}")
    else:
        data_lib.check_data_dir(dataset, data_dir)
        if dataset not in PROTOCOLS:
            raise ValueError(f"No image protocol for this dataset. Received: dataset={dataset!r}")
        scheme = sources.SCHEMES[dataset]
        for name, split in PROTOCOLS[dataset]:
            source = data_lib.SampleSource(sources.read_split(dataset, data_dir, split),
                                           config.input_size, scheme)
            images, landmarks = source.arrays()
            # AFLW: the dataset's face-box sizes (an error if the reader had none).
            errors, report, _ = evaluate_detector(model, codec, images, landmarks, scheme,
                                                  normalizer=box_normalizers(source, scheme))
            results[name] = (errors, report["full"])
        title = (f"{config.model} step {step} on {dataset} ({data_dir}), "
                 f"decode={codec.decode_method}")
    paths = write_report(results, output_dir, title)
    return {"subsets": {name: row for name, (_, row) in results.items()}, "paths": paths,
            "step": step, "decode": codec.decode_method}


VIDEO_CROPS = ("tracking", "gt_crop")
# What each video protocol is, for report titles and tables.
VIDEO_CROP_LABELS = {
    "tracking": "tracking protocol (headline): frame t cropped around the prediction for frame "
                "t-1, frame 0 around its ground truth; a lost face restarts from the ground truth",
    "gt_crop": "per-frame ground-truth crop: every frame cropped around its own ground truth",
}


def _crop_frames(frames, landmarks, input_size):
    """Per-frame crops around the ground-truth landmarks: (T, F, F, 3) uint8, (T, N, 2)."""
    from zoo.data.tfrecord import crop_face

    crops = [crop_face(frame, points, size=input_size) for frame, points in zip(frames, landmarks)]
    return (np.stack([crop for crop, _, _ in crops]),
            np.stack([points for _, points, _ in crops]).astype(np.float32))


def _compiled_step(stream):
    import tensorflow as tf

    step = getattr(stream, "_compiled_step", None)
    if step is None:
        # One traced graph per stream instead of an eager Keras call per frame.
        step = tf.function(lambda inputs: stream.step_model(inputs, training=False))
        stream._compiled_step = step
    return step


def track_video(stream, frames):
    """Runs a streaming tracker over one video's face crops, state reset first.

    Args:
        stream: ``zoo.streaming(tracker)``.
        frames: ``(T, F, F, 3)`` crops in [0, 255] (uint8 or float).

    Returns:
        float32 numpy ``(T, N, 2)`` landmarks in crop pixels.

    Example:
        >>> import zoo, zoo.evaluation
        >>> from zoo.models import presets
        >>> tiny = presets.get_architecture("aheat1d_tracker").tiny_config
        >>> tracker = zoo.create("aheat1d_tracker_mobile_300vw", **tiny)
        >>> crops = np.zeros((3, 32, 32, 3), np.uint8)
        >>> zoo.evaluation.track_video(zoo.streaming(tracker), crops).shape
        (3, 68, 2)
    """
    import tensorflow as tf

    step = _compiled_step(stream)
    state = {name: tf.constant(value) for name, value in stream.initial_state(1).items()}
    predictions = []
    for frame in frames:
        outputs = step({"frame": tf.constant(np.asarray(frame, np.float32)[None]), **state})
        state = {name: outputs[name] for name in stream.state_shapes}
        predictions.append(outputs["landmarks"].numpy()[0])
    return np.stack(predictions).astype(np.float32)


def _box(points):
    return np.concatenate([points.min(0), points.max(0)]).astype(np.float64)


def _side(box):
    return max(box[2] - box[0], box[3] - box[1])


def track_clips(stream, videos, input_size, crop="tracking", margin=0.25):
    """Tracks videos of one length together (batch = videos), cropping as ``crop`` says.

    ``crop="tracking"`` is the protocol the tracker is meant for, as ``python -m zoo.track``
    runs it: frame 0 is cropped around its ground truth (a perfect face detector), every later
    frame around the tracker's own prediction for the frame before (landmark box + ``margin``).
    A face is lost, as in ``zoo.track``, when its prediction leaves the crop, is not finite or
    its box shrinks or grows by 2x in one frame; it then restarts (state zeroed) from the ground
    truth of the next frame, and the restarts are counted. ``crop="gt_crop"`` crops every frame
    around its own ground truth (the image protocols' crop; localisation with temporal context,
    no tracking).

    Args:
        stream: ``zoo.streaming(tracker)``.
        videos: list of ``(frames (T, H, W, 3) uint8, landmarks (T, N, 2))`` in image pixels,
            all of the same T (frame sizes may differ between videos).
        input_size: crop size F.
        crop: ``"tracking"`` or ``"gt_crop"``.
        margin: crop side = ``(1 + margin) * max(box width, height)``.

    Returns:
        ``(predictions float32 (B, T, N, 2) in image pixels, restarts int)``.

    Example:
        >>> import zoo.data.readers, zoo.evaluation, zoo.inference
        >>> stream, info = zoo.inference.load_tracker("aheat1d_mobile_300w")  # shipped weights
        >>> video = fixtures_dir / "300vw" / "401"  # two consecutive 300-VW frames
        >>> frames = np.stack([zoo.data.readers.load_image(video / "imgs" / f"{n:06d}.jpg")
        ...                    for n in (731, 732)])
        >>> points = np.stack([zoo.data.readers.read_pts(video / "annot" / f"{n:06d}.pts")
        ...                    for n in (731, 732)])
        >>> predictions, restarts = zoo.evaluation.track_clips(stream, [(frames, points)],
        ...                                                    info["input_size"])
        >>> predictions.shape, restarts
        ((1, 2, 68, 2), 0)
    """
    import tensorflow as tf

    from zoo import faces
    from zoo.data.tfrecord import crop_face

    if crop not in VIDEO_CROPS:
        raise ValueError(f"Unknown video crop. Allowed: {list(VIDEO_CROPS)}. Received: "
                         f"crop={crop!r}")
    truth = [np.asarray(landmarks, np.float64) for _, landmarks in videos]
    lengths = sorted({len(points) for points in truth})
    if len(lengths) != 1 or lengths[0] < 1:
        raise ValueError(f"track_clips needs videos of one length >= 1. Received: "
                         f"lengths={lengths}")
    count, length = len(videos), lengths[0]
    step = _compiled_step(stream)
    state = stream.initial_state(count)
    boxes = [_box(points[0]) for points in truth]
    predictions = np.zeros((count, length) + truth[0].shape[1:], np.float32)
    restarts = 0
    for t in range(length):
        crops, matrices = [], []
        for b, (frames, _) in enumerate(videos):
            box = _box(truth[b][t]) if crop == "gt_crop" else boxes[b]
            image, _, matrix = crop_face(np.asarray(frames[t]), truth[b][t], box=box,
                                         size=input_size, margin=margin)
            crops.append(image)
            matrices.append(matrix)
        inputs = {"frame": tf.constant(np.stack(crops).astype(np.float32)),
                  **{name: tf.constant(value) for name, value in state.items()}}
        outputs = step(inputs)
        state = {name: outputs[name].numpy() for name in stream.state_shapes}
        points = outputs["landmarks"].numpy()
        for b in range(count):
            image_points = faces.to_image_coordinates(points[b], matrices[b])
            predictions[b, t] = image_points
            if crop != "tracking" or t + 1 == length:
                continue
            new_box = _box(image_points)
            in_crop = np.all((points[b] >= -0.5) & (points[b] <= input_size - 0.5))
            lost = (not np.all(np.isfinite(image_points)) or not in_crop
                    or not 0.5 < _side(new_box) / max(_side(boxes[b]), 1e-6) < 2.0)
            if lost:  # restart from the ground truth, as zoo.track re-detects
                restarts += 1
                boxes[b] = _box(truth[b][t + 1])
                for name in state:
                    state[name][b] = 0.0
            else:
                boxes[b] = new_box
    return predictions, restarts


def evaluate_videos(stream, videos, scheme, input_size, select=None, crop="tracking",
                    batch_size=32):
    """Tracks every video (state reset for each) and scores every frame.

    Args:
        stream: ``zoo.streaming(tracker)``.
        videos: iterable of ``(frames (T, H, W, 3) uint8, landmarks (T, 68, 2))`` in image
            pixels (one entry per video).
        scheme: scheme the errors are computed in (``"300w"``, ``"shared7"``).
        input_size: crop size F.
        select: optional ``fn(predicted, truth) -> (predicted', truth')`` applied to the
            ``(frames, 68, 2)`` arrays before scoring (e.g. the 7 shared points).
        crop: ``"tracking"`` (headline protocol) or ``"gt_crop"`` (see :func:`track_clips`).
        batch_size: consecutive videos of one length tracked together (short clips).

    Returns:
        ``(errors (frames,), report row dict, num_videos, restarts)``; ``(None, None, 0, 0)``
        when there is no video. Errors are scored in image pixels (NME does not depend on it);
        the row also holds ``jitter`` (``zoo.track.jitter``: the frame-to-frame motion the
        face did not make, over the normaliser) when the videos have two frames or more.

    Example:
        >>> import zoo.data.readers, zoo.evaluation, zoo.inference
        >>> stream, info = zoo.inference.load_tracker("aheat1d_mobile_300w")  # shipped weights
        >>> video = fixtures_dir / "300vw" / "401"  # two consecutive 300-VW frames
        >>> frames = np.stack([zoo.data.readers.load_image(video / "imgs" / f"{n:06d}.jpg")
        ...                    for n in (731, 732)])
        >>> points = np.stack([zoo.data.readers.read_pts(video / "annot" / f"{n:06d}.pts")
        ...                    for n in (731, 732)])
        >>> errors, row, count, restarts = zoo.evaluation.evaluate_videos(
        ...     stream, [(frames, points)], "300w", info["input_size"])
        >>> errors.shape, count, restarts, round(row["nme"], 2)
        ((2,), 1, 0, 0.08)
    """
    import zoo.metrics
    import zoo.track

    predicted, truth, state = [], [], {"count": 0, "restarts": 0}
    batch, jitters = [], []

    def flush():
        if not batch:
            return
        points, restarts = track_clips(stream, batch, input_size, crop=crop)
        marks = np.stack([np.asarray(l, np.float32) for _, l in batch])
        flat_points = points.reshape((-1,) + points.shape[2:])
        flat_marks = marks.reshape((-1,) + marks.shape[2:])
        predicted.extend(flat_points)
        truth.extend(flat_marks)
        if marks.shape[1] > 1:  # jitter on the scored points, per frame's normaliser
            if select is not None:
                flat_points, flat_marks = select(flat_points, flat_marks)
            shape = marks.shape[:2] + flat_marks.shape[1:]
            distance = zoo.metrics.normalizing_distance(flat_marks, scheme)
            jitters.append((zoo.track.jitter(flat_points.reshape(shape), flat_marks.reshape(shape),
                                             distance.reshape(marks.shape[:2])),
                            marks.shape[0] * (marks.shape[1] - 1)))
        state["count"] += len(batch)
        state["restarts"] += restarts
        batch.clear()

    for frames, landmarks in videos:
        if batch and (len(landmarks) != len(batch[0][1]) or len(batch) >= batch_size):
            flush()
        batch.append((frames, landmarks))
    flush()
    if not state["count"]:
        return None, None, 0, 0
    predicted, truth = np.stack(predicted), np.stack(truth)
    if select is not None:
        predicted, truth = select(predicted, truth)
    errors = zoo.metrics.nme(predicted, truth, scheme=scheme)
    row = zoo.metrics.report(predicted, truth, scheme, verbose=False)["full"]
    # zoo.track.jitter over all frame steps of all videos (NaN for single frames).
    row["jitter"] = float(sum(value * steps for value, steps in jitters)
                          / sum(steps for _, steps in jitters)) if jitters else float("nan")
    return errors, row, state["count"], state["restarts"]


def _300vw_videos(root, category, max_frames=None):
    """Yields ``(frames, landmarks)`` per video of a 300-VW category (broken frames skipped)."""
    import os as _os

    from zoo.data.readers import vw300
    from zoo.data.readers.common import load_sample_image

    broken = _os.path.join(root, "broken_frames.json")
    broken = vw300.load_broken_frames(broken) if _os.path.isfile(broken) else None
    for video in vw300.list_videos(root, category):
        frames, landmarks = [], []
        for sample in vw300.iter_300vw_video(_os.path.join(root, video), broken):
            frames.append(load_sample_image(sample))
            landmarks.append(sample.landmarks)
            if max_frames and len(frames) >= max_frames:
                break
        if frames:
            yield frames, np.stack(landmarks)


def _talking_face_video(root, max_frames=None):
    from zoo.data.readers import read_talking_face
    from zoo.data.readers.common import load_sample_image

    samples, report = read_talking_face(root)
    print(f"talking face: {report.summary()}")
    samples = samples[:max_frames] if max_frames else samples
    if samples:
        yield [load_sample_image(s) for s in samples], np.stack([s.landmarks for s in samples])


def _shared7(truth_scheme):
    from zoo.data.readers.talking_face import to_common_7

    def select(predicted, truth):
        # The tracker predicts the iBUG 68 markup; the truth is in ``truth_scheme``.
        return to_common_7(predicted, "ibug"), to_common_7(truth, truth_scheme)

    return select


def evaluate_tracker_run(run_dir, output_dir=None, data_dir=None, talking_face_dir=None,
                         num_videos=4, video_length=50, max_frames=None, loaded=None,
                         decode=None):
    """Evaluates a tracker run on the video protocols and writes the report.

    Protocols: 300-VW S1 / S2 / S3 (68 points, inter-ocular NME over all frames of each
    category; the videos under ``data_dir``) and Talking Face (the 7 shared points, all 5000
    frames; ``talking_face_dir``). With neither, ``num_videos`` held-out SynthFace videos of
    ``video_length`` frames (68 points and the 7 shared points) are tracked instead and the
    title says so.

    Args:
        run_dir: tracker training run folder.
        output_dir: report folder (default ``run_dir/eval``).
        data_dir: 300-VW root (default: the run's ``data_dir``); for a run trained on 300-W
            motion clips (``dataset="300w"``), the 300-W root whose test faces (``"common"``)
            become the fixed evaluation clips (``zoo.data.motion_clips.evaluation_clips``).
        talking_face_dir: Talking Face root, or None.
        num_videos: SynthFace videos when there is no data.
        video_length: frames per SynthFace video.
        max_frames: at most this many frames per video (None: all; motion clips: their
            length, default 40).
        loaded: ``load_run(run_dir)`` if already done.
        decode: decode method (see :func:`load_run`) when ``loaded`` is None; None: the run's.

    Returns:
        ``{"subsets": {name: report row}, "paths": {...}, "step": int, "videos": {name: n}}``.

    Example:
        >>> import zoo.evaluation
        >>> # needs a trained tracker run folder and the Talking Face video (a real dataset)
        >>> report = zoo.evaluation.evaluate_tracker_run(  # doctest: +SKIP
        ...     "runs/aheat1d_tracker_300vw", talking_face_dir="/data/talking_face")
    """
    import zoo
    import zoo.codecs
    from zoo.data.synthface import SynthFace
    from zoo.training import data as data_lib

    model, codec, config, step = loaded or load_run(run_dir, decode=decode)
    stream = zoo.streaming(model, codec=zoo.codecs.serialize(codec))
    data_dir = data_dir if data_dir is not None else config.data_dir
    output_dir = output_dir or os.path.join(run_dir, "eval")
    results, counts, gt_results, restarts = {}, {}, {}, {}

    def add(name, make_videos, scheme, select=None):
        # Both crop protocols: tracking (the headline) and the per-frame ground-truth crop.
        errors, row, count, lost = evaluate_videos(stream, make_videos(), scheme,
                                                   config.input_size, select, crop="tracking")
        if not count:
            print(f"{name}: no video found, left out of the report")
            return
        results[name], counts[name], restarts[name] = (errors, row), count, lost
        gt_errors, gt_row, _, _ = evaluate_videos(stream, make_videos(), scheme,
                                                  config.input_size, select, crop="gt_crop")
        gt_results[name] = (gt_errors, gt_row)

    if data_dir is None and talking_face_dir is None:
        generator = SynthFace(image_size=config.input_size, seed=config.seed + 2_000)
        videos = [generator.video(video_length, seed=index)[:2] for index in range(num_videos)]
        add("synthface_video", lambda: videos, "300w")
        add("synthface_video_shared7", lambda: videos, "shared7", _shared7("ibug"))
        title = (f"{config.model} step {step} on {num_videos} SynthFace test videos of "
                 f"{video_length} frames (synthetic)")
    elif config.dataset == "300w" and data_dir is not None:
        # Trained on 300-W faces under synthetic motion: the fixed evaluation clips of the
        # test faces (read_300w "common"; here its HELEN half), made the same way.
        from zoo.data import motion_clips

        data_lib.check_data_dir("300w", data_dir)
        clips = motion_clips.evaluation_clips(data_dir, config.input_size,
                                              clip_length=max_frames
                                              or motion_clips.EVALUATION_CLIP_LENGTH)
        add("common_motion", lambda: (clips.clip(i) for i in range(len(clips))), "300w")
        title = (f"{config.model} step {step} on {len(clips)} motion clips of "
                 f"{clips.clip_length} frames of the 300-W common test faces ({data_dir}, "
                 f"seed {clips.seed})")
    else:
        sources = []
        if data_dir is not None:
            data_lib.check_data_dir("300vw", data_dir)
            for category in VIDEO_PROTOCOLS["300vw"]:
                add(category, lambda category=category: _300vw_videos(data_dir, category,
                                                                      max_frames), "300w")
            sources.append(f"300vw ({data_dir})")
        if talking_face_dir is not None:
            add("talking_face", lambda: _talking_face_video(talking_face_dir, max_frames),
                "shared7", _shared7("talking_face"))
            sources.append(f"Talking Face 7 points ({talking_face_dir})")
        if not results:
            raise ValueError("No test video was found in the given folders. Received: "
                             f"data_dir={data_dir}, talking_face_dir={talking_face_dir}")
        title = f"{config.model} step {step} tracked on " + ", ".join(sources)
    title += "; " + VIDEO_CROP_LABELS["tracking"]
    gt_table = {name: row for name, (_, row) in gt_results.items()}
    paths = write_report(results, output_dir, title, extra={
        "text": protocol_table({name: row for name, (_, row) in results.items()}, gt_table,
                               restarts),
        "json": {"crop": "tracking", "crops": dict(VIDEO_CROP_LABELS), "gt_crop": gt_table,
                 "restarts": restarts}})
    return {"subsets": {name: row for name, (_, row) in results.items()}, "paths": paths,
            "step": step, "videos": counts, "gt_crop": gt_table, "restarts": restarts}


def protocol_table(tracking, gt_crop, restarts=None):
    """Text table: the tracking protocol (headline) beside the per-frame GT crop, NME and jitter.

    Args:
        tracking: ``{subset: report row}`` of the tracking protocol.
        gt_crop: ``{subset: report row}`` of the per-frame ground-truth crop.
        restarts: optional ``{subset: restarts of lost faces}`` (tracking protocol).

    Returns:
        str.

    Example:
        >>> import zoo.evaluation
        >>> row = {"count": 10, "nme": 0.05, "fr@0.1": 0.1, "jitter": 0.01}
        >>> print(zoo.evaluation.protocol_table({"S1": row}, {"S1": dict(row, nme=0.04)}))
        ... # doctest: +NORMALIZE_WHITESPACE
        subset frames NME tracking % NME per-frame GT crop % jitter tracking %
            jitter per-frame GT crop % FR@10% tracking % restarts
        S1 10 5.00 4.00 1.00 1.00 10.00 -
    """
    restarts = restarts or {}

    def percent(row, key):
        return "-" if row is None or key not in row else f"{100 * row[key]:.2f}"

    headers = ["subset", "frames", "NME tracking %", "NME per-frame GT crop %",
               "jitter tracking %", "jitter per-frame GT crop %", "FR@10% tracking %",
               "restarts"]
    rows = []
    for name, row in tracking.items():
        other = gt_crop.get(name)
        rows.append([name, str(row["count"]), percent(row, "nme"), percent(other, "nme"),
                     percent(row, "jitter"), percent(other, "jitter"), percent(row, "fr@0.1"),
                     str(restarts[name]) if name in restarts else "-"])
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(cells, widths)))
                     for cells in [headers] + rows)
