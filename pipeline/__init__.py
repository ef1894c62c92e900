"""kwsq pipeline: data, features, training, conversion, verification and evaluation.

TF_USE_LEGACY_KERAS must be set before TensorFlow is first imported so that
``tf.keras`` is tf_keras (Keras 2); tfmot refuses Keras 3 models.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
