"""Pure-Python face pipeline: decoding, detection, alignment, quality gates, embedding, evaluation.

Nothing here imports Django. TensorFlow and dlib are imported lazily inside the classes that need
them, so importing this package (or any module Django imports from it) stays cheap.
"""
