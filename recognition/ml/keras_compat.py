"""TensorFlow with tf-keras (Keras 2) and TF-Hub, imported on first use.

hub.KerasLayer only works inside tf-keras, and TensorFlow decides what `tf.keras` means when it is
first imported, from TF_USE_LEGACY_KERAS. Setting that switch here is the one place recognition.ml
touches the process environment: it selects a library's behaviour, it carries no FacePass setting.
"""

from __future__ import annotations

import os
from typing import Any

_MODULES: list[Any] = []


def tensorflow_modules() -> tuple[Any, Any, Any]:
    """(tensorflow, tf_keras, tensorflow_hub); cached, so AutoGraph never traces the import."""
    if not _MODULES:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        import tensorflow as tf
        import tensorflow_hub as hub
        import tf_keras as keras

        _MODULES.extend((tf, keras, hub))
    return _MODULES[0], _MODULES[1], _MODULES[2]
