"""`yuliao tokenizer ...`: train a tokenizer, encode a dataset.  One module per command, lazy heavy imports."""

from __future__ import annotations

import typer

from pipeline.cli.tokenizer.encode import encode
from pipeline.cli.tokenizer.train import train

app = typer.Typer(
    help="Train tokenizers (bpe, char, wordpiece), encode pipeline datasets into token shards.",
    no_args_is_help=True,
)
app.command("train")(train)
app.command("encode")(encode)
