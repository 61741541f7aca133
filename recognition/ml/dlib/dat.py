"""Reader of dlib's ResNet face descriptor file (dlib_face_recognition_resnet_model_v1.dat).

numpy only, following dlib 20.0.1's serialize.h, cuda/tensor.h, dnn/core.h, dnn/layers.h,
dnn/input.h and dnn/loss.h: the weights of each layer in forward order, for
recognition.ml.dlib.onnx to rebuild the same network. Every byte of the file must be consumed,
which checks that the layout was understood.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import numpy as np

INPUT_SIZE = 150
DESCRIPTOR_SIZE = 128


class DlibModelFormatError(ValueError):
    """The .dat file is not the dlib ResNet face descriptor model this module understands."""


# ---------------------------------------------------------------------------------------------
# The network definition (tools/python/src/face_recognition.cpp, anet_type), outermost layer
# first, because that is the order dlib serializes in: each layer writes its version, then its
# whole subnetwork, then its own details.


def _block(filters: int, stride: int) -> list[tuple]:
    # block = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    return [
        ("affine",),
        ("con", filters, 3, 1),
        ("relu",),
        ("affine",),
        ("con", filters, 3, stride),
    ]


def _ares(filters: int) -> list[tuple]:
    # relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>
    return [("relu",), ("add_prev", 1), *_block(filters, 1), ("tag", 1)]


def _ares_down(filters: int) -> list[tuple]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>
    return [
        ("relu",),
        ("add_prev", 2),
        ("avg_pool", 2, 2),
        ("skip", 1),
        ("tag", 2),
        *_block(filters, 2),
        ("tag", 1),
    ]


def anet_layers() -> list[tuple]:
    """anet_type, outermost (loss) first, input last."""
    levels = (
        _ares_down(256)  # alevel0
        + _ares(256) * 2
        + _ares_down(256)  # alevel1
        + _ares(128) * 2
        + _ares_down(128)  # alevel2
        + _ares(64) * 3
        + _ares_down(64)  # alevel3
        + _ares(32) * 3  # alevel4
    )
    return [
        ("loss_metric",),
        ("fc", DESCRIPTOR_SIZE),
        ("avg_pool", 0, 1),  # avg_pool_everything
        *levels,
        ("max_pool", 3, 2),
        ("relu",),
        ("affine",),
        ("con", 32, 7, 2),
        ("input", INPUT_SIZE),
    ]


# ---------------------------------------------------------------------------------------------
# dlib's serialization primitives (dlib/serialize.h).


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0
        self.what = "file"  # what is being read, for error messages

    def take(self, count: int) -> memoryview:
        end = self.pos + count
        if end > len(self.data):
            raise DlibModelFormatError(
                f"dlib model file is truncated: needed {count} bytes at offset {self.pos} "
                f"while reading {self.what}, only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def int(self, signed: bool = True) -> int:
        # A control byte (size in the low 4 bits, sign in 0x80) then that many little-endian bytes.
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DlibModelFormatError(
                f"bad integer control byte 0x{control:02x} at offset {self.pos - 1} "
                f"while reading {self.what}"
            )
        value = int.from_bytes(self.take(size), "little")
        return -value if signed and control & 0x80 else value

    def float(self) -> float:
        # Stored as float_details: int64 mantissa, int16 exponent, value = mantissa * 2**exponent;
        # dlib converts with ldexp((T)mantissa, exponent). Values here came from floats or doubles,
        # so the double result is exact and the float cast rounds once, as dlib's does.
        first = self.data[self.pos] if self.pos < len(self.data) else 0
        if first & 0x70:
            raise DlibModelFormatError(
                f"old ASCII float format at offset {self.pos} while reading {self.what}"
            )
        mantissa, exponent = self.int(), self.int()
        special = {32000: np.inf, 32001: -np.inf, 32002: np.nan}
        return (
            special[exponent] if exponent in special else float(np.ldexp(float(mantissa), exponent))
        )

    def string(self) -> str:
        size = self.int(signed=False)
        return bytes(self.take(size)).decode("latin-1")

    def bool(self) -> bool:
        char = bytes(self.take(1))
        if char not in (b"0", b"1"):
            raise DlibModelFormatError(f"bad bool {char!r} at offset {self.pos - 1} in {self.what}")
        return char == b"1"

    def tensor(self) -> np.ndarray:
        # resizable_tensor: version 2, n,k,nr,nc, raw little-endian float32 (not float_details).
        version = self.int()
        if version != 2:
            raise DlibModelFormatError(f"tensor version {version} (expected 2) in {self.what}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def alias_tensor(self) -> tuple[builtins.int, ...]:
        version = self.int()
        if version != 1:
            raise DlibModelFormatError(
                f"alias_tensor version {version} (expected 1) in {self.what}"
            )
        return tuple(self.int() for _ in range(4))

    def expect_version(self, allowed: tuple[str, ...]) -> str:
        version = self.string()
        if version not in allowed:
            raise DlibModelFormatError(
                f"found layer {version!r} where {' or '.join(allowed)} was expected "
                f"(offset {self.pos}): not the dlib ResNet face descriptor model"
            )
        return version


# ---------------------------------------------------------------------------------------------
# Layer details (dlib/dnn/layers.h, input.h, loss.h). Each returns a dict describing the layer.


def _read_con(reader: _Reader, spec: tuple) -> dict:
    _, filters, size, stride = spec
    version = reader.expect_version(("con_4", "con_5", "con_6"))
    params = reader.tensor()
    num_filters, nr, nc = reader.int(), reader.int(), reader.int()
    stride_y, stride_x = reader.int(), reader.int()
    pad_y, pad_x = reader.int(), reader.int()
    filters_shape = reader.alias_tensor()
    biases_shape = reader.alias_tensor()
    for _ in range(4):  # learning rate / weight decay multipliers
        reader.float()
    use_bias = reader.bool() if version in ("con_5", "con_6") else True
    if version == "con_6" and reader.bool():
        raise DlibModelFormatError("con_ with fused relu is not supported")
    # dlib's default padding: 0 when strided, size/2 otherwise; the file must agree.
    expected_pad = 0 if stride != 1 else size // 2
    if (num_filters, nr, nc, stride_y, stride_x, pad_y, pad_x) != (
        filters,
        size,
        size,
        stride,
        stride,
        expected_pad,
        expected_pad,
    ):
        raise DlibModelFormatError(
            f"con_ layer {num_filters}x{nr}x{nc}/{stride_y} pad {pad_y} does not match "
            f"the expected {filters}x{size}x{size}/{stride}"
        )
    flat = params.reshape(-1)
    weight_count = int(np.prod(filters_shape))
    weights = flat[:weight_count].reshape(filters_shape)  # OIHW, as ONNX wants
    bias = None
    if use_bias and int(np.prod(biases_shape)) and flat.size >= weight_count + num_filters:
        bias = flat[weight_count : weight_count + num_filters].copy()
    return {"kind": "con", "weights": weights, "bias": bias, "stride": stride, "pad": expected_pad}


def _read_bn_as_affine(reader: _Reader) -> dict:
    # affine_ can be loaded from a bn_con2 and converts it with float arithmetic (layers.h).
    params = reader.tensor().reshape(-1)
    gamma_shape = reader.alias_tensor()
    reader.alias_tensor()  # beta
    for _ in range(2):  # means, invstds of the last training batch
        reader.tensor()
    running_means = reader.tensor().reshape(-1)
    running_variances = reader.tensor().reshape(-1)
    reader.int(signed=False)  # num_updates
    reader.int(signed=False)  # running_stats_window_size
    for _ in range(4):
        reader.float()
    eps = np.float32(reader.float())
    channels = int(np.prod(gamma_shape))
    gamma = params[:channels] / np.sqrt(running_variances + eps)
    beta = params[channels : 2 * channels] - gamma * running_means
    return {"kind": "affine", "gamma": gamma.astype(np.float32), "beta": beta.astype(np.float32)}


def _read_affine(reader: _Reader, spec: tuple) -> dict:
    version = reader.expect_version(("affine_", "affine_2", "bn_con2"))
    if version == "bn_con2":
        return _read_bn_as_affine(reader)
    params = reader.tensor().reshape(-1)
    gamma_shape = reader.alias_tensor()
    reader.alias_tensor()  # beta
    mode = reader.int()
    disabled = reader.bool() if version == "affine_2" else False
    if mode != 0 or disabled:  # CONV_MODE == 0: one gamma/beta per channel
        raise DlibModelFormatError(
            f"affine_ layer in mode {mode}, disabled={disabled} is not supported"
        )
    channels = int(np.prod(gamma_shape))
    return {
        "kind": "affine",
        "gamma": params[:channels].copy(),
        "beta": params[channels : 2 * channels].copy(),
    }


def _read_relu(reader: _Reader, spec: tuple) -> dict:
    version = reader.expect_version(("relu_", "relu_2"))
    if version == "relu_2" and reader.bool():
        raise DlibModelFormatError("disabled relu_ is not supported")
    return {"kind": "relu"}


def _read_pool(reader: _Reader, spec: tuple) -> dict:
    kind, size, stride = spec
    reader.expect_version((f"{kind}_2",))
    values = tuple(reader.int() for _ in range(6))  # nr, nc, stride_y, stride_x, pad_y, pad_x
    expected_pad = 0 if stride != 1 else size // 2
    if values != (size, size, stride, stride, expected_pad, expected_pad):
        raise DlibModelFormatError(f"{kind}_ layer {values} does not match the expected {spec}")
    return {"kind": kind, "size": size, "stride": stride}


def _read_add_prev(reader: _Reader, spec: tuple) -> dict:
    reader.expect_version(("add_prev_",))
    return {"kind": "add_prev", "tag": spec[1]}


def _read_fc(reader: _Reader, spec: tuple) -> dict:
    version = reader.expect_version(("fc_2", "fc_3"))
    num_outputs, num_inputs = reader.int(signed=False), reader.int(signed=False)
    params = reader.tensor().reshape(-1)
    reader.alias_tensor()  # weights
    reader.alias_tensor()  # biases
    bias_mode = reader.int()
    for _ in range(4):
        reader.float()
    if version == "fc_3":
        reader.bool()  # use_bias, irrelevant for fc_no_bias
    if num_outputs != spec[1] or bias_mode != 1:  # FC_NO_BIAS == 1
        raise DlibModelFormatError(f"fc_ layer with {num_outputs} outputs, bias mode {bias_mode}")
    # output = input (n x num_inputs) * weights (num_inputs x num_outputs), row-major.
    weights = params[: num_inputs * num_outputs].reshape(num_inputs, num_outputs).copy()
    return {"kind": "fc", "weights": weights}


def _read_input(reader: _Reader, spec: tuple) -> dict:
    reader.expect_version(("input_rgb_image_sized",))
    mean = np.array([reader.float() for _ in range(3)], dtype=np.float32)  # R, G, B
    size = (reader.int(signed=False), reader.int(signed=False))
    if size != (spec[1], spec[1]):
        raise DlibModelFormatError(f"input size {size}, expected {spec[1]}x{spec[1]}")
    return {"kind": "input", "mean": mean, "size": spec[1]}


def _read_loss(reader: _Reader) -> None:
    if reader.expect_version(("loss_metric_", "loss_metric_2")) == "loss_metric_2":
        for _ in range(2):  # margin, distance threshold: training only
            reader.float()


_DETAIL_READERS = {
    "con": _read_con,
    "affine": _read_affine,
    "relu": _read_relu,
    "max_pool": _read_pool,
    "avg_pool": _read_pool,
    "add_prev": _read_add_prev,
    "fc": _read_fc,
}


# ---------------------------------------------------------------------------------------------
# The wrappers of dlib/dnn/core.h, read recursively: version, subnetwork, then own details.


def _read_layer_trailer(reader: _Reader, with_params_grad: bool) -> None:
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, ..._disabled
        reader.bool()
    reader.tensor()  # x_grad
    reader.tensor()  # cached_output
    if with_params_grad:
        reader.tensor()


def _read_net(reader: _Reader, specs: list[tuple], index: int, out: list[dict]) -> None:
    """Reads specs[index:] (one layer and its subnetwork); appends layers to out, input first."""
    spec = specs[index]
    kind = spec[0]
    reader.what = f"layer {index} ({kind})"
    version = reader.int()
    if kind in ("tag", "skip"):
        if version != 1:
            raise DlibModelFormatError(f"{kind} layer version {version} at offset {reader.pos}")
        _read_net(reader, specs, index + 1, out)
        out.append({"kind": kind, "tag": spec[1]})
        return
    if specs[index + 1][0] == "input":  # add_layer<LAYER, INPUT_LAYER> specialisation
        if version not in (2, 3):
            raise DlibModelFormatError(f"input add_layer version {version} at offset {reader.pos}")
        out.append(_read_input(reader, specs[index + 1]))
        layer = _DETAIL_READERS[kind](reader, spec)
        _read_layer_trailer(reader, with_params_grad=False)
        reader.tensor()  # grad_final
        if version >= 3:
            reader.int(signed=False)  # sample_expansion_factor
        out.append(layer)
        return
    if version not in (1, 2):
        raise DlibModelFormatError(
            f"add_layer version {version} at offset {reader.pos}: not a dlib net"
        )
    _read_net(reader, specs, index + 1, out)
    reader.what = f"layer {index} ({kind})"
    layer = _DETAIL_READERS[kind](reader, spec)
    _read_layer_trailer(reader, with_params_grad=version == 2)
    out.append(layer)


def dlib_resnet_weights(dat_path: str | os.PathLike) -> list[dict]:
    """The layers of the .dat in forward order (input first), each a dict with "kind" and numpy
    arrays: con (weights OIHW, bias or None, stride, pad), affine (gamma, beta), relu,
    max_pool/avg_pool (size 0 = whole image, stride), tag/skip/add_prev (tag), fc (weights
    [inputs, 128]) and input (RGB mean)."""
    data = Path(dat_path).read_bytes()
    reader = _Reader(data)
    specs = anet_layers()
    reader.what = "loss layer"
    if reader.int() != 1:
        raise DlibModelFormatError("not a dlib network file (add_loss_layer version is not 1)")
    _read_loss(reader)
    layers: list[dict] = []
    _read_net(reader, specs, 1, layers)
    if reader.pos != len(data):
        raise DlibModelFormatError(f"{len(data) - reader.pos} unexpected bytes after the network")
    return layers
