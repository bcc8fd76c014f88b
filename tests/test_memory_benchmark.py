"""The measuring helpers of benchmarks/memory.py (the script itself is run by hand)."""
import importlib
import json
import os
import subprocess
import sys

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                     "memory.py")
# By name, as benchmarks/reproduce.py imports it: one module per process.
sys.path.insert(0, os.path.dirname(_PATH))
memory = importlib.import_module("memory")


def _measure_in_fresh_process(*mibs):
    """``measure_peak_mib`` of ``_touch(mib)`` for each of ``mibs``, in one new interpreter.

    A fresh process, as the benchmark itself uses: in the pytest worker, pages that earlier
    tests freed but the allocator kept are reused without raising the RSS, so a known
    allocation can look smaller than it is (seen in CI: 128 MiB measured for 192).
    """
    code = (
        "import importlib.util, json, sys\n"
        "import numpy as np\n"
        "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "def touch(mib):\n"
        "    array = np.ones(mib * 2 ** 20 // 8)  # written pages, so they count in RSS\n"
        "    return float(array[::4096].sum())\n"
        "out = [m.measure_peak_mib(lambda: touch(int(mib))) for mib in sys.argv[2:]]\n"
        "print(json.dumps(out))\n")
    result = subprocess.run([sys.executable, "-c", code, _PATH] + [str(m) for m in mibs],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("mib", [64, 192])
def test_measure_peak_mib_sees_a_known_allocation(mib):
    [(measured, seconds)] = _measure_in_fresh_process(mib)
    assert mib * 0.9 < measured < mib * 1.25 and seconds >= 0


def test_measure_peak_mib_resets_the_peak_between_calls():
    (big, _), (small, _) = _measure_in_fresh_process(256, 32)
    assert big > 200
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
