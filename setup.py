"""landmark-zoo: facial landmark detection and tracking models for Keras 3 / TensorFlow 2."""
from setuptools import find_packages, setup

setup(
    name="landmark-zoo",
    version="0.1.0",
    description="Keras 3 model zoo for facial landmark detection and tracking "
    "(attentive 1D heatmaps, HIH, RDFN, FAN baselines) with SavedModel/LiteRT/ONNX export.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["zoo", "zoo.*"]),
    # Trained weights ship inside the package (each file <= 5 MB; zoo/weights/README.md).
    package_data={"zoo": ["data/assets/*", "weights/*.weights.h5", "weights/README.md"]},
    python_requires=">=3.10",
    # TensorFlow itself comes from an extra: `tensorflow-cpu` provides the same module as
    # `tensorflow` but pip cannot tell, so requiring one of them here would install both.
    install_requires=[
        "keras>=3.8,<3.16",
        "numpy>=1.26,<2.5",
        "opencv-python-headless>=4.9,<5",  # 5.x dropped the Haar cascades
        "absl-py>=2.0",
        "scipy>=1.11",
        "h5py>=3.9",
        "matplotlib>=3.8",
        "tqdm>=4.60",
    ],
    extras_require={
        "cpu": ["tensorflow-cpu>=2.18,<2.22"],
        "gpu": ["tensorflow[and-cuda]>=2.18,<2.22"],
        "onnx": ["tf2onnx>=1.16", "onnx>=1.16", "onnxruntime>=1.18"],
        "litert": ["ai-edge-litert>=1.2"],
        "test": ["pytest>=8", "pytest-xdist>=3.5", "hypothesis>=6.100"],
    },
)
