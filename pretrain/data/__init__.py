"""The trainer's side of the data: the per-rank IterableDataset and the realised-mixture meter."""

from pretrain.data.stream import PretrainStream, micro_batches

__all__ = ["PretrainStream", "micro_batches"]
