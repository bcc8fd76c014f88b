"""The one test contract every public layer and model passes.

After KerasHub's ``TestCase.run_layer_test``: config JSON round trip, symbolic output shape equal
to ``compute_output_shape`` and to the eager output shape, ``fit`` steps that change every
trainable weight (each receives a gradient), and a ``.keras`` save/load that gives equal outputs.
"""
import json
import os
import tempfile

import keras
import numpy as np
from keras import ops


def _to_numpy(structure):
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), structure)


def _shape_of(structure):
    return keras.tree.map_structure(lambda t: tuple(t.shape), structure)


def _symbolic_inputs(input_data):
    if isinstance(input_data, dict):
        return {key: keras.Input(shape=np.asarray(value).shape[1:], batch_size=None,
                                 dtype=str(np.asarray(value).dtype), name=key)
                for key, value in input_data.items()}

    def make(array):
        array = np.asarray(array)
        return keras.Input(shape=array.shape[1:], batch_size=None, dtype=str(array.dtype))

    return keras.tree.map_structure(make, input_data)


def _assert_shapes_match(symbolic, concrete, batch):
    sym = [tuple(t.shape) for t in keras.tree.flatten(symbolic)]
    con = [tuple(t.shape) for t in keras.tree.flatten(concrete)]
    assert len(sym) == len(con)
    for s, c in zip(sym, con):
        assert len(s) == len(c), (s, c)
        assert s[0] in (None, batch), (s, c)
        assert tuple(s[1:]) == tuple(c[1:]), f"symbolic {s} != eager {c}"


def _assert_allclose(a, b, atol):
    for x, y in zip(keras.tree.flatten(_to_numpy(a)), keras.tree.flatten(_to_numpy(b))):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def _fit_one_step(model, input_data, outputs, loss=None, targets=None):
    if targets is None:
        targets = keras.tree.map_structure(
            lambda t: np.random.default_rng(0).normal(size=t.shape).astype("float32"), outputs
        )
    # No XLA: compiling doubles the first step on CPU, and every contract test pays it.
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss or "mse", jit_compile=False)
    before = [np.array(w) for w in _to_numpy(model.trainable_weights)]
    # Two steps: a layer initialised to zero (the trackers' CNN_4 output kernel) passes no
    # gradient to the layers before it until its own first update.
    history = model.fit(input_data, targets, batch_size=len(keras.tree.flatten(input_data)[0]),
                        epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = [np.array(w) for w in _to_numpy(model.trainable_weights)]
    # Every trainable weight must receive a gradient: each Adam step moves every entry with a
    # non-zero gradient by about the learning rate, so a weight left exactly as it was got none
    # (a cut gradient, an unused branch). Checking that *any* weight moved would miss it.
    unchanged = [w.path for w, b, a in zip(model.trainable_weights, before, after)
                 if np.array_equal(b, a)]
    assert not unchanged, f"two fit steps left these trainable weights unchanged: {unchanged}"


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape=None,
                   run_training=True, atol=1e-6):
    """Checks one public layer.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: a numpy array or a structure (list/dict) of arrays, batch first.
        expected_output_shape: optional structure of shapes (batch included) to assert.
        run_training: run two ``fit`` steps and assert every trainable weight changes.
        atol: tolerance for the save/load comparison.
    """
    batch = keras.tree.flatten(input_data)[0].shape[0]
    # 1. Config round trip through JSON.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config() lacks __init__ argument {key!r}"
    restored = layer_cls.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config

    # 2. Symbolic call, compute_output_shape, eager call.
    symbolic_in = _symbolic_inputs(input_data)
    symbolic_out = layer(symbolic_in)
    input_shapes = keras.tree.map_structure(lambda t: tuple(t.shape), symbolic_in)
    computed = layer.compute_output_shape(input_shapes)
    sym_shapes = keras.tree.map_structure(lambda t: tuple(t.shape), symbolic_out)
    assert _flatten_shapes(sym_shapes) == _flatten_shapes(computed), \
        f"compute_output_shape {computed} != symbolic {sym_shapes}"
    eager_out = layer(input_data)
    _assert_shapes_match(symbolic_out, eager_out, batch)
    if expected_output_shape is not None:
        eager_shapes = [tuple(t.shape) for t in keras.tree.flatten(eager_out)]
        assert eager_shapes == _flatten_shapes(expected_output_shape), eager_shapes

    # 3. A model around it: fit steps, .keras round trip.
    model = keras.Model(symbolic_in, symbolic_out)
    run_model_test(model, input_data, run_training=run_training, atol=atol, _config_checked=True)
    return model


def _flatten_shapes(structure):
    """Flattens a structure whose leaves are shape tuples."""
    if isinstance(structure, dict):
        return [s for key in sorted(structure) for s in _flatten_shapes(structure[key])]
    if isinstance(structure, (list, tuple)) and structure and isinstance(
            structure[0], (list, tuple, dict)):
        return [s for item in structure for s in _flatten_shapes(item)]
    return [tuple(structure)]


def run_model_test(model, input_data, run_training=True, loss=None, atol=1e-6,
                   targets=None, _config_checked=False):
    """Checks one model: config round trip, symbolic == eager shapes, fit steps, .keras save/load.

    Args:
        model: a built Keras model.
        input_data: numpy input(s), batch first.
        run_training: run two fit steps (with ``loss``, default MSE on every output) and
            assert every trainable weight changes.
        loss: optional loss for the fit steps.
        atol: tolerance for outputs after save/load.
        targets: optional fit targets (e.g. what the model's codec encodes); default
            standard-normal arrays of the output shapes.
    """
    batch = keras.tree.flatten(input_data)[0].shape[0]
    if not _config_checked:
        config = model.get_config()
        json.dumps(config)
        clone = model.__class__.from_config(config)
        clone_out = clone(input_data)
        _assert_shapes_match(clone_out, model(input_data), batch)
    outputs = model(input_data)
    _assert_shapes_match(model.output, outputs, batch)
    # Save/load first, so the comparison is against untrained weights too.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        _assert_allclose(model(input_data, training=False), loaded(input_data, training=False),
                         atol)
    if run_training:
        _fit_one_step(model, input_data, _to_numpy(outputs), loss=loss, targets=targets)
    return model
