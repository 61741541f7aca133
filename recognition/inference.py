"""The one bridge between Django and the pure ML core in recognition/ml/.

Loads the detector and the active model's embedder once per worker process
(lazily: importing this module loads no TensorFlow) and turns model rows and
stored files into arrays for recognition.ml.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import redis
from django.conf import settings

from common.workers import (
    MODEL_STATE_TTL,
    model_state_key,
    redis_client,
    worker_facts_publish,
)
from recognition.ml.dlib.models import dlib_model_path
from recognition.ml.runtime.config import RuntimeConfig
from recognition.ml.runtime.detection import get_detector as load_detector
from recognition.ml.runtime.embedders import load_embedder
from recognition.ml.runtime.liveness import (
    LIVENESS_ARTIFACT,
    LivenessChecker,
    LivenessResult,
    LivenessThresholds,
)
from recognition.ml.runtime.pipeline import FacePipeline, FaceResult, GateFrame
from recognition.ml.runtime.quality import QualityThresholds
from recognition.models import EmbeddingModel

logger = logging.getLogger(__name__)
BLANK_FRAME = np.zeros((8, 8, 3), np.uint8)  # an undecodable frame: no face, no cue


def artifact_dir(model: EmbeddingModel) -> str | None:
    """Artifact paths may be relative to the repository (models shipped with the code)."""
    if not model.artifact_path:
        return None
    path = Path(model.artifact_path)
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    return str(path)


def quality_thresholds() -> QualityThresholds:
    overrides = {
        f.name: float(settings.FACEPASS_QUALITY[f.name])
        for f in fields(QualityThresholds)
        if settings.FACEPASS_QUALITY.get(f.name) is not None
    }
    return QualityThresholds(**overrides)


def _publish_detector(detector) -> None:
    facts = {
        "detector": type(detector).__name__,
        "detector_fallback": getattr(detector, "fallback_reason", None),
    }
    try:
        worker_facts_publish(redis_client(), facts)
    except redis.RedisError:  # health reporting must not stop face work
        logger.warning("could not publish detector status to Redis", exc_info=True)


def get_detector():
    cv2.setNumThreads(settings.FACEPASS_OPENCV_THREADS)  # per process: see the setting
    config = runtime_config()
    detector = load_detector(config.detector, config.yunet_model, config.cache_dir)
    _publish_detector(detector)
    return detector


def runtime_config() -> RuntimeConfig:
    """The ML core knows no settings: everything it is configured with comes from here."""
    return RuntimeConfig(
        detector=settings.FACEPASS_DETECTOR,
        yunet_model=settings.FACEPASS_YUNET_MODEL or None,
        cache_dir=str(settings.FACEPASS_MODEL_CACHE_DIR),
        backbone_handle=settings.FACEPASS_BACKBONE_HANDLE,
        dlib_runtime=settings.FACEPASS_DLIB_RUNTIME,
        onnx_threads=settings.FACEPASS_ONNX_THREADS,
    )


@functools.lru_cache(maxsize=4)
def _pipeline(kind: str, artifact: str | None, label: str) -> FacePipeline:
    logger.info("loading face model %s (%s)", label, kind)
    embedder = load_embedder(kind, artifact, runtime_config())
    return FacePipeline(
        get_detector(),
        embedder,
        quality_thresholds(),
        decode_limits={
            "max_bytes": settings.FACEPASS_UPLOAD_MAX_BYTES,
            "max_pixels": settings.FACEPASS_UPLOAD_MAX_PIXELS,
            "reduce_to_side": settings.FACEPASS_DECODE_SIDE or None,
        },
    )


def pipeline_for(model: EmbeddingModel) -> FacePipeline:
    """The model's pipeline, loaded once per process; waits for a background load of it."""
    loading = _loads.get(model.label)
    if loading is not None:
        loading.wait()
    return _pipeline(model.kind, artifact_dir(model), model.label)


class ModelLoading(RuntimeError):
    """The worker process is still loading the face model (started with the process)."""


# Background loads of this process, by model label: set when the load has ended.
_loads: dict[str, threading.Event] = {}


def load_in_background(model: EmbeddingModel) -> threading.Thread:
    """Load and warm the model in a thread, so that a worker process reports up to Celery at
    once however long the load takes (Celery kills a pool process that has not reported up
    within worker_proc_alive_timeout, 4 s by default: a slow model load on a busy machine
    used to get every new process killed). Tasks wait for it (pipeline_for, wait_until_loaded);
    the state goes to Redis for /healthz."""
    done = _loads.setdefault(model.label, threading.Event())
    model_state_publish(model.label, "loading")

    def load() -> None:
        try:
            warm_up(model)
        except Exception:  # noqa: BLE001  (the state says failed; tasks report the error)
            logger.exception("loading the face model %s failed", model.label)
            model_state_publish(model.label, "failed")
        else:
            model_state_publish(model.label, "ready")
        finally:
            done.set()

    thread = threading.Thread(target=load, name=f"load {model.label}", daemon=True)
    thread.start()
    return thread


def wait_until_loaded(model: EmbeddingModel, timeout: float) -> None:
    """ModelLoading when a background load of the model is still running after `timeout` s."""
    loading = _loads.get(model.label)
    if loading is not None and not loading.wait(timeout):
        raise ModelLoading(f"the face model {model.label} is still loading")


def model_state_publish(label: str, state: str) -> None:
    """This pool process's model state, under its worker (host and parent pid) for the heartbeat."""
    try:
        client = redis_client()
        key = model_state_key(socket.gethostname(), os.getppid())
        client.hset(key, str(os.getpid()), json.dumps({"model": label, "state": state}))
        client.expire(key, MODEL_STATE_TTL)
    except redis.RedisError:  # health reporting must not stop face work
        logger.warning("could not publish the model state to Redis", exc_info=True)


def warm_up(model: EmbeddingModel) -> None:
    """Load the model and run it once (graph tracing happens on the first call)."""
    # _pipeline, not pipeline_for: this is the background load pipeline_for waits for.
    embedder = _pipeline(model.kind, artifact_dir(model), model.label).embedder
    size = embedder.input_size
    embedder.embed(np.zeros((1, size, size, 3), np.uint8))


def enroll_images(model: EmbeddingModel, images: list[bytes]) -> list[FaceResult]:
    """Every enrollment quality gate, then one embedding batch for the accepted photos."""
    return pipeline_for(model).process(images)


def embed_largest_face(model: EmbeddingModel, image: bytes) -> FaceResult:
    """Re-embedding: only 'one prominent face' is required."""
    return pipeline_for(model).embed_largest_face(image)


def embed_gate_frames(model: EmbeddingModel, images: list[bytes]) -> list[GateFrame]:
    """A gate burst: each frame's one prominent face, embedded in one batch, frames kept."""
    return pipeline_for(model).embed_frames(images)


@functools.lru_cache(maxsize=1)
def liveness_checker() -> LivenessChecker:
    """One per gate worker process, loaded at the first burst that needs it (dlib's 68-point
    predictor: ~100 MB, which events without a liveness policy never pay)."""
    thresholds = LivenessThresholds.from_artifact(LIVENESS_ARTIFACT, "challenge")
    return LivenessChecker(thresholds, dlib_model_path("shape_predictor_68_face_landmarks"))


def assess_liveness(frames: list[GateFrame], policy: str, challenge: str | None) -> LivenessResult:
    """The burst judged under an event's policy ("passive" or "challenge"), with its thresholds
    from recognition/artifacts/liveness/metadata.json."""
    thresholds = _liveness_thresholds(policy)
    images = [f.image if f.image is not None else BLANK_FRAME for f in frames]
    faces = [f.result.face if f.image is not None else None for f in frames]
    return liveness_checker().assess(images, faces, challenge=challenge, thresholds=thresholds)


@functools.lru_cache(maxsize=4)
def _liveness_thresholds(policy: str) -> LivenessThresholds:
    return LivenessThresholds.from_artifact(LIVENESS_ARTIFACT, policy)
