"""Deduplication: exact (normalised-text hash) and near (MinHash LSH over script-aware shingles)."""
