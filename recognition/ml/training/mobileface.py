"""MobileNetV2 at face resolution with a MobileFaceNet-style head, as a plain tf-keras model.

The backbone is rebuilt layer for layer (stem, blocks b1..b17, head conv) with the names of the
shared SavedModel (`mobilenet_v2_100_feature_vector_dynamic`, torchvision's ImageNet weights), and
its weights are copied in by variable name; `backbone_matches_savedmodel` checks the rebuilt
network against the SavedModel. A plain Keras graph (rather than hub.KerasLayer, whose output is
the pooled 1280-d vector) exposes the spatial map the face head needs, freezes by block, and
exports to ONNX op by op (recognition.ml.training.onnx_export).

Face head (MobileFaceNets, arXiv 1804.07573): a global depthwise convolution over the final map
instead of average pooling (it weighs the face's regions differently), BatchNorm, a linear
128-d embedding, BatchNorm, L2 normalisation.

Input: float32 RGB in [0, 1], [b, size, size, 3]; ImageNet mean/std normalisation is the first
layer, as in the SavedModel.
"""

from __future__ import annotations

from pathlib import Path

from recognition.ml.keras_compat import tensorflow_modules

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPSILON = 1e-5  # torchvision's
# (expansion, output channels, stride) of blocks b1..b17 (torchvision's inverted residual table).
BLOCKS = (
    [(1, 16, 1)]
    + [(6, 24, 2), (6, 24, 1)]
    + [(6, 32, 2)]
    + [(6, 32, 1)] * 2
    + [(6, 64, 2)]
    + [(6, 64, 1)] * 3
    + [(6, 96, 1)] * 3
    + [(6, 160, 2)]
    + [(6, 160, 1)] * 2
    + [(6, 320, 1)]
)
BLOCK_COUNT = len(BLOCKS)  # 17
HEAD_CHANNELS = 1280


def keras():
    return tensorflow_modules()[1]


def conv_bn(x, name: str, filters: int, kernel: int = 1, stride: int = 1, relu: bool = True):
    """Conv (no bias) + BN (+ ReLU6); a 3x3 pads one pixel each side like torchvision."""
    layers = keras().layers
    if kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def depthwise_bn(x, name: str, stride: int):
    layers = keras().layers
    x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def inverted_residual(x, index: int, expansion: int, channels: int, stride: int):
    name = f"b{index}"
    inputs = x
    if expansion != 1:
        x = conv_bn(x, f"{name}_expand", int(x.shape[-1]) * expansion)
    x = depthwise_bn(x, f"{name}_dw", stride)
    x = conv_bn(x, f"{name}_project", channels, relu=False)
    if stride == 1 and int(inputs.shape[-1]) == channels:
        x = keras().layers.Add(name=f"{name}_add")([inputs, x])
    return x


def backbone_layers(inputs):
    """[b, s, s, 3] in [0, 1] -> the 1280-channel map before pooling."""
    layers = keras().layers
    variance = [s * s for s in IMAGENET_STD]
    normalise = layers.Normalization(
        mean=IMAGENET_MEAN, variance=variance, name="imagenet_normalise"
    )
    x = normalise(inputs)
    x = conv_bn(x, "stem", 32, kernel=3, stride=2)
    for index, (expansion, channels, stride) in enumerate(BLOCKS, start=1):
        x = inverted_residual(x, index, expansion, channels, stride)
    return conv_bn(x, "head", HEAD_CHANNELS)


def build_backbone(input_size: int):
    """The rebuilt SavedModel: [b, s, s, 3] -> pooled [b, 1280] (for the equality check)."""
    k = keras()
    inputs = k.Input((input_size, input_size, 3), name="face_rgb01")
    pooled = k.layers.GlobalAveragePooling2D(name="pool")(backbone_layers(inputs))
    return k.Model(inputs, pooled, name="mobilenetv2_backbone")


def build_face_model(input_size: int = 112, dimensions: int = 128, dropout: float = 0.0):
    """MobileNetV2 + global depthwise conv + BN + linear 128 + BN + L2 -> unit [b, 128]."""
    k = keras()
    layers = k.layers
    inputs = k.Input((input_size, input_size, 3), name="face_rgb01")
    x = backbone_layers(inputs)
    side = int(x.shape[1])
    x = layers.DepthwiseConv2D(side, use_bias=False, name="gdc")(x)  # [b, 1, 1, 1280]
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name="gdc_bn")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dimensions, use_bias=False, name="embedding")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.9, name="embedding_bn")(x)
    outputs = layers.UnitNormalization(axis=1, name="l2_normalise")(x)
    return k.Model(inputs, outputs, name="mobilenetv2_face")


def savedmodel_variables(handle: str | Path) -> dict:
    """{variable name without ':0': numpy array} of the backbone SavedModel at a local path."""
    tf = tensorflow_modules()[0]
    loaded = tf.saved_model.load(str(handle))
    return {v.name.split(":")[0]: v.numpy() for v in loaded.variables}


def load_backbone_weights(model, handle: str | Path) -> int:
    """Copy the SavedModel's weights into the layers of the same names; returns how many
    layers were filled. Raises, having changed nothing, if a backbone layer finds no weights
    of its name and shape (a different network)."""
    values = savedmodel_variables(handle)
    plan = []
    for layer in model.layers:
        if not layer.weights or layer.name.startswith(("gdc", "embedding")):
            continue
        weights = []
        for variable in layer.weights:
            name = f"{layer.name}/{variable.name.split('/')[-1].split(':')[0]}"
            value = values.get(name)
            if value is None or tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{handle} has no {name} {variable.shape}: not the expected MobileNetV2"
                )
            weights.append(value)
        plan.append((layer, weights))
    for layer, weights in plan:
        layer.set_weights(weights)
    return len(plan)


def block_of(layer_name: str) -> int:
    """0 for the stem, 1..17 for blocks b1..b17, 18 for the head conv and the face head."""
    if layer_name.startswith(("stem", "imagenet")):
        return 0
    if layer_name.startswith("b") and layer_name[1:2].isdigit():
        return int(layer_name[1:].split("_")[0])
    return BLOCK_COUNT + 1


def freeze_until(model, block: int, backbone_batchnorm: bool = False) -> None:
    """Freeze the stem and blocks 1..block (0: only the stem; -1: nothing). Frozen BatchNorm
    layers run in inference mode, so their statistics stay ImageNet's. Unless
    backbone_batchnorm, every backbone BatchNorm stays frozen: measured on celeba-dev, moving
    statistics re-estimated from small face batches while the weights move fell far from the
    batch statistics (inference-mode activations 50-100x smaller than training-mode ones after
    150 steps, val AUC 0.66), so only the face head's BatchNorm layers learn their statistics."""
    for layer in model.layers:
        in_backbone = not layer.name.startswith(("gdc", "embedding"))
        frozen_norm = in_backbone and not backbone_batchnorm and is_batchnorm(layer)
        layer.trainable = block_of(layer.name) > block and not frozen_norm


def is_batchnorm(layer) -> bool:
    return type(layer).__name__ == "BatchNormalization"
