"""Models, losses and augmentation for recognition.ml.training.train. TensorFlow is imported lazily.

Every model here maps float32 RGB in [0, 1] to unit-length embeddings, so one distance serves
both recipes: for unit vectors the Euclidean distance d and the cosine similarity s are tied by
d^2 = 2 - 2s, and thresholds measured on cosine similarity (recognition.ml.tools.evaluate) apply.
"""

from __future__ import annotations

from recognition.ml.keras_compat import tensorflow_modules

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma
CONTRASTIVE_INPUT_SIZE = 100


def tensorflow():
    """(tf, tf_keras), imported on first use."""
    tf, keras, _ = tensorflow_modules()
    return tf, keras


def build_contrastive_cnn(
    dimensions: int = 128, input_size: int = CONTRASTIVE_INPUT_SIZE, dropout: float = 0.3
):
    """SigNet-style CNN on 100x100 grayscale: [b, 100, 100, 3] RGB in [0, 1] -> unit [b, 128].

    The grayscale conversion is a frozen 1x1 convolution inside the model, so the artifact takes
    the same RGB crops as every other embedder. Conv 11x11x96 (stride 2, to keep CPU training
    affordable), 5x5x256 and 3x3x384, each with BatchNorm, ReLU and 3x3/2 max pooling, dropout
    after the last two; global average pooling; Dense 128; L2 normalisation (so the Euclidean
    distance lies in [0, 2] and the contrastive margin has a fixed scale). dropout=0 drops
    the dropout layers (distillation, whose teacher targets on augmented views regularise).
    """
    import numpy as np

    _, keras = tensorflow()
    layers = keras.layers
    inputs = keras.Input((input_size, input_size, 3), name="face_rgb01")
    gray = layers.Conv2D(1, 1, use_bias=False, trainable=False, name="grayscale")
    x = gray(inputs)
    gray.set_weights([np.array(GRAY_WEIGHTS, np.float32).reshape(1, 1, 3, 1)])
    blocks = ((96, 11, 2, 0.0), (256, 5, 1, dropout), (384, 3, 1, dropout))
    for index, (filters, kernel, stride, dropout) in enumerate(blocks, start=1):
        x = layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=False, name=f"conv{index}"
        )(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{index}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{index}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(dimensions, name="projection")(x)
    outputs = layers.UnitNormalization(axis=1, name="l2_normalise")(x)
    return keras.Model(inputs, outputs, name="contrastive_cnn_embedding")


# ---- losses: embeddings [b, d] unit length, labels [b] int ----


def pairwise_masks(labels):
    tf, _ = tensorflow()
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    return tf.logical_and(same, not_self), tf.logical_not(same)


def cosine_distance(embeddings):
    tf, _ = tensorflow()
    return 1.0 - tf.matmul(embeddings, embeddings, transpose_b=True)


def batch_hard_triplet_loss(embeddings, labels, margin: float = 0.2):
    """Per anchor: hardest positive vs hardest negative, hinge at margin, cosine distance."""
    tf, _ = tensorflow()
    distance = cosine_distance(embeddings)
    positive, negative = pairwise_masks(labels)
    hardest_positive = tf.reduce_max(tf.where(positive, distance, -1.0), axis=1)
    hardest_negative = tf.reduce_min(tf.where(negative, distance, 3.0), axis=1)
    valid = tf.logical_and(tf.reduce_any(positive, 1), tf.reduce_any(negative, 1))
    losses = tf.nn.relu(hardest_positive - hardest_negative + margin)
    return masked_mean(losses, valid)


def semi_hard_triplet_loss(embeddings, labels, margin: float = 0.2):
    """FaceNet mining: every (anchor, positive) with the closest negative farther than the
    positive; when no negative is, the farthest one (an easy triplet, small loss)."""
    tf, _ = tensorflow()
    distance = cosine_distance(embeddings)
    positive, negative = pairwise_masks(labels)
    d_ap = distance[:, :, None]  # [anchor, positive, 1]
    d_an = distance[:, None, :]  # [anchor, 1, negative]
    semi = tf.logical_and(negative[:, None, :], d_an > d_ap)
    closest_semi = tf.reduce_min(tf.where(semi, d_an, 3.0), axis=2)
    farthest = tf.reduce_max(tf.where(negative, distance, -1.0), axis=1)[:, None]
    chosen = tf.where(tf.reduce_any(semi, axis=2), closest_semi, farthest)
    losses = tf.nn.relu(distance - chosen + margin)
    valid = tf.logical_and(positive, tf.reduce_any(negative, 1)[:, None])
    return masked_mean(losses, valid)


def contrastive_loss(embeddings, labels, margin: float = 1.0):
    """Hadsell et al. on Euclidean distance: d^2 for positive pairs, max(0, margin - d)^2 for
    negative ones. Positive and negative pairs are averaged separately and weighted equally, so
    the loss is balanced whatever their counts in the P x K batch."""
    tf, _ = tensorflow()
    similarity = tf.matmul(embeddings, embeddings, transpose_b=True)
    squared = tf.maximum(2.0 - 2.0 * similarity, 0.0)
    distance = tf.sqrt(squared + 1e-12)
    positive, negative = pairwise_masks(labels)
    pull = masked_mean(squared, positive)
    push = masked_mean(tf.square(tf.nn.relu(margin - distance)), negative)
    return 0.5 * (pull + push)


def masked_mean(values, mask):
    tf, _ = tensorflow()
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def distillation_loss(embeddings, teacher):
    """Mean cosine distance to the teacher's unit embeddings of the same faces."""
    tf, _ = tensorflow()
    return tf.reduce_mean(1.0 - tf.reduce_sum(embeddings * teacher, axis=1))


LOSSES = {
    "batch-hard": batch_hard_triplet_loss,
    "semi-hard": semi_hard_triplet_loss,
    "contrastive": contrastive_loss,
}


# ---- augmentation: float32 [b, h, w, 3] in [0, 1] ----


def augment(images, generator, blur_probability: float = 0.2):
    """Random flip, crop/resize jitter, brightness/contrast and occasional 3x3 blur, per image."""
    tf, _ = tensorflow()
    batch = tf.shape(images)[0]
    flip = generator.uniform([batch, 1, 1, 1]) < 0.5
    images = tf.where(flip, tf.image.flip_left_right(images), images)
    images = crop_jitter(images, generator)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = generator.uniform([batch, 1, 1, 1], 0.8, 1.2)
    brightness = generator.uniform([batch, 1, 1, 1], -0.12, 0.12)
    images = (images - mean) * contrast + mean + brightness
    blur = generator.uniform([batch, 1, 1, 1]) < blur_probability
    images = tf.where(blur, box_blur(images), images)
    return tf.clip_by_value(images, 0.0, 1.0)


def crop_jitter(images, generator, min_scale: float = 0.85):
    """A random box of 85-100% of the side, anywhere in the frame, resized back."""
    tf, _ = tensorflow()
    batch = tf.shape(images)[0]
    scale = generator.uniform([batch, 1], min_scale, 1.0)
    offset = generator.uniform([batch, 2]) * (1.0 - scale)
    boxes = tf.concat([offset, offset + scale], axis=1)  # y1, x1, y2, x2
    size = tf.shape(images)[1:3]
    return tf.image.crop_and_resize(images, boxes, tf.range(batch), size)


def box_blur(images):
    tf, _ = tensorflow()
    kernel = tf.ones([3, 3, 3, 1], images.dtype) / 9.0
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")


def make_train_step(
    model,
    loss_fn,
    optimizer,
    generator,
    use_augmentation: bool = True,
    distill_weight: float = 0.0,
):
    """One compiled step: uint8 crops [b, s, s, 3], labels [b] and teacher embeddings [b, d]
    (ignored when distill_weight is 0) in, the batch loss out.
    Build a new one whenever the set of trainable variables changes."""
    tf, _ = tensorflow()

    @tf.function(reduce_retracing=True)
    def step(crops, labels, teacher):
        images = tf.cast(crops, tf.float32) / 255.0
        if use_augmentation:
            images = augment(images, generator)
        with tf.GradientTape() as tape:
            embeddings = model(images, training=True)
            loss = loss_fn(embeddings, labels)
            if distill_weight:
                loss += distill_weight * distillation_loss(embeddings, teacher)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def embed_crops(model, crops, batch_size: int = 64):
    """Inference embeddings as numpy float32 [n, d]."""
    import numpy as np

    chunks = [
        model(crops[start : start + batch_size].astype(np.float32) / 255.0, training=False).numpy()
        for start in range(0, len(crops), batch_size)
    ]
    return np.concatenate(chunks).astype(np.float32)
