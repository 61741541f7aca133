"""dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1.dat) run by onnxruntime.

The dlib-bin wheel has no BLAS, so dlib's own network takes ~57 ms per chip on one core. This module
takes the weights of the same .dat file (recognition.ml.dlib.dat), writes the same network as an
ONNX graph and runs it with onnxruntime (~3 ms per chip on one core; equal to dlib's output within
1e-6). No Django imports: the ML core runs outside the web process.

The ONNX model takes uint8 RGB chips NHWC [n,150,150,3] (what dlib.get_face_chip returns, so callers
need no conversion) and returns the raw 128-d fc output, as dlib's compute_face_descriptor does
(no normalisation here).

Command line: python -m recognition.ml.dlib.onnx --check N compares it with dlib.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from recognition.ml.dlib.dat import DlibModelFormatError, dlib_resnet_weights
from recognition.ml.dlib.models import dlib_model_path

__all__ = [
    "DlibModelFormatError",
    "DlibResNetOnnx",
    "dlib_resnet_onnx_bytes",
    "dlib_resnet_weights",
]

INPUT_SIZE = 150
DESCRIPTOR_SIZE = 128
# Bumped whenever the graph built from the same .dat changes, so stale cached .onnx are not reused.
CONVERTER_VERSION = 1
OPSET = 17


# ---------------------------------------------------------------------------------------------
# The ONNX graph. Shapes are tracked here because dlib's add_prev zero-extends the smaller input
# (channels and bottom/right rows/columns), which ONNX's Add does not; explicit Pads do it.


class _GraphBuilder:
    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, array: np.ndarray, prefix: str) -> str:
        name = self.name(prefix)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        output = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


def _pad_to(graph: _GraphBuilder, value: str, shape: tuple, target: tuple) -> str:
    if shape == target:
        return value
    extra = [
        t - s for s, t in zip(shape[1:], target[1:], strict=True)
    ]  # the batch dimension always agrees
    pads = np.array([0, 0, 0, 0, 0] + extra, dtype=np.int64)  # begins, then ends (N,C,H,W)
    return graph.node("Pad", [value, graph.const(pads, "pads")], mode="constant")


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - kernel) // stride


def _emit_layer(
    graph: _GraphBuilder, layer: dict, value: str, shape: tuple, tags: dict
) -> tuple[str, tuple]:
    kind = layer["kind"]
    n, c, h, w = shape
    if kind == "con":
        weights = layer["weights"]
        inputs = [value, graph.const(weights, "w")]
        if layer["bias"] is not None:
            inputs.append(graph.const(layer["bias"], "b"))
        k, stride, pad = weights.shape[2], layer["stride"], layer["pad"]
        out = graph.node("Conv", inputs, kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4)
        return out, (
            n,
            weights.shape[0],
            _conv_out(h, k, stride, pad),
            _conv_out(w, k, stride, pad),
        )
    if kind == "affine":
        scaled = graph.node(
            "Mul", [value, graph.const(layer["gamma"].reshape(1, -1, 1, 1), "gamma")]
        )
        return graph.node(
            "Add", [scaled, graph.const(layer["beta"].reshape(1, -1, 1, 1), "beta")]
        ), shape
    if kind == "relu":
        return graph.node("Relu", [value]), shape
    if kind in ("max_pool", "avg_pool"):
        size, stride = layer["size"], layer["stride"]
        if size == 0:  # avg_pool_everything
            return graph.node("GlobalAveragePool", [value]), (n, c, 1, 1)
        op = "MaxPool" if kind == "max_pool" else "AveragePool"
        out = graph.node(op, [value], kernel_shape=[size, size], strides=[stride] * 2, pads=[0] * 4)
        return out, (n, c, _conv_out(h, size, stride, 0), _conv_out(w, size, stride, 0))
    if kind == "tag":
        tags[layer["tag"]] = (value, shape)
        return value, shape
    if kind == "skip":
        return tags[layer["tag"]]
    if kind == "add_prev":
        other, other_shape = tags[layer["tag"]]
        target = (shape[0], *(max(a, b) for a, b in zip(shape[1:], other_shape[1:], strict=True)))
        first = _pad_to(graph, value, shape, target)
        second = _pad_to(graph, other, other_shape, target)
        return graph.node("Add", [first, second]), target
    if kind == "fc":
        flat = graph.node("Flatten", [value], axis=1)
        return graph.node("MatMul", [flat, graph.const(layer["weights"], "fc")]), (
            n,
            layer["weights"].shape[1],
        )
    raise DlibModelFormatError(f"no ONNX translation for layer kind {kind!r}")


def _emit_input(graph: _GraphBuilder, layer: dict) -> str:
    # input_rgb_image_sized: (pixel - mean) / 256 per channel, in float; uint8 NHWC -> NCHW.
    pixels = graph.node("Cast", ["chips"], to=1)  # FLOAT
    centred = graph.node("Sub", [pixels, graph.const(layer["mean"], "mean")])
    scaled = graph.node("Div", [centred, graph.const(np.array(256.0, dtype=np.float32), "scale")])
    return graph.node("Transpose", [scaled], perm=[0, 3, 1, 2])


def dlib_resnet_onnx_model(layers: list[dict]):
    """The onnx.ModelProto for parsed layers (dlib_resnet_weights)."""
    from onnx import TensorProto, checker, helper

    graph = _GraphBuilder()
    size = layers[0]["size"]
    value, shape = _emit_input(graph, layers[0]), ("n", 3, size, size)
    tags: dict = {}
    for layer in layers[1:]:
        value, shape = _emit_layer(graph, layer, value, shape, tags)
    graph.nodes.append(helper.make_node("Identity", [value], ["descriptors"], name="descriptors"))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["n", size, size, 3])],
            [
                helper.make_tensor_value_info(
                    "descriptors", TensorProto.FLOAT, ["n", DESCRIPTOR_SIZE]
                )
            ],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="recognition.ml.dlib.onnx",
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.10 and OpenCV's importer
    checker.check_model(model)
    return model


def dlib_resnet_onnx_bytes(dat_path: str | os.PathLike) -> bytes:
    """ONNX model of the .dat: input "chips" uint8 RGB NHWC [n,150,150,3], output "descriptors"
    float32 [n,128] (dlib's raw descriptor)."""
    return dlib_resnet_onnx_model(dlib_resnet_weights(dat_path)).SerializeToString()


# ---------------------------------------------------------------------------------------------
# Runtime with the converted model cached per machine.


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_onnx_path(dat_path: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """The converted model for this .dat in cache_dir, converting it first if absent. The name
    holds the .dat's sha256 so a different model never reuses it; the write goes through a
    temporary file and rename so concurrent workers never read a half-written model."""
    cache = Path(cache_dir)
    target = cache / f"dlib_resnet_{_sha256(dat_path)}_v{CONVERTER_VERSION}.onnx"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    data = dlib_resnet_onnx_bytes(dat_path)
    handle, temp_name = tempfile.mkstemp(dir=cache, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.chmod(temp_name, 0o644)  # mkstemp makes it 0600; other users' workers read it too
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


class DlibResNetOnnx:
    """dlib's face descriptor network on onnxruntime; embed() matches compute_face_descriptor."""

    def __init__(
        self, dat_path: str | os.PathLike, cache_dir: str | os.PathLike, threads: int | None = None
    ):
        import onnxruntime as ort

        self.onnx_path = cached_onnx_path(dat_path, cache_dir)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, chips_uint8_rgb: np.ndarray) -> np.ndarray:
        """chips: uint8 RGB [n,150,150,3] (or one [150,150,3]) -> float32 [n,128]."""
        chips = np.asarray(chips_uint8_rgb)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.dtype != np.uint8 or chips.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(
                f"expected uint8 chips [n,{INPUT_SIZE},{INPUT_SIZE},3], "
                f"got {chips.dtype} {chips.shape}"
            )
        if len(chips) == 0:
            return np.zeros((0, DESCRIPTOR_SIZE), dtype=np.float32)
        return self._session.run(["descriptors"], {"chips": np.ascontiguousarray(chips)})[0]


# ---------------------------------------------------------------------------------------------
# python -m recognition.ml.dlib.onnx --check N: equivalence and speed against dlib itself.


def _face_chips(count: int, data: str | None, seed: int = 0) -> np.ndarray:
    """Real faces from `data` (<identity>/<image>.jpg) resized to 150x150 RGB, random pixels
    for the rest. The network's equivalence does not need aligned chips."""
    import cv2

    paths = sorted(Path(data).glob("*/*.jpg"))[:count] if data else []
    images = [cv2.imread(str(p)) for p in paths]
    chips = [
        cv2.cvtColor(cv2.resize(image, (INPUT_SIZE, INPUT_SIZE)), cv2.COLOR_BGR2RGB)
        for image in images
        if image is not None
    ]
    rng = np.random.default_rng(seed)
    while len(chips) < count:
        chips.append(rng.integers(0, 256, (INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8))
    return np.stack(chips)


def _ms_per_chip(embed, chips: np.ndarray, batch: int) -> float:
    import time

    embed(chips[:batch])  # warm-up
    start = time.perf_counter()
    for begin in range(0, len(chips), batch):
        embed(chips[begin : begin + batch])
    return 1000 * (time.perf_counter() - start) / len(chips)


def _compare(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    # Cosines in float64: float32 rounding alone moves them by ~1e-7.
    got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
    norms = np.linalg.norm(got64, axis=1) * np.linalg.norm(expected64, axis=1)
    cosine = np.sum(got64 * expected64, 1) / norms
    print(
        f"{name}, {len(got)} chips: max abs diff {np.abs(got - expected).max():.3g}, "
        f"1 - min cosine {1 - cosine.min():.2g}"
    )


def _report_speed(embed, chips: np.ndarray) -> None:
    for batch in (1, 16):
        print(f"  batch {batch}: {_ms_per_chip(embed, chips, batch):.1f} ms/chip")


def _opencv_embedder(onnx_path: Path, threads: int):
    """cv2.dnn on the same ONNX file, for comparison only (slower than onnxruntime here)."""
    import cv2

    cv2.setNumThreads(threads)
    net = cv2.dnn.readNetFromONNX(str(onnx_path))

    def embed(chips: np.ndarray) -> np.ndarray:
        net.setInput(np.ascontiguousarray(chips))
        return net.forward()

    return embed


def check(
    count: int, cache_dir: str, threads: tuple[int, ...], opencv: bool, data: str | None = None
) -> None:
    import time

    import dlib

    dat = dlib_model_path("dlib_face_recognition_resnet_model_v1")
    start = time.perf_counter()
    dlib_resnet_onnx_bytes(dat)
    print(f"conversion: {time.perf_counter() - start:.2f} s")
    chips = _face_chips(count, data)
    model = dlib.face_recognition_model_v1(dat)

    def dlib_embed(batch: np.ndarray) -> np.ndarray:
        return np.array(model.compute_face_descriptor(list(batch)), dtype=np.float32)

    expected = dlib_embed(chips)
    print("dlib")
    _report_speed(dlib_embed, chips)
    for thread_count in threads:
        runtime = DlibResNetOnnx(dat, cache_dir, threads=thread_count)
        _compare(f"onnxruntime {thread_count} thread(s)", runtime.embed(chips), expected)
        _report_speed(runtime.embed, chips)
        if opencv:
            embed = _opencv_embedder(runtime.onnx_path, thread_count)
            _compare(f"cv2.dnn {thread_count} thread(s)", embed(chips), expected)
            _report_speed(embed, chips)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", type=int, metavar="N", required=True, help="chips to compare")
    parser.add_argument(
        "--cache-dir", default=os.path.join(tempfile.gettempdir(), "dlib_onnx_cache")
    )
    parser.add_argument("--threads", default="1,2", help="intra-op thread counts to time")
    parser.add_argument("--opencv", action="store_true", help="also time cv2.dnn")
    parser.add_argument(
        "--data", help="<identity>/<image>.jpg folder of faces (default: random pixels)"
    )
    args = parser.parse_args(argv)
    thread_counts = tuple(int(t) for t in args.threads.split(","))
    check(args.check, args.cache_dir, thread_counts, args.opencv, args.data)


if __name__ == "__main__":
    main()
