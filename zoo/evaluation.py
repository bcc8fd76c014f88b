"""Paper-style evaluation report of a trained run: NME per subset, FR, AUC, per-area NME, CED PNG.

The protocols (paper Sec. 4): 300W common / challenging / full (inter-ocular NME); AFLW full /
frontal (face-size NME); WFLW test and its six attribute subsets; COFW test. With no data
folder the run is evaluated on held-out SynthFace faces (and the report says so).

Trackers (paper Sec. 5) are evaluated on videos: the streaming step model
(``zoo.streaming``) runs frame by frame over each test video with its state reset at the
start of every video; NME per frame (inter-ocular, 68 points) over the 300-VW categories S1,
S2, S3, and over the 7 landmarks Talking Face shares with the 300-W markup
(``shared7`` scheme, ``zoo.data.readers.talking_face.to_common_7``). Each frame is cropped
around its ground-truth landmarks (as the image protocols crop test faces), so the score
measures landmark localisation with temporal context, not face re-detection. With no data
the run is evaluated on held-out SynthFace videos (all 68 points, and the same 7 points).

Example:
    >>> import zoo.evaluation
    >>> # report = zoo.evaluation.evaluate_run("demo_out/run", output_dir="demo_out/eval")
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


def load_run(run_dir):
    """Rebuilds the model of a training run folder and loads its latest checkpoint.

    Args:
        run_dir: the ``output_dir`` of a training run (holds ``config.json`` and checkpoints).

    Returns:
        ``(model, codec, config, step)``.

    Example:
        >>> import zoo.evaluation
        >>> # model, codec, config, step = zoo.evaluation.load_run("runs/aheat1d_300w")
    """
    import zoo
    from zoo.training import config as config_lib
    from zoo.training import loop, tasks

    config = config_lib.load_config(run_dir)
    if tasks.is_tracker(config.model):
        config, codec, overrides = tasks.resolve_tracker(config)
    else:
        config, codec, overrides = tasks.resolve_model(config)
    model = zoo.create(config.model, **overrides)
    step = loop.restore_model(model, run_dir)
    return model, codec, config, step


def evaluate_detector(model, codec, images, landmarks, scheme, subsets=None, boxes=None):
    """Predicts, decodes and scores a set of face crops.

    Args:
        model: a training model (stacked dict outputs; the last stack is scored).
        codec: its codec.
        images: ``(B, F, F, 3)`` crops in [0, 255].
        landmarks: ``(B, N, 2)`` ground truth in crop pixels.
        scheme: landmark scheme name (normaliser and areas).
        subsets: optional ``zoo.metrics.report`` subsets.
        boxes: optional ``(B, 4)`` boxes (box normalisers).

    Returns:
        ``(errors (B,), report dict, predictions (B, N, 2))``.

    Example:
        >>> import zoo.evaluation
        >>> # errors, report, predictions = zoo.evaluation.evaluate_detector(model, codec, x, y, "300w")
    """
    import zoo.metrics
    from zoo.training.tasks import predict_landmarks

    predictions = predict_landmarks(model, codec, images)
    errors = zoo.metrics.nme(predictions, landmarks, scheme=scheme, boxes=boxes)
    report = zoo.metrics.report(predictions, landmarks, scheme, subsets=subsets, boxes=boxes,
                                verbose=False)
    return errors, report, predictions


def write_report(results, output_dir, title):
    """Writes ``report.txt``, ``report.json`` and ``ced.png`` for ``{subset: (errors, row)}``.

    Args:
        results: dict ``name -> (errors (B,), report row dict)``.
        output_dir: folder to write to.
        title: heading (model, dataset, step).

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
    paths = {"text": os.path.join(output_dir, "report.txt"),
             "json": os.path.join(output_dir, "report.json"),
             "ced": os.path.join(output_dir, "ced.png")}
    with open(paths["text"], "w", encoding="utf-8") as handle:
        handle.write(text)
    with open(paths["json"], "w", encoding="utf-8") as handle:
        json.dump({"title": title, "subsets": table}, handle, indent=2)
    zoo.metrics.plot_ced({name: errors for name, (errors, _) in results.items()}, paths["ced"],
                         title=title)
    print(text)
    return paths


def evaluate_run(run_dir, output_dir=None, data_dir=None, dataset=None, num_synthetic=200,
                 talking_face_dir=None, max_frames=None):
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

    Returns:
        ``{"subsets": {name: report row}, "paths": {...}, "step": int}``.

    Example:
        >>> import zoo.evaluation
        >>> # zoo.evaluation.evaluate_run("demo_out/run")
    """
    from zoo.training import data as data_lib
    from zoo.training import tasks

    model, codec, config, step = load_run(run_dir)
    if tasks.is_tracker(config.model):
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
        title = f"{config.model} step {step} on {num_synthetic} SynthFace test faces (synthetic)"
    else:
        data_lib.check_data_dir(dataset, data_dir)
        if dataset not in PROTOCOLS:
            raise ValueError(f"No image protocol for this dataset. Received: dataset={dataset!r}")
        scheme = tasks.SCHEMES[dataset]
        for name, split in PROTOCOLS[dataset]:
            source = data_lib.SampleSource(tasks._read_split(dataset, data_dir, split),
                                           config.input_size, scheme)
            images, landmarks = source.arrays()
            errors, report, _ = evaluate_detector(model, codec, images, landmarks, scheme)
            results[name] = (errors, report["full"])
        title = f"{config.model} step {step} on {dataset} ({data_dir})"
    paths = write_report(results, output_dir, title)
    return {"subsets": {name: row for name, (_, row) in results.items()}, "paths": paths,
            "step": step}


def _crop_frames(frames, landmarks, input_size):
    """Per-frame crops around the ground-truth landmarks: (T, F, F, 3) uint8, (T, N, 2)."""
    from zoo.data.tfrecord import crop_face

    crops = [crop_face(frame, points, size=input_size) for frame, points in zip(frames, landmarks)]
    return (np.stack([crop for crop, _, _ in crops]),
            np.stack([points for _, points, _ in crops]).astype(np.float32))


def track_video(stream, frames):
    """Runs a streaming tracker over one video's face crops, state reset first.

    Args:
        stream: ``zoo.streaming(tracker)``.
        frames: ``(T, F, F, 3)`` crops in [0, 255] (uint8 or float).

    Returns:
        float32 numpy ``(T, N, 2)`` landmarks in crop pixels.

    Example:
        >>> import zoo.evaluation
        >>> # landmarks = zoo.evaluation.track_video(zoo.streaming(tracker), crops)
    """
    import tensorflow as tf

    step = getattr(stream, "_compiled_step", None)
    if step is None:
        # One traced graph per stream instead of an eager Keras call per frame.
        step = tf.function(lambda inputs: stream.step_model(inputs, training=False))
        stream._compiled_step = step
    state = {name: tf.constant(value) for name, value in stream.initial_state(1).items()}
    predictions = []
    for frame in frames:
        outputs = step({"frame": tf.constant(np.asarray(frame, np.float32)[None]), **state})
        state = {name: outputs[name] for name in stream.state_shapes}
        predictions.append(outputs["landmarks"].numpy()[0])
    return np.stack(predictions).astype(np.float32)


def evaluate_videos(stream, videos, scheme, input_size, select=None):
    """Tracks every video and scores every frame.

    Args:
        stream: ``zoo.streaming(tracker)``.
        videos: iterable of ``(frames (T, H, W, 3) uint8, landmarks (T, 68, 2))`` in image
            pixels (one entry per video; the state is reset for each).
        scheme: scheme the errors are computed in (``"300w"``, ``"shared7"``).
        input_size: crop size F.
        select: optional ``fn(predicted, truth) -> (predicted', truth')`` applied to the
            ``(T, 68, 2)`` arrays before scoring (e.g. the 7 shared points).

    Returns:
        ``(errors (frames,), report row dict, num_videos)``; ``(None, None, 0)`` when there
        is no video.

    Example:
        >>> import zoo.evaluation
        >>> # errors, row, count = zoo.evaluation.evaluate_videos(stream, videos, "300w", 256)
    """
    import zoo.metrics

    predicted, truth, count = [], [], 0
    for frames, landmarks in videos:
        crops, points = _crop_frames(frames, landmarks, input_size)
        predicted.append(track_video(stream, crops))
        truth.append(points)
        count += 1
    if not count:
        return None, None, 0
    predicted, truth = np.concatenate(predicted), np.concatenate(truth)
    if select is not None:
        predicted, truth = select(predicted, truth)
    errors = zoo.metrics.nme(predicted, truth, scheme=scheme)
    row = zoo.metrics.report(predicted, truth, scheme, verbose=False)["full"]
    return errors, row, count


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
                         num_videos=4, video_length=50, max_frames=None, loaded=None):
    """Evaluates a tracker run on the video protocols and writes the report.

    Protocols: 300-VW S1 / S2 / S3 (68 points, inter-ocular NME over all frames of each
    category; the videos under ``data_dir``) and Talking Face (the 7 shared points, all 5000
    frames; ``talking_face_dir``). With neither, ``num_videos`` held-out SynthFace videos of
    ``video_length`` frames (68 points and the 7 shared points) are tracked instead and the
    title says so.

    Args:
        run_dir: tracker training run folder.
        output_dir: report folder (default ``run_dir/eval``).
        data_dir: 300-VW root (default: the run's ``data_dir``).
        talking_face_dir: Talking Face root, or None.
        num_videos: SynthFace videos when there is no data.
        video_length: frames per SynthFace video.
        max_frames: at most this many frames per video (None: all).
        loaded: ``load_run(run_dir)`` if already done.

    Returns:
        ``{"subsets": {name: report row}, "paths": {...}, "step": int, "videos": {name: n}}``.

    Example:
        >>> import zoo.evaluation
        >>> # zoo.evaluation.evaluate_tracker_run("runs/aheat1d_tracker_300vw",
        >>> #                                     talking_face_dir="/data/talking_face")
    """
    import zoo
    import zoo.codecs
    from zoo.data.synthface import SynthFace
    from zoo.training import data as data_lib

    model, codec, config, step = loaded or load_run(run_dir)
    stream = zoo.streaming(model, codec=zoo.codecs.serialize(codec))
    data_dir = data_dir if data_dir is not None else config.data_dir
    output_dir = output_dir or os.path.join(run_dir, "eval")
    results, counts = {}, {}

    def add(name, videos, scheme, select=None):
        errors, row, count = evaluate_videos(stream, videos, scheme, config.input_size, select)
        if count:
            results[name], counts[name] = (errors, row), count
        else:
            print(f"{name}: no video found, left out of the report")

    if data_dir is None and talking_face_dir is None:
        generator = SynthFace(image_size=config.input_size, seed=config.seed + 2_000)
        videos = [generator.video(video_length, seed=index)[:2] for index in range(num_videos)]
        add("synthface_video", videos, "300w")
        add("synthface_video_shared7", videos, "shared7", _shared7("ibug"))
        title = (f"{config.model} step {step} on {num_videos} SynthFace test videos of "
                 f"{video_length} frames (synthetic)")
    else:
        sources = []
        if data_dir is not None:
            data_lib.check_data_dir("300vw", data_dir)
            for category in VIDEO_PROTOCOLS["300vw"]:
                add(category, _300vw_videos(data_dir, category, max_frames), "300w")
            sources.append(f"300vw ({data_dir})")
        if talking_face_dir is not None:
            add("talking_face", _talking_face_video(talking_face_dir, max_frames), "shared7",
                _shared7("talking_face"))
            sources.append(f"Talking Face 7 points ({talking_face_dir})")
        if not results:
            raise ValueError("No test video was found in the given folders. Received: "
                             f"data_dir={data_dir}, talking_face_dir={talking_face_dir}")
        title = f"{config.model} step {step} tracked on " + ", ".join(sources)
    paths = write_report(results, output_dir, title)
    return {"subsets": {name: row for name, (_, row) in results.items()}, "paths": paths,
            "step": step, "videos": counts}
