"""Yuliao tokenization: train a byte-level BPE tokenizer and encode pipeline datasets into token shards.

Kept import-light on purpose: the CLI and Dask workers import this package, and the heavy
libraries (tokenizers, transformers, dask) are only loaded by the modules that need them.
"""

from pipeline.core.version import __version__ as __version__
