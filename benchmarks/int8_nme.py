r"""NME of the LiteRT variants of a briefly trained mobile detector on held-out SynthFace faces.

An untrained model's NME says nothing, so this trains ``aheat1d_mobile_300w`` for a few hundred
steps on SynthFace (Eq. 11 loss, Adam), then exports float32, float16, dynamic-range int8 and
full-integer int8 LiteRT (full-int8 calibrated on SynthFace faces from another seed) and prints
their NME on a held-out SynthFace set (a third seed). Full int8 is exported twice: with the
heatmap decode kept in float32 inside the file (the default, ``int8``) and with every op
quantised (``int8_all_ops``), which shows what the int8 decode costs. Issue 7's bar: full-int8 loses at most
0.3 NME points against float32. The export itself enforces it (``max_nme_increase=0.003``).

    python benchmarks/int8_nme.py --seed=0 --steps=600 --num_train=1024 --num_eval=200 \
        --num_calibration=200
    python benchmarks/int8_nme.py --load=trained.keras   # an already trained detector
"""
import os
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

_PRESET = flags.DEFINE_string("preset", "aheat1d_mobile_300w", "Detector preset.")
_STEPS = flags.DEFINE_integer("steps", 400, "Training steps.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Training batch size.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 1024, "SynthFace training faces (seed 0).")
_NUM_CALIBRATION = flags.DEFINE_integer("num_calibration", 200, "Calibration faces (seed 1000).")
_NUM_EVAL = flags.DEFINE_integer("num_eval", 200, "Held-out faces (seed 2000).")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 2e-3, "Adam learning rate.")
_SAVE = flags.DEFINE_string("save", None, "Optional .keras path for the trained model.")
_LOAD = flags.DEFINE_string("load", None, "A trained .keras detector to use instead of training.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of weights init and shuffling (deterministic ops).")


def train(preset, steps, batch_size, num_train, learning_rate):
    """Trains the preset's training model on SynthFace; returns it."""
    import keras
    import tensorflow as tf

    import zoo
    import zoo.codecs
    import zoo.losses
    from zoo.export import sources

    keras.utils.set_random_seed(_SEED.value)
    tf.config.experimental.enable_op_determinism()
    model = zoo.create(preset)
    codec = zoo.codecs.get(zoo.get_preset(preset).codec)
    size = int(model.input_shape[1])
    images, landmarks = sources.synthface_set(size, num_train, seed=0)
    targets = [codec.encode(tf.constant(p)) for p in landmarks]
    targets = {k: np.stack([t[k].numpy() for t in targets]) for k in targets[0]}
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=zoo.losses.detector_losses(model))
    dataset = tf.data.Dataset.from_tensor_slices((images.astype("float32"), targets))
    dataset = dataset.shuffle(num_train, seed=0).repeat().batch(batch_size, drop_remainder=True)
    history = model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    print(f"trained {steps} steps: loss {history.history['loss'][-1]:.3f}", file=sys.stderr)
    return model


def main(argv):
    del argv
    import zoo.export
    from zoo.export import sources, signatures

    start = time.perf_counter()
    if _LOAD.value:
        import keras

        import zoo.layers  # noqa: F401  (registers the zoo's layers for loading)
        import zoo.losses  # noqa: F401
        trained = keras.saving.load_model(_LOAD.value)
    else:
        trained = train(_PRESET.value, _STEPS.value, _BATCH.value, _NUM_TRAIN.value,
                        _LEARNING_RATE.value)
    train_seconds = time.perf_counter() - start
    if _SAVE.value:
        trained.save(_SAVE.value)
    model, metadata = sources.exportable_model(trained)[0], None
    import zoo

    metadata = zoo.export.build_metadata(model, preset=zoo.get_preset(_PRESET.value),
                                         kind="detector", trained_steps=_STEPS.value)
    io = signatures.describe(model)
    eval_images, eval_landmarks = sources.synthface_set(io.image_size, _NUM_EVAL.value, seed=2000)
    keras_nme = zoo.export.normalized_mean_error(
        signatures.keras_reference(model, io, {"images": eval_images})["landmarks"],
        eval_landmarks)
    rows = [("keras", "-", keras_nme, 0.0, "-")]
    with tempfile.TemporaryDirectory() as directory:
        float32_nme = None
        # "int8" keeps the heatmap decode in float32 inside the file (mixed int8, the
        # default); "int8_all_ops" quantises the decode too (float_layers=()), for comparison.
        variants = [(q, q, None) for q in zoo.export.QUANTIZATIONS] + [("int8_all_ops", "int8", ())]
        for name, quantization, float_layers in variants:
            data = sources.quantization_data(model, metadata, quantization,
                                             _NUM_CALIBRATION.value, _NUM_EVAL.value)
            path = os.path.join(directory, f"{name}.tflite")
            try:
                extra = {} if float_layers is None else {"float_layers": float_layers}
                zoo.export.export_tflite(model, path, quantization=quantization,
                                         metadata=metadata, **data, **extra)
                status = "written"
            except zoo.export.ParityError as error:
                status = f"REFUSED: {error}"
                rows.append((name, "-", float("nan"), float("nan"), status))
                continue
            got = zoo.export.run_tflite(path, {"images": eval_images})["landmarks"]
            nme = zoo.export.normalized_mean_error(got, eval_landmarks)
            float32_nme = nme if quantization == "float32" else float32_nme
            delta = nme - float32_nme if float32_nme is not None else float("nan")
            rows.append((name, f"{os.path.getsize(path) / 1e6:.3f}", nme, delta, status))
    print(f"| {_PRESET.value} LiteRT | size MB | NME % (held-out SynthFace, "
          f"{_NUM_EVAL.value} faces) | change vs float32 (points) | export |")
    print("|---|---|---|---|---|")
    for name, size, nme, delta, status in rows:
        print(f"| {name} | {size} | {100 * nme:.3f} | {100 * delta:+.3f} | {status} |")
    if _LOAD.value:
        print(f"\nmodel loaded from {_LOAD.value}; calibration {_NUM_CALIBRATION.value} faces "
              f"(seed 1000), evaluation seed 2000")
        return
    print(f"\ntrained {_STEPS.value} steps x batch {_BATCH.value} on {_NUM_TRAIN.value} SynthFace "
          f"faces in {train_seconds:.0f} s; calibration {_NUM_CALIBRATION.value} faces "
          f"(seed 1000), evaluation seed 2000")


if __name__ == "__main__":
    app.run(main)
