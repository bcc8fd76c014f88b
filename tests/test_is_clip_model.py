"""``presets.is_clip_model``: the one registry lookup that says whether a model is a tracker."""
import keras
import pytest

from zoo.models import presets


def test_names_presets_and_architectures_follow_their_records():
    for name in presets.list_models():
        record = presets.find_architecture(name)
        assert presets.is_clip_model(name) == (record.task == "clip")
        assert presets.is_clip_model(presets.get_preset(name)) == (record.task == "clip")
    for name in presets.list_architectures():
        assert presets.is_clip_model(name) == (presets.get_architecture(name).task == "clip")
    assert presets.is_clip_model("aheat1d_tracker_mobile_300vw")
    assert not presets.is_clip_model("aheat1d_mobile_300w")


def test_unregistered_models_are_judged_by_their_input():
    clips = keras.Input((2, 8, 8, 3))
    images = keras.Input((8, 8, 3))
    assert presets.is_clip_model(keras.Model(clips, clips, name="unknown_clip_model"))
    assert not presets.is_clip_model(keras.Model(images, images, name="unknown_image_model"))


def test_unknown_name_raises_with_the_allowed_names():
    with pytest.raises(ValueError, match=r"Allowed: .*aheat1d_mobile_300w.*"
                                         r"Received: model_or_name='no_such_model'"):
        presets.is_clip_model("no_such_model")
