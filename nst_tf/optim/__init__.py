"""Optimising the picture: step records, targets, Adam, the L-BFGS driver, stylize(), the peak-memory estimate."""
