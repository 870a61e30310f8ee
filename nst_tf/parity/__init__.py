"""TensorFlow against the PyTorch twin: `compare` measures both from one start, `report` writes the files.

Outside `nst_tf.twin` on purpose: the twin is the PyTorch mirror and never imports TensorFlow, while the
comparison needs both (`tf_side` holds the TensorFlow half of the measurements).
"""
