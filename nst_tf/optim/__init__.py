"""Optimising the picture: step records, targets, Adam, the L-BFGS driver, and stylize()."""
