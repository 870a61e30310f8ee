"""Speed and memory: the bench command's measurements and the peak-memory estimate."""
