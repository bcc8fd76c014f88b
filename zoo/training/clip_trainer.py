"""The trainer of clip architectures (trackers: a detector on every frame + temporal refinement).

Paper Sec. 5: the tracker is trained on clips of the 300-VW training videos with the Eq. 14
loss over all frames; its detector starts from the trained 300W detector
(:func:`init_detector`); lambda is chosen by 10-fold cross validation over *videos*. Clips are
cropped as the tracker crops (frame t around frame t-1's landmarks, drifted by
``config.crop_jitter``) with one augmentation per clip; validation reports the tracking
protocol (``nme``, ``restarts``) and the per-frame ground-truth crop (``nme_gt_crop``).

Example:
    >>> import zoo.training
    >>> from zoo.training.clip_trainer import ClipTrainer
    >>> ClipTrainer().datasets
    ('300vw', 'synthface', '300w')
"""
import os

import numpy as np

from zoo.training import data as data_lib
from zoo.training import sources
from zoo.training.drawing import draw_landmarks
from zoo.training.trainer import Trainer, init_weights


def _frames_first(outputs):
    """``{key: (B, T, ...)}`` -> ``{key: (B*T, ...)}`` (every frame decoded by the image codec)."""
    import keras

    return {key: keras.ops.reshape(keras.ops.cast(value, "float32"), (-1,) + tuple(value.shape[2:]))
            for key, value in outputs.items()}


def predict_clip_landmarks(model, codec, clips, batch_size=4):
    """Runs a tracker on whole clips and decodes every frame.

    Args:
        model: a tracker training model (``(B, T, F, F, 3)`` -> ``{key: (B, T, ...)}``).
        codec: its codec.
        clips: ``(C, T, F, F, 3)`` in [0, 255].
        batch_size: clips per call.

    Returns:
        float32 numpy ``(C, T, N, 2)``.

    Example:
        >>> import zoo
        >>> from zoo.models import presets
        >>> from zoo.training.clip_trainer import predict_clip_landmarks
        >>> tiny = presets.get_architecture("aheat1d_tracker").tiny_config
        >>> tracker = zoo.create("aheat1d_tracker_mobile_300vw", **tiny)
        >>> clips = np.zeros((1, 2, 32, 32, 3))
        >>> predict_clip_landmarks(tracker, presets.model_codec(tracker), clips).shape
        (1, 2, 68, 2)
    """
    import keras

    results = []
    for start in range(0, len(clips), batch_size):
        batch = np.asarray(clips[start:start + batch_size], np.float32)
        coords, _ = codec.decode(_frames_first(model(batch, training=False)))
        coords = keras.ops.convert_to_numpy(coords)
        results.append(coords.reshape(batch.shape[:2] + coords.shape[1:]))
    return np.concatenate(results).astype(np.float32)


def init_detector(tracker, init_checkpoint):
    """Loads a trained detector into the tracker's detector (shared with its frame layer).

    ``init_checkpoint`` takes the formats of :func:`zoo.training.trainer.init_weights`; the
    detector architecture must equal the tracker's (same preset and overrides); a mismatch
    raises naming both.

    Args:
        tracker: a model from ``zoo.create(<tracker preset>)``.
        init_checkpoint: a detector run folder, checkpoint prefix, ``.weights.h5`` or ``.keras``.

    Returns:
        The path that was loaded.

    Example:
        >>> import zoo
        >>> from zoo.models import presets
        >>> from zoo.training.clip_trainer import init_detector
        >>> tiny = presets.get_architecture("aheat1d_tracker").tiny_config
        >>> tracker = zoo.create("aheat1d_tracker_mobile_300vw", **tiny)
        >>> detector = zoo.create("aheat1d_mobile_300w",
        ...                       **presets.get_architecture("aheat1d").tiny_config)
        >>> detector.save_weights("detector.weights.h5")
        >>> init_detector(tracker, "detector.weights.h5")
        'detector.weights.h5'
    """
    from zoo.models.tracker import FRAME_DETECTOR_NAME

    detector = tracker.get_layer(FRAME_DETECTOR_NAME).detector
    return init_weights(detector, init_checkpoint, owner=f"the tracker's detector ({tracker.name}, "
                        f"input {detector.input_shape[1:]})")


class ClipTrainer(Trainer):
    """Trains clip architectures (task ``"clip"``) on clips, the Eq. 14 loss over the frames."""

    task = "clip"
    # "300w": no video; its faces under synthetic motion (zoo.data.motion_clips).
    datasets = ("300vw", "synthface", "300w")

    def check_data(self, config):
        if config.dataset not in self.datasets:
            raise ValueError(f"Trackers train on 300vw, on 300w faces as motion clips, or on "
                             f"SynthFace videos without data. Allowed: {list(self.datasets)}. "
                             f"Received: dataset={config.dataset!r}")
        if config.data_dir is not None:
            data_lib.check_data_dir("300w" if config.dataset == "300w" else "300vw",
                                    config.data_dir)
        else:
            print(data_lib.SYNTHETIC_VIDEO_BANNER.format(dataset=config.dataset))

    def check_run(self, run):
        if run.overrides.get("freeze_detector") and not run.config.init_checkpoint:
            print("WARNING: freeze_detector without --init_checkpoint keeps a randomly "
                  "initialised detector fixed; pass the 300W detector run with "
                  "--init_checkpoint.")

    def prepare_model(self, model, config, chief):
        if config.init_checkpoint:
            loaded = init_detector(model, config.init_checkpoint)
            if chief:
                print(f"Detector initialised from {loaded}.")
        return model

    def make_sources(self, config):
        return sources.make_clip_sources(config)

    def make_dataset(self, source, codec, config, augment):
        # Tracking crops (frame t around frame t-1's landmarks, drifted by crop_jitter), one
        # augmentation per clip on top.
        return data_lib.clip_training_dataset(source, codec, config.input_size,
                                              config.batch_size, seed=config.seed,
                                              augment=augment or False,
                                              crop_jitter=config.crop_jitter)

    def make_validation(self, val_source, codec, config):
        import zoo.metrics

        scheme = getattr(val_source, "scheme", "300w")
        val_clips, val_landmarks = data_lib.clip_arrays(val_source, config.input_size)
        flat_landmarks = val_landmarks.reshape((-1,) + val_landmarks.shape[2:])
        val_videos = sources.clip_videos(val_source)
        streams = {}

        def eval_fn(model):
            import zoo.codecs
            import zoo.evaluation

            # Headline: the tracking protocol (frame t cropped around the prediction for t-1,
            # frame 0 around its ground truth), as zoo.track runs the tracker.
            if id(model) not in streams:
                streams[id(model)] = zoo.streaming(model, codec=zoo.codecs.serialize(codec))
            errors, _, _, restarts = zoo.evaluation.evaluate_videos(
                streams[id(model)], val_videos(), scheme, config.input_size, crop="tracking")
            # Second column: every frame cropped around its own ground truth.
            predicted = predict_clip_landmarks(model, codec, val_clips)
            gt_errors = zoo.metrics.nme(predicted.reshape(flat_landmarks.shape), flat_landmarks,
                                        scheme=scheme)
            return {"nme": float(np.mean(errors)),
                    "failure_rate": float(zoo.metrics.failure_rate(errors, 0.1)),
                    "restarts": float(restarts),
                    "nme_gt_crop": float(np.mean(gt_errors))}

        def image_fn(model):
            clips = val_clips[:1]
            predicted = predict_clip_landmarks(model, codec, clips)[0]
            return draw_landmarks(clips[0], predicted, val_landmarks[0])

        return eval_fn, image_fn

    def fold_units(self, train_source):
        # The folds split *videos* of the 300-VW training set (clips of one video never fall
        # on both sides), the faces of 300-W motion clips (``videos``: every trajectory of a
        # face on one side), or SynthFace clips (each its own video).
        if hasattr(train_source, "videos"):
            videos = sorted(set(train_source.videos))
            clip_videos = np.array([videos.index(v) for v in train_source.videos])
            return (lambda units: np.flatnonzero(np.isin(clip_videos, units))), len(videos)
        return np.asarray, len(train_source)

    def describe(self, evaluation):
        return (f"step {evaluation['step']:6d}  val NME {100 * evaluation['nme']:.2f}% "
                f"(tracking crop)  FR@10% {100 * evaluation['failure_rate']:.2f}%  "
                f"restarts {int(evaluation['restarts'])}  NME per-frame GT crop "
                f"{100 * evaluation['nme_gt_crop']:.2f}%")
