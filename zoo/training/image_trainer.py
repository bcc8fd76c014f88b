"""The trainer of image architectures (detectors: ``aheat1d``, ``fan2d``, ``hih``, ...) on faces.

Faces of a dataset folder or SynthFace, cropped and augmented by ``zoo.data.pipeline`` and
encoded by the model's codec; validation NME on held-out faces (AFLW: the dataset's face-box
normaliser); TensorBoard images of predicted landmarks.

Example (``zoo.training.tasks.train`` runs it for image presets):
    >>> from zoo.training.image_trainer import ImageTrainer
    >>> ImageTrainer().task, ImageTrainer().datasets
    ('image', ('synthface', '300w', 'aflw', 'wflw', 'cofw'))
"""
import weakref

import numpy as np

from zoo.training import data as data_lib
from zoo.training import sources
from zoo.training.drawing import draw_landmarks
from zoo.training.trainer import Trainer, init_weights


def last_stack(outputs):
    """``{"x": (B, S, N, L), ...}`` -> ``{"x": (B, N, L), ...}`` (the stack used for inference).

    Example:
        >>> from zoo.training.image_trainer import last_stack
        >>> last_stack({"x": np.zeros((2, 4, 5, 8))})["x"].shape
        (2, 5, 8)
    """
    return {key: value[:, -1] for key, value in outputs.items()}


_COMPILED = weakref.WeakKeyDictionary()


def compiled_call(model):
    """``model(x, training=False)`` as one ``tf.function`` per model (cached while the model
    lives): validation and evaluation run the graph instead of the layers op by op, several
    times faster on a CPU; the numbers are the same calls.

    Example:
        >>> import zoo
        >>> from zoo.models import presets
        >>> from zoo.training.image_trainer import compiled_call
        >>> model = zoo.create("fan2d_300w", **presets.get_architecture("fan2d").tiny_config)
        >>> compiled_call(model) is compiled_call(model)
        True
        >>> x = np.ones((2, 32, 32, 3), np.float32)
        >>> bool(np.allclose(compiled_call(model)(x)["heatmap"], model(x)["heatmap"], atol=1e-5))
        True
    """
    call = _COMPILED.get(model)
    if call is None:
        import tensorflow as tf

        call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        _COMPILED[model] = call
    return call


def predict_landmarks(model, codec, images, batch_size=16):
    """Runs ``model`` on uint8/float images and decodes the last stack to pixel landmarks.

    Args:
        model: a training model (stacked dict outputs).
        codec: its codec.
        images: ``(B, F, F, 3)`` in [0, 255].
        batch_size: inference batch.

    Returns:
        float32 numpy ``(B, N, 2)``.

    Example:
        >>> import zoo
        >>> from zoo.models import presets
        >>> from zoo.training.image_trainer import predict_landmarks
        >>> model = zoo.create("fan2d_300w", **presets.get_architecture("fan2d").tiny_config)
        >>> predict_landmarks(model, presets.model_codec(model), np.zeros((3, 32, 32, 3))).shape
        (3, 68, 2)
    """
    import keras

    call = compiled_call(model)
    results = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size], np.float32)
        outputs = call(batch)
        outputs = {k: keras.ops.cast(v, "float32") for k, v in outputs.items()}
        coords, _ = codec.decode(last_stack(outputs))
        results.append(keras.ops.convert_to_numpy(coords))
    return np.concatenate(results).astype(np.float32)


class ImageTrainer(Trainer):
    """Trains image architectures (task ``"image"``) on faces."""

    task = "image"
    datasets = ("synthface", "300w", "aflw", "wflw", "cofw")

    def check_data(self, config):
        self.check_dataset(config)
        if config.data_dir is not None:
            data_lib.check_data_dir(config.dataset, config.data_dir)
        else:
            print(data_lib.SYNTHETIC_BANNER.format(dataset=config.dataset))

    def prepare_model(self, model, config, chief):
        # Fine-tuning: start from trained weights (a run, a checkpoint, a .weights.h5 such as
        # a shipped preset's); a resumed run's own checkpoint is restored over them later.
        if config.init_checkpoint:
            loaded = init_weights(model, config.init_checkpoint)
            if chief:
                print(f"Model initialised from {loaded}.")
        return model

    def make_sources(self, config):
        if config.data_dir is None:
            # SynthFace draws 68-point (300W) faces: a model of another scheme cannot train
            # on them (validation would fail on the shapes); say so plainly.
            import zoo.schemes
            from zoo.models import presets

            preset = presets.get_preset(config.model)
            count = zoo.schemes.get_scheme(preset.scheme).num_landmarks
            if count != 68:
                raise ValueError(
                    f"SynthFace (no --data_dir) draws 68-point faces; {config.model!r} "
                    f"predicts {count} landmarks ({preset.scheme}), so it needs its dataset: "
                    f"pass --data_dir. Received: model={config.model!r}, "
                    f"dataset={config.dataset!r}, data_dir=None")
        return sources.make_sources(config)

    def make_dataset(self, source, codec, config, augment):
        return data_lib.training_dataset(source, codec, config.batch_size, seed=config.seed,
                                         augment=augment or False)

    def make_validation(self, val_source, codec, config):
        import zoo.metrics
        # AFLW is scored by the dataset's face-box size (None for inter-ocular schemes).
        from zoo.evaluation import box_normalizers

        scheme = getattr(val_source, "scheme", sources.SCHEMES[config.dataset])
        val_images, val_landmarks = val_source.arrays()
        normalizer = box_normalizers(val_source, scheme)

        def eval_fn(model):
            predicted = predict_landmarks(model, codec, val_images)
            errors = zoo.metrics.nme(predicted, val_landmarks, scheme=scheme,
                                     normalizer=normalizer)
            return {"nme": float(np.mean(errors)),
                    "failure_rate": float(zoo.metrics.failure_rate(errors, 0.1))}

        def image_fn(model):
            predicted = predict_landmarks(model, codec, val_images[:4])
            return draw_landmarks(val_images[:4], predicted, val_landmarks[:4])

        return eval_fn, image_fn

    def fold_units(self, train_source):
        return np.asarray, len(train_source)  # the folds split faces

    def describe(self, evaluation):
        return (f"step {evaluation['step']:6d}  val NME {100 * evaluation['nme']:.2f}%  "
                f"FR@10% {100 * evaluation['failure_rate']:.2f}%")
