"""The face core, free of Django and of the process environment: arrays and files in, arrays and
reports out, configuration passed in (runtime.config.RuntimeConfig). Subpackages, lowest first:

- dlib/      dlib's model files and its ResNet rebuilt as ONNX
- runtime/   what serving loads: decode, detect, align, quality gates, embedders, pipeline
- tools/     command-line tools and evaluation metrics (python -m recognition.ml.tools.evaluate)
- training/  training embedders (python -m recognition.ml.training.train)

TensorFlow and dlib are imported lazily inside the classes that need them, so importing any
module Django imports from here stays cheap.
"""
