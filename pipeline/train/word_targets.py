"""Word targets: train a 12-class model on the word of every example, score it on 12 classes.

In label mode 12 the 25 words that are not commands share one class, ``_unknown_``, so
nothing in the loss asks the model to tell "learn" from "left" or "yes" from "yes"-like
onsets of other words. With ``[data] word_targets = true`` the same examples are trained
on their own word (:func:`pipeline.data.loader.word_class_names`: ``_silence_``, the ten
commands, the 25 other words: 36 classes). The trained model then gets a fixed summing
layer after its softmax (:func:`summed_model`): the 12-class posterior of ``_unknown_``
is the sum of the 25 other words' posteriors, every other class keeps its own. The saved
model, its scores and its converted ``.tflite`` therefore have the task's 12 outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SUM_LAYER = "word_sum"  # the fixed 36 -> 12 layer's name in the saved model


def summing_matrix(word_classes: list[str], task_classes: list[str], unknown: str
                   ) -> np.ndarray:
    """``[len(word_classes), len(task_classes)]`` 0/1: word class ``i`` adds its posterior
    to the task class of the same name, or to ``unknown`` when the task has no such class."""
    m = np.zeros((len(word_classes), len(task_classes)), np.float32)
    for i, name in enumerate(word_classes):
        m[i, task_classes.index(name if name in task_classes else unknown)] = 1.0
    return m


def summed_model(model: Any, matrix: np.ndarray) -> Any:
    """``model`` (softmax over the word classes) followed by a fixed, bias-free dense layer
    with ``matrix`` as its kernel: its output is the task classes' posteriors (they sum to
    1, as the softmax's do). The layers of ``model`` are shared, not copied."""
    import tf_keras as keras

    layer = keras.layers.Dense(matrix.shape[1], use_bias=False, trainable=False,
                               name=SUM_LAYER)
    out = layer(model.output)
    layer.set_weights([matrix])
    return keras.Model(model.input, out, name=model.name)
