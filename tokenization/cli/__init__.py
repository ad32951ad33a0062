"""`yuliao tokenizer ...`: train a tokenizer, encode a dataset.  One module per command, lazy heavy imports."""

from __future__ import annotations

import typer

from tokenization.cli.encode import encode
from tokenization.cli.train import train

app = typer.Typer(
    help="Train byte-level BPE tokenizers and encode pipeline datasets into token shards.",
    no_args_is_help=True,
)
app.command("train")(train)
app.command("encode")(encode)
