"""The Keras layers the training model is built from, and how they fold into ``cell.npz``.

Imported only by ``improv.model.train`` (it needs Keras; the live path never imports it).

- ``OneHot``: value indices to one-hot rows (index -1, the start, gives zeros).
- Shared value features (``features``: a 0/1 matrix, one row per value, one column per feature such as
  "degree 3", "an eighth long", "moves up"; ``value_features``). ``OneHot(features=F)`` appends ``F[v]`` to
  the one-hot of ``v`` and ``SharedDense`` adds to each value's own logit the logits of its features, so
  a rare value learns from the common values that share its degree, duration or move. Both are linear in
  the one-hot, so they fold exactly into the plain layout the numpy cell runs (``fold_input``,
  ``SharedDense.folded``): the live cell is the same size and speed with or without them.
"""

from __future__ import annotations

import keras
import numpy as np

from improv.theory.degrees import MOVES, DegreeVocabulary
from improv.theory.values import Vocabulary


def value_features(vocab: Vocabulary) -> np.ndarray | None:
    """The features of each value of a degree vocabulary (None for others): its degree (or rest), its
    duration, and its move (none, up, down, same)."""
    if not isinstance(vocab, DegreeVocabulary):
        return None
    durations = sorted({v.duration for v in vocab.values})
    columns = 13 + len(durations) + 1 + len(MOVES)
    out = np.zeros((len(vocab), columns), dtype=np.float32)
    for i, value in enumerate(vocab.values):
        out[i, 12 if value.degree is None else value.degree] = 1.0
        out[i, 13 + durations.index(value.duration)] = 1.0
        move = 0 if value.move is None else 1 + MOVES.index(value.move)
        out[i, 13 + len(durations) + move] = 1.0
    return out


@keras.saving.register_keras_serializable(package="improv")
class OneHot(keras.layers.Layer):
    """Integer value indices to one-hot vectors; index -1 (the start) gives all zeros. With ``features``
    (values x features), each row is followed by its value's features."""

    def __init__(self, depth: int, features=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.depth = depth
        self.features = None if features is None else np.asarray(features, dtype=np.float32)

    def call(self, inputs):
        hot = keras.ops.one_hot(inputs, self.depth)
        if self.features is None:
            return hot
        return keras.ops.concatenate([hot, keras.ops.matmul(hot, self.features)], axis=-1)

    def get_config(self) -> dict:
        shared = None if self.features is None else self.features.astype(int).tolist()
        return {**super().get_config(), "depth": self.depth, "features": shared}


def fold_input(kernel: np.ndarray, features: np.ndarray | None) -> np.ndarray:
    """The first LSTM kernel in the cell's layout ([one-hot; conditioning] rows) from one trained on
    [one-hot; features; conditioning]: each value's row plus its features' rows."""
    if features is None:
        return kernel
    n_values, n_features = features.shape
    own = kernel[:n_values] + features @ kernel[n_values : n_values + n_features]
    return np.concatenate([own, kernel[n_values + n_features :]]).astype(kernel.dtype)


@keras.saving.register_keras_serializable(package="improv")
class SharedDense(keras.layers.Layer):
    """Logits ``x W + b + (x W_f + b_f) F^T``: each value's own logit plus its features' (see the module)."""

    def __init__(self, features, **kwargs) -> None:
        super().__init__(**kwargs)
        self.features = np.asarray(features, dtype=np.float32)

    def build(self, input_shape) -> None:
        units, (n_values, n_features) = input_shape[-1], self.features.shape
        self.kernel = self.add_weight(shape=(units, n_values), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(n_values,), initializer="zeros", name="bias")
        self.shared_kernel = self.add_weight(shape=(units, n_features), initializer="glorot_uniform",
                                             name="shared_kernel")
        self.shared_bias = self.add_weight(shape=(n_features,), initializer="zeros", name="shared_bias")

    def call(self, x):
        shared = keras.ops.matmul(x, self.shared_kernel) + self.shared_bias
        return keras.ops.matmul(x, self.kernel) + self.bias + keras.ops.matmul(shared, self.features.T)

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """(dense_w, dense_b) of the one dense layer this computes."""
        w, b, wf, bf = (np.asarray(v) for v in self.get_weights())
        return (w + wf @ self.features.T).astype(np.float32), (b + bf @ self.features.T).astype(np.float32)

    def get_config(self) -> dict:
        return {**super().get_config(), "features": self.features.astype(int).tolist()}
