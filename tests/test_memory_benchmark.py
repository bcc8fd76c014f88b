"""The measuring helpers of benchmarks/memory.py (the script itself is run by hand)."""
import importlib.util
import os

import numpy as np
import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                     "memory.py")
_SPEC = importlib.util.spec_from_file_location("memory_benchmark", _PATH)
memory = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(memory)


def _touch(mib):
    array = np.ones(mib * 2 ** 20 // 8)  # written pages, so they count in RSS
    return float(array[::4096].sum())


@pytest.mark.parametrize("mib", [64, 192])
def test_measure_peak_mib_sees_a_known_allocation(mib):
    measured, seconds = memory.measure_peak_mib(lambda: _touch(mib))
    assert mib * 0.9 < measured < mib * 1.25 and seconds >= 0


def test_measure_peak_mib_resets_the_peak_between_calls():
    memory.measure_peak_mib(lambda: _touch(256))
    small, _ = memory.measure_peak_mib(lambda: _touch(32))
    assert small < 64  # not the 256 MiB peak of the previous call


def test_output_values_are_the_papers_sizes():
    assert memory.output_values("1D", 768, 68) == 2 * 68 * 768
    assert memory.output_values("2D", 128, 68) == 68 * 128 * 128
    with pytest.raises(ValueError, match="Received: kind='3D'"):
        memory.output_values("3D", 64, 68)


def test_parse_config():
    assert memory.parse_config("2D-128") == ("2D", 128)
    with pytest.raises(ValueError, match="Received: config='2D128'"):
        memory.parse_config("2D128")


def test_summarize_takes_medians_over_runs():
    runs = [{"kind": "1D", "size": 768, "tensor_peak_mib": m, "step_seconds": s, "params": 7}
            for m, s in ((900, 3.0), (1300, 1.0), (1000, 2.0))]
    summary = memory.summarize(runs)
    assert summary["tensor_peak_mib"] == 1000 and summary["step_seconds"] == 2.0
    assert summary["size"] == 768 and summary["params"] == 7 and summary["kind"] == "1D"
    assert summary["tensor_peak_mib_runs"] == [900, 1300, 1000]
