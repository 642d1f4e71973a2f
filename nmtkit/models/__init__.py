"""Keras model components: attention, encoder, decoder and the sequence-to-sequence model."""

import os

# nmtkit's layers use TensorFlow ops (tf.while_loop, TensorArray) directly.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
