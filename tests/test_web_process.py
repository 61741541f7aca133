import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CODE = """
import sys, django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import recognition.inference, checkins.gate, recognition.tasks, enrollment.workflow
import recognition.ml.runtime.embedders, recognition.ml.runtime.pipeline
print(sorted(m for m in ("tensorflow", "tf_keras", "tensorflow_hub", "dlib") if m in sys.modules))
"""


def test_the_web_process_never_imports_tensorflow_or_dlib():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "facepass_site.settings"}
    result = subprocess.run(
        [sys.executable, "-c", CODE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
