"""`yuliao tokenizer ...`: train a tokenizer, encode a dataset, mix.  One module per command, lazy heavy imports."""

from __future__ import annotations

import typer

from tokenization.cli.encode import encode
from tokenization.cli.mix import mix
from tokenization.cli.train import train

app = typer.Typer(
    help="Train tokenizers (bpe, char, wordpiece), encode pipeline datasets into token shards, mix them.",
    no_args_is_help=True,
)
app.command("train")(train)
app.command("encode")(encode)
app.command("mix")(mix)
