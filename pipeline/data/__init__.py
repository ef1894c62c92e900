"""Reading speech data: the GSC v2 layout, WAV audio, features and the tf.data loader."""
