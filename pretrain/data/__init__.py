"""Token shards, the deterministic mixture stream and the per-objective IterableDataset."""

from pretrain.data.shards import TokenShards
from pretrain.data.stream import DocStream, PretrainStream, load_mixture

__all__ = ["DocStream", "PretrainStream", "TokenShards", "load_mixture"]
