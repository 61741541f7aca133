"""dlib's shipped model files and its ResNet descriptor rebuilt as an ONNX graph."""
