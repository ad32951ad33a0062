"""Tensor and pipeline parallelism over one ("pp", "dp", "tp") device mesh."""
