"""Prints the README's preset table: parameters, MACs/FLOPs, output values per face, per preset.

MACs are counted from the model's traced inference graph (batch 1, variables frozen) with a
per-op formula: Conv2D (output elements x kh x kw x C_in), DepthwiseConv2dNative (output
elements x kh x kw), Conv2DBackpropInput = transposed convolution (input elements x kh x kw x
C_out), MatMul / BatchMatMulV2 (batch x M x K x N). Element-wise ops (BN, ReLU, adds, softmax)
are not counted. FLOPs = 2 x MACs. (tf.profiler's float_operation counts only Conv2D in this
graph, so it is not used.)

    .venv/bin/python benchmarks/preset_table.py
    .venv/bin/python benchmarks/preset_table.py --presets aheat1d_mobile_300w
    .venv/bin/python benchmarks/preset_table.py --presets hih_wflw hih_mobile_300w
    .venv/bin/python benchmarks/preset_table.py --presets rdfn_300w rdfn_small_300w

HIH rows: ``params`` is ``model.count_params()`` (BN moving statistics included); the authors'
22.68 M convention for HIH_B is ``zoo.models.hih.parameter_counts(model)["authors"]``.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _dims(tensor):
    return [int(d) for d in tensor.shape]


def _product(values):
    result = 1
    for value in values:
        result *= value
    return result


def count_macs(model):
    """Multiply-accumulates of one forward pass at batch 1 (see the module docstring)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    spec = tf.TensorSpec((1,) + tuple(model.input.shape[1:]), tf.float32)
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(function).graph
    macs = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":
            kh, kw, c_in, _ = _dims(op.inputs[1])
            macs += _product(_dims(op.outputs[0])) * kh * kw * c_in
        elif op.type == "DepthwiseConv2dNative":
            kh, kw, _, _ = _dims(op.inputs[1])
            macs += _product(_dims(op.outputs[0])) * kh * kw
        elif op.type == "Conv2DBackpropInput":  # transposed convolution
            kh, kw, c_out, _ = _dims(op.inputs[1])
            macs += _product(_dims(op.inputs[2])) * kh * kw * c_out
        elif op.type == "MatMul":
            a, b = _dims(op.inputs[0]), _dims(op.inputs[1])
            m = a[1] if op.get_attr("transpose_a") else a[0]
            k = a[0] if op.get_attr("transpose_a") else a[1]
            n = b[0] if op.get_attr("transpose_b") else b[1]
            macs += m * k * n
        elif op.type in ("BatchMatMulV2", "BatchMatMul", "BatchMatMulV3"):
            a, b = _dims(op.inputs[0]), _dims(op.inputs[1])
            if op.get_attr("adj_x"):
                a[-1], a[-2] = a[-2], a[-1]
            if op.get_attr("adj_y"):
                b[-1], b[-2] = b[-2], b[-1]
            batch = _product(a[:-2]) if len(a) >= len(b) else _product(b[:-2])
            macs += batch * a[-2] * a[-1] * b[-1]
    return macs


def output_values(preset):
    """Heatmap values per face of the last stack: 2NL (1D), NL^2 (2D), N (S^2 + d^2) (HIH)."""
    config = preset.config
    if "heatmap_length" in config:
        return 2 * config["num_landmarks"] * config["heatmap_length"]
    if "decimal_size" in config:  # HIH: integer S x S (S = F / 4) + decimal d x d
        return config["num_landmarks"] * ((preset.input_size // 4) ** 2
                                          + config["decimal_size"] ** 2)
    if "pool_size" in config:  # RDFN: H x H score maps + region heatmaps (F/4)^2 R + boxes 4R
        regions = config["num_regions"]
        return (config["num_landmarks"] * config["heatmap_size"] ** 2
                + regions * (preset.input_size // 4) ** 2 + 4 * regions)
    return config["num_landmarks"] * config["heatmap_size"] ** 2


def heads(preset):
    """The heads column: 1D length, 2D side, or HIH's integer + decimal sides."""
    config = preset.config
    if "heatmap_length" in config:
        return f"1D, L {config['heatmap_length']}"
    if "decimal_size" in config:
        side = preset.input_size // 4
        return f"HIH {side}x{side} + {config['decimal_size']}x{config['decimal_size']}"
    if "pool_size" in config:
        return (f"RDFN 2D {config['heatmap_size']}x{config['heatmap_size']}, "
                f"{config['num_regions']} regions, pooled {config['pool_size']}x"
                f"{config['pool_size']}")
    return f"2D {config['heatmap_size']}x{config['heatmap_size']}"


def main():
    import zoo
    from zoo.models import presets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=None,
                        help="preset names (default: every aheat1d/fan2d/hih/rdfn preset)")
    args = parser.parse_args()
    names = args.presets or [n for n in zoo.list_models()
                             if presets.get_preset(n).architecture in ("aheat1d", "fan2d", "hih",
                                                                         "rdfn")]
    print("| preset | input | heads | params | GMACs | GFLOPs | output values per face |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        preset = zoo.get_preset(name)
        model = zoo.create(name)
        macs = count_macs(model)
        print(f"| `{name}` | {preset.input_size} | {heads(preset)} | {model.count_params():,} | "
              f"{macs / 1e9:.4f} | {2 * macs / 1e9:.4f} | {output_values(preset):,} |",
              flush=True)


if __name__ == "__main__":
    main()
