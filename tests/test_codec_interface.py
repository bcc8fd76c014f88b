"""The explicit codec interface (zoo.codecs.Codec): abstract methods, checked registration,
checked configs, and fitting a codec's sizes to a built model (issue 12)."""
import keras
import pytest

import zoo
import zoo.codecs
from zoo.codecs import base


def test_from_config_and_get_check_their_keys():
    with pytest.raises(ValueError, match=r"Unknown Heatmap1DCodec config key\(s\)\. Allowed: "
                                         r"\[.*'heatmap_size'.*\]\. Received: sgima=2"):
        zoo.codecs.Heatmap1DCodec.from_config({"input_size": 64, "heatmap_size": 128,
                                               "sgima": 2})
    with pytest.raises(ValueError, match=r"Allowed: \[.*'Heatmap1DCodec'.*\]\. Received: "
                                         r"class_name='Nope'"):
        zoo.codecs.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match=r"Allowed: \['class_name', 'config'\]\. Received: "
                                         r"\['module'\]"):
        zoo.codecs.get({"class_name": "Heatmap2DCodec", "config": {}, "module": "x"})


def test_register_codec_refuses_an_incomplete_codec():
    class NoDecode(base.Codec):
        target_keys = ("x",)
        target_ranks = (3,)

        def encode(self, landmarks):
            return {}

        def count_landmarks(self, shapes):
            return None

        def get_config(self):
            return {}

    with pytest.raises(ValueError, match=r"\['decode'\] are abstract"):
        base.register_codec(NoDecode)
    with pytest.raises(TypeError):
        NoDecode()  # abstract: cannot be instantiated either

    class BadKeys(NoDecode):
        target_ranks = (3, 3)

        def decode(self, outputs):
            return None, None

    with pytest.raises(ValueError, match="Received: target_keys=\\('x',\\), target_ranks="):
        base.register_codec(BadKeys)
    assert "BadKeys" not in base.registered_codecs()


def test_fit_to_reads_the_sizes_off_a_built_model():
    model = zoo.create("aheat1d_mobile_300w", input_size=64, heatmap_length=256, width=16,
                       hourglass_depth=1)
    preset_codec = zoo.codecs.get(zoo.get_preset("aheat1d_mobile_300w").codec)
    assert (preset_codec.input_size, preset_codec.heatmap_size, preset_codec.sigma) == (
        128, 384, 2.0)
    fitted = preset_codec.fit_to(model)
    # Sizes from the model; sigma (input pixels of F = 128) falls back to F / 64 at F = 64.
    assert (fitted.input_size, fitted.heatmap_size, fitted.sigma) == (64, 256, 1.0)
    assert fitted.fit_to(model) is fitted  # nothing left to change
    assert zoo.codecs.Heatmap1DCodec.from_model(model) == fitted
    two_d = zoo.codecs.Heatmap2DCodec(64, 16, method="argmax")
    with pytest.raises(ValueError, match=r"lacks \['heatmap'\]\. Received: outputs=\['x', 'y'\]"):
        two_d.fit_to(model)
    with pytest.raises(ValueError, match=r"rank 4 .*Received: outputs\['heatmap'\].shape="):
        two_d.fit_to({"heatmap": (None, 16, 16)}, input_size=64)
    images = keras.Input((8, 8, 1))
    with pytest.raises(ValueError, match="no square RGB image input"):
        two_d.fit_to(keras.Model(images, {"heatmap": images}))


def test_heatmap_output_names_and_codec_for_outputs_come_from_the_registry():
    names = zoo.codecs.heatmap_output_names()
    for cls in base.registered_codecs().values():
        assert set(cls.target_keys) <= set(names)
    assert zoo.codecs.codec_for_outputs(["heatmap"]) is zoo.codecs.Heatmap2DCodec
    with pytest.raises(ValueError, match="Received: output_names=\\['points'\\]"):
        zoo.codecs.codec_for_outputs(["points"])
