"""The `yuliao` console script: mounts every part's commands under one root."""

from __future__ import annotations

import typer

from pipeline.cli.dedup import dedup_command
from pipeline.cli.demo import demo_command
from pipeline.cli.mix import deprecated_alias, mix_command
from pipeline.cli.pretrain import pretrain_command
from pipeline.cli.quality import quality_train_command
from pipeline.cli.report import report_command
from pipeline.cli.run import run_command
from pipeline.cli.tokenizer import app as tokenizer_app

app = typer.Typer(
    name="yuliao",
    help="Yuliao (语料): raw crawls → pretraining data → pretrained models.",
    no_args_is_help=True,
    add_completion=False,
)
pipeline_app = typer.Typer(help="Data pipeline jobs on Dask.", no_args_is_help=True)
pipeline_app.command("run", help="Crawl → cleaned, filtered, deduplicated Arrow dataset.")(run_command)
pipeline_app.command("dedup", help="Exact + MinHash near-dedup of a JSONL/Parquet/Arrow file.")(dedup_command)
pipeline_app.command("mix", help="Deprecated: use `yuliao mix`.", deprecated=True)(
    deprecated_alias("pipeline mix")
)
app.add_typer(pipeline_app, name="pipeline")


@app.callback()
def _process_setup() -> None:
    from pipeline.core.arrow_pool import use_system_pool

    use_system_pool()  # before any command allocates an Arrow buffer (see core/arrow_pool.py)


quality_app = typer.Typer(help="GPT-3-style quality classifier.", no_args_is_help=True)
quality_app.command(
    "train", help="Train a hashed n-gram logistic regression: reference (positive) vs crawl."
)(quality_train_command)
app.add_typer(quality_app, name="quality")
tokenizer_app.command("mix", help="Deprecated: use `yuliao mix`.", deprecated=True)(
    deprecated_alias("tokenizer mix")
)
app.add_typer(tokenizer_app, name="tokenizer", help="Train tokenizers and encode datasets into token shards.")
app.command("mix", help="Source weights → epochs for a token budget; writes mixture.json.")(mix_command)
app.command("pretrain", help="Train the manifest's runs (plain or under torchrun).")(pretrain_command)
app.command("report", help="Re-render the summary and report of a finished run.")(report_command)
app.command("demo", help="The whole chain on the bundled sample.")(demo_command)

if __name__ == "__main__":
    app()
