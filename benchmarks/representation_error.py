"""Prints the NME (%) each target representation loses by itself on 300W (README table).

True landmarks of the HRNet CSVs are cropped the HRNet way to 256 x 256, encoded with each
codec (in ``tf.data`` map, as in training), decoded again and compared with the truth, with
inter-ocular normalisation. See ``zoo.tools.quantization``.

Command::

    .venv/bin/python benchmarks/representation_error.py --fixtures_dir ../shared/fixtures
"""
import argparse
import os
import sys
import time

from zoo.tools import quantization

FILES = ("face_landmarks_300w_valid.csv", "face_landmarks_300w_valid_common.csv",
         "face_landmarks_300w_valid_challenge.csv", "face_landmarks_300w_test.csv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures_dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "fixtures"))
    parser.add_argument("--input_size", type=int, default=256)
    args = parser.parse_args(argv)
    print("\n".join(quantization.worked_example()))
    results = {}
    start = time.perf_counter()
    for name in FILES:
        path = os.path.join(args.fixtures_dir, "300w", "hrnet_csv", name)
        errors, info = quantization.representation_errors(
            quantization.read_annotations(path), input_size=args.input_size)
        results[name.replace("face_landmarks_300w_", "").replace(".csv", "")] = (errors, info)
        if info["outside"]:
            print(f"note: {info['outside']} coordinates of {name} fall outside the crop")
    print()
    print(f"300W, HRNet crop to {args.input_size}, inter-ocular NME (%) lost by the "
          "representation alone (encode true landmarks, decode, measure):")
    print("\n".join(quantization.format_table(results)))
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
