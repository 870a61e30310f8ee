"""The PyTorch mirror of the optimisation and the TF-vs-PyTorch parity report."""
