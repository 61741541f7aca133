"""Training face embedders (TensorFlow, imported lazily) and writing their artifacts."""
