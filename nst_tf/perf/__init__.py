"""Speed: the bench command's measurements (a step against this machine's matmul peak)."""
