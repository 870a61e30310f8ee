"""Costs on feature maps: batched content/Gram/style/TV costs, colour control, the courses' graded functions."""
