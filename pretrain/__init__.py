"""Pretraining: token shards + mixture -> objective-specific batches -> tiny transformers models."""
