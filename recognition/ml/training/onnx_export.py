"""A trained tf-keras face embedder as an ONNX graph, served by onnxruntime without TensorFlow.

No converter package: the layers of recognition.ml.training.mobileface (and any model built from
the same kinds of layers) map one to one onto ONNX operators, as recognition.ml.dlib.onnx does for
dlib's network. The graph takes what the Keras model takes, float32 NHWC RGB in [0, 1], turns it
NCHW once, and returns the unit-length embedding. Zero padding is folded into the next
convolution; BatchNorm stays an operator (onnxruntime fuses it into the convolution on load).
The contrastive CNN (recognition.ml.training.networks) adds 'same' padding (TensorFlow's: the odd
pixel goes at the bottom/right, written as explicit asymmetric pads), max pooling and global
average pooling.

    python -m recognition.ml.training.onnx_export --model ARTIFACT [--check-data VAL_DIR]

rewrites ARTIFACT/model.onnx from ARTIFACT/model and, with --check-data, compares the two on the
aligned faces of VAL_DIR (the worst cosine between their embeddings must be >= 1 - 1e-4).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

ONNX_FILE = "model.onnx"
OPSET = 17
INPUT_NAME = "face_rgb01"
OUTPUT_NAME = "face_embedding"
MAX_COSINE_GAP = 1e-4


class UnsupportedLayer(ValueError):
    pass


class GraphBuilder:
    """ONNX nodes and initialisers, one Keras layer at a time (NCHW inside)."""

    def __init__(self):
        self.nodes: list = []
        self.weights: list = []
        self.tensor: dict[str, str] = {}  # keras layer name -> ONNX tensor name of its output
        self.padding: dict[str, list[int]] = {}  # zero-padding layer -> pads for the next conv

    def constant(self, name: str, value: Any) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def source(self, layer) -> tuple[str, list[int]]:
        """(input tensor, pads) of a one-input layer: padding layers pass through."""
        inbound = inbound_names(layer)[0]
        return self.tensor[inbound], self.padding.get(inbound, [0, 0, 0, 0])

    def add_layer(self, layer) -> None:  # noqa: C901 - one branch per layer kind reads best
        kind, name = type(layer).__name__, layer.name
        if kind == "InputLayer":
            self.tensor[name] = self.node(
                "Transpose", [INPUT_NAME], f"{name}/nchw", perm=[0, 3, 1, 2]
            )
            return
        source, pads = self.source(layer)
        if kind == "ZeroPadding2D":
            (top, bottom), (left, right) = layer.padding
            self.tensor[name], self.padding[name] = source, [top, left, bottom, right]
        elif kind == "Normalization":
            mean = np.asarray(layer.mean).reshape(1, -1, 1, 1)
            scale = 1.0 / np.maximum(np.sqrt(np.asarray(layer.variance)), 1e-7).reshape(1, -1, 1, 1)
            centred = self.node("Sub", [source, self.constant(f"{name}/mean", mean)], f"{name}/sub")
            self.tensor[name] = self.node(
                "Mul", [centred, self.constant(f"{name}/scale", scale)], name
            )
        elif kind == "MaxPooling2D":
            self.tensor[name] = self.max_pool(layer, source, pads)
        elif kind == "GlobalAveragePooling2D":
            if layer.keepdims:
                raise UnsupportedLayer(f"{name}: only pooling to [n, C]")
            pooled = self.node("GlobalAveragePool", [source], f"{name}/pool")
            self.tensor[name] = self.node("Flatten", [pooled], name, axis=1)
        elif kind in ("Conv2D", "DepthwiseConv2D"):
            self.tensor[name] = self.convolution(layer, source, pads, kind == "DepthwiseConv2D")
        elif kind == "BatchNormalization":
            gamma, beta, mean, variance = layer.get_weights()
            inputs = [source] + [
                self.constant(f"{name}/{part}", value)
                for part, value in zip(
                    ("scale", "bias", "mean", "var"), (gamma, beta, mean, variance), strict=True
                )
            ]
            self.tensor[name] = self.node(
                "BatchNormalization", inputs, name, epsilon=float(layer.epsilon)
            )
        elif kind == "ReLU":
            low = self.constant(f"{name}/min", np.float32(0.0))
            high = self.constant(
                f"{name}/max", np.float32(layer.max_value or np.finfo(np.float32).max)
            )
            self.tensor[name] = self.node("Clip", [source, low, high], name)
        elif kind == "Add":
            inputs = [self.tensor[n] for n in inbound_names(layer)]
            self.tensor[name] = self.node("Add", inputs, name)
        elif kind == "Flatten":
            if np.prod(layer.input_shape[1:3]) != 1:
                raise UnsupportedLayer(f"{name}: flattening a spatial map reorders it in NCHW")
            self.tensor[name] = self.node("Flatten", [source], name, axis=1)
        elif kind == "Dropout":
            self.tensor[name] = source
        elif kind == "Dense":
            self.tensor[name] = self.dense(layer, source)
        elif kind == "UnitNormalization":
            self.tensor[name] = self.node("LpNormalization", [source], name, axis=1, p=2)
        else:
            raise UnsupportedLayer(f"no ONNX mapping for layer {name} ({kind})")

    def max_pool(self, layer, source: str, pads: list[int]) -> str:
        name = layer.name
        if any(pads):  # zeros would compete in the max; TensorFlow's 'same' pads do not
            raise UnsupportedLayer(f"{name}: max pooling after zero padding")
        if layer.padding == "same":
            pads = same_pads(layer.input_shape, layer.pool_size, layer.strides)
        return self.node(
            "MaxPool",
            [source],
            name,
            kernel_shape=list(layer.pool_size),
            strides=list(layer.strides),
            pads=pads,
        )

    def convolution(self, layer, source: str, pads: list[int], depthwise: bool) -> str:
        name = layer.name
        if layer.activation.__name__ != "linear":
            raise UnsupportedLayer(f"{name}: only convolutions without a fused activation")
        kernel = np.asarray(layer.get_weights()[0])
        if layer.padding == "same":
            if any(pads):
                raise UnsupportedLayer(f"{name}: 'same' padding after zero padding")
            pads = same_pads(layer.input_shape, kernel.shape[:2], layer.strides)
        elif layer.padding != "valid":
            raise UnsupportedLayer(f"{name}: padding {layer.padding!r}")
        if depthwise:  # [k, k, C, 1] -> [C, 1, k, k]
            weight, group = kernel.transpose(2, 3, 0, 1), kernel.shape[2]
        else:  # [k, k, in, out] -> [out, in, k, k]
            weight, group = kernel.transpose(3, 2, 0, 1), 1
        inputs = [source, self.constant(f"{name}/weight", weight)]
        if layer.use_bias:
            inputs.append(self.constant(f"{name}/bias", layer.get_weights()[1]))
        return self.node(
            "Conv",
            inputs,
            name,
            kernel_shape=list(kernel.shape[:2]),
            strides=list(layer.strides),
            pads=pads,
            group=int(group),
        )

    def dense(self, layer, source: str) -> str:
        name = layer.name
        if layer.activation.__name__ != "linear":
            raise UnsupportedLayer(f"{name}: only linear Dense layers")
        weights = layer.get_weights()
        product = self.node(
            "MatMul",
            [source, self.constant(f"{name}/kernel", weights[0])],
            f"{name}/matmul" if layer.use_bias else name,
        )
        if not layer.use_bias:
            return product
        return self.node("Add", [product, self.constant(f"{name}/bias", weights[1])], name)


def same_pads(input_shape, kernel: tuple, strides: tuple) -> list[int]:
    """TensorFlow's 'same' padding as ONNX pads [top, left, bottom, right]: the output side is
    ceil(input / stride) and an odd total pad puts its extra pixel at the end."""
    begin, end = [], []
    for side, size, stride in zip(input_shape[1:3], kernel, strides, strict=True):
        total = max((-(-int(side) // stride) - 1) * stride + size - int(side), 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end


def inbound_names(layer) -> list[str]:
    inbound = layer._inbound_nodes[0].inbound_layers  # noqa: SLF001 - tf-keras has no public API
    return [item.name for item in (inbound if isinstance(inbound, list) else [inbound])]


def onnx_model_bytes(model) -> bytes:
    """The Keras model as a serialised ONNX model (NHWC float32 in, [n, d] unit vectors out)."""
    import onnx
    from onnx import TensorProto, helper

    builder = GraphBuilder()
    for layer in model.layers:
        builder.add_layer(layer)
    last = builder.tensor[model.layers[-1].name]
    builder.node("Identity", [last], OUTPUT_NAME)
    size = int(model.input_shape[1])
    graph = helper.make_graph(
        builder.nodes,
        model.name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["n", size, size, 3])],
        [
            helper.make_tensor_value_info(
                OUTPUT_NAME, TensorProto.FLOAT, ["n", int(model.output_shape[-1])]
            )
        ],
        builder.weights,
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facepass"
    )
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def export_onnx(model, out: str | Path) -> Path:
    path = Path(out) / ONNX_FILE
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(onnx_model_bytes(model))
    partial.replace(path)
    return path


def worst_cosine(model, path: str | Path, crops: np.ndarray, batch_size: int = 64) -> float:
    """Smallest cosine between the Keras and the ONNX embedding of the same uint8 crops."""
    from recognition.ml.runtime.embedders.mobilenet import onnx_session

    session = onnx_session(Path(path), threads=1)
    worst = 1.0
    for start in range(0, len(crops), batch_size):
        images = crops[start : start + batch_size].astype(np.float32) / 255.0
        keras_out = model(images, training=False).numpy()
        onnx_out = session.run(None, {INPUT_NAME: images})[0]
        cosine = np.sum(keras_out * onnx_out, axis=1) / (
            np.linalg.norm(keras_out, axis=1) * np.linalg.norm(onnx_out, axis=1)
        )
        worst = min(worst, float(cosine.min()))
    return worst


def main(argv=None) -> None:
    from recognition.ml.runtime.artifacts import read_metadata
    from recognition.ml.tools.cli import CliError, add_detector_arguments, detector_from_args
    from recognition.ml.training.data import load_faces
    from recognition.ml.training.run_files import load_model, write_metadata

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="artifact directory with model/")
    parser.add_argument("--check-data", help="<identity>/<image> folder to compare on")
    parser.add_argument("--cache-dir", help="aligned-crop cache")
    add_detector_arguments(parser)
    args = parser.parse_args(argv)
    metadata = read_metadata(args.model)
    model = load_model(args.model)
    path = export_onnx(model, args.model)
    metadata["onnx"] = path.name
    if args.check_data:
        faces = load_faces(
            args.check_data,
            detector_from_args(args),
            size=int(metadata["input_size"]),
            margin=float(metadata["margin"]),
            cache_dir=args.cache_dir,
            progress=False,
        )
        worst = worst_cosine(model, path, faces.crops)
        metadata["onnx_check"] = {
            "data": args.check_data,
            "faces": len(faces),
            "worst_cosine": worst,
        }
        print(f"{len(faces)} faces: worst Keras/ONNX cosine {worst:.8f}")
        if worst < 1.0 - MAX_COSINE_GAP:
            raise CliError(f"ONNX differs from Keras: worst cosine {worst:.6f}")
    write_metadata(Path(args.model), metadata)
    print(path)


if __name__ == "__main__":
    from recognition.ml.tools.cli import run_cli

    run_cli(main)
