"""HIH exports: every HIH preset (shrunk) to SavedModel, LiteRT and ONNX with parity at two batch
sizes, the expectation decode in the exported graph, and the export metadata's codec."""
import numpy as np
import pytest

import zoo
import zoo.export
from export_contract import run_export_test
from zoo.export import signatures, sources
from zoo.models import presets

HIH_PRESETS = [name for name in zoo.list_models()
               if presets.get_preset(name).architecture == "hih"]
# Shrunk, each preset keeping its landmarks and up to 2 of its stacks (4 tiny stacks take
# ten minutes of converters on a loaded 2-core machine and check nothing more). Glorot
# weights: the authors' N(0, 0.001) makes a random model's heatmaps flat to float noise
# (argmax ties).
SHRUNK = dict(input_size=32, width=16, hourglass_depth=1, decimal_size=2, decimal_channels=8,
              init_stddev=None)


def _inputs(model, sizes=(1, 2), seed=0):
    io = signatures.describe(model)
    rng = np.random.default_rng(seed)
    return [{io.image_input: rng.integers(0, 256, (n,) + tuple(io.input_shapes[io.image_input][1:]),
                                          dtype=np.uint8)} for n in sizes]


@pytest.mark.slow
@pytest.mark.parametrize("name", HIH_PRESETS)
def test_every_hih_preset_exports_with_parity(name):
    stacks = min(2, zoo.get_preset(name).config["num_stacks"])
    model, kind = sources.exportable_model(zoo.create(name, num_stacks=stacks, **SHRUNK))
    assert kind == "detector"
    io = signatures.describe(model)
    assert io.endpoints["serving_default"] == ("landmarks", "scores")
    assert set(io.endpoints["heatmaps"]) == {"integer", "decimal"}
    results = run_export_test(model, _inputs(model))
    for result in results.values():
        codec = result.metadata["codec_config"]
        assert codec["class_name"] == "HIHCodec"
        assert (codec["config"]["integer_size"], codec["config"]["decimal_size"]) == (8, 2)


@pytest.mark.slow
def test_expectation_decode_exports_with_parity():
    """The expectation decode (log-linear border continuation, window mask) in every format,
    on a model large enough for the 8 x 8 decimal map."""
    import zoo.codecs
    from zoo.models.inference import make_inference_model

    model = zoo.create("hih_mobile_300w", width=16, hourglass_depth=2, decimal_channels=8,
                       init_stddev=None)
    codec = zoo.models.model_codec(model).with_decode("expectation")
    assert (codec.integer_size, codec.decimal_size) == (32, 8)
    inference = make_inference_model(model, codec=zoo.codecs.serialize(codec))
    results = run_export_test(inference, _inputs(inference, seed=1))
    assert results["tflite"].metadata["codec_config"]["config"]["method"] == "expectation"


@pytest.mark.slow
def test_mobile_preset_at_its_real_size_exports_with_parity():
    model, metadata = sources.load(preset="hih_mobile_300w", init_stddev=None)
    assert metadata["input_size"] == 128 and metadata["num_landmarks"] == 68
    images, _ = sources.synthface_set(128, 3, seed=5)
    run_export_test(model, [{"images": images[:1]}, {"images": images[1:]}], metadata=metadata)
