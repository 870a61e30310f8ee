"""TensorFlow against the PyTorch twin: `compare` gives the verdict (`stepwise`: teacher-forced step parity; the
float32/float64 rounding envelope), `report` writes the files.

Outside `nst_tf.twin` on purpose: the twin is the PyTorch mirror and never imports TensorFlow, while the
comparison needs both (`tf_side` holds the TensorFlow half of the measurements).
"""
