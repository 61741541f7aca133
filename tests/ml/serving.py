"""What the serving tests of both students check the same way."""

from __future__ import annotations

import subprocess
import sys


def tensorflow_imported_while_serving(embedder: str, artifact, size: int) -> str:
    """Load the artifact and embed two crops in a fresh interpreter; whether TensorFlow got
    imported on the way, as the child printed it ("True" / "False")."""
    code = (
        "import sys, numpy as np\n"
        "from recognition.ml.runtime.embedders import load_embedder\n"
        f"e = load_embedder({embedder!r}, {str(artifact)!r})\n"
        f"v = e.embed(np.zeros((2, {size}, {size}, 3), np.uint8))\n"
        "assert v.shape == (2, 128), v.shape\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()
