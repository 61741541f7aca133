"""Losses of consistent online distillation; embeddings are unit length, [b, d].

cosine: mean (1 - cos) between the student's and the teacher's embedding of the same view.
relational (RKD, arXiv 1904.05068, angle-free form): mean squared difference of the two batch
cosine-similarity matrices off the diagonal, i.e. the geometry of the batch that verification
thresholds use. triplet: the project's batch-hard triplet on identity labels, kept small.
"""

from __future__ import annotations

from dataclasses import dataclass

from recognition.ml.training.networks import batch_hard_triplet_loss, contrastive_loss, tensorflow


@dataclass(frozen=True)
class LossWeights:
    cosine: float = 1.0
    relational: float = 4.0
    triplet: float = 0.1
    triplet_margin: float = 0.2
    contrastive: float = 0.0
    contrastive_margin: float = 1.0


def cosine_distillation(student, teacher):
    tf, _ = tensorflow()
    return tf.reduce_mean(1.0 - tf.reduce_sum(student * teacher, axis=1))


def relational_distillation(student, teacher):
    tf, _ = tensorflow()
    size = tf.shape(student)[0]
    off_diagonal = 1.0 - tf.eye(size, dtype=student.dtype)
    gap = tf.matmul(student, student, transpose_b=True) - tf.matmul(
        teacher, teacher, transpose_b=True
    )
    return tf.reduce_sum(tf.square(gap) * off_diagonal) / tf.reduce_sum(off_diagonal)


def distillation_losses(student, teacher, labels, weights: LossWeights) -> dict:
    """{"cosine", "relational", "triplet", "contrastive", "total"} scalar tensors."""
    parts = {
        "cosine": cosine_distillation(student, teacher),
        "relational": relational_distillation(student, teacher),
        "triplet": batch_hard_triplet_loss(student, labels, weights.triplet_margin),
        "contrastive": contrastive_loss(student, labels, weights.contrastive_margin),
    }
    parts["total"] = (
        weights.cosine * parts["cosine"]
        + weights.relational * parts["relational"]
        + weights.triplet * parts["triplet"]
        + weights.contrastive * parts["contrastive"]
    )
    return parts
