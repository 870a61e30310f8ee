"""The PyTorch mirror of the optimisation (no TensorFlow import; the comparison is nst_tf.parity)."""
