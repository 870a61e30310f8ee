"""One-pass style networks: the generators, the tf.data photo pipeline, the perceptual loss, the training session,
model folders and `stylize`. Modules are imported on use (no TensorFlow at `import nst_tf.feedforward`)."""
