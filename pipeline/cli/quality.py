"""`yuliao quality train`: a GPT-3-style quality classifier from positive and negative texts.

Positives are curated, reference-like text; negatives are raw crawl text.  Writes
OUTPUT/model.npz + model.json (load with `QualityModel.load`, no pickle) and
OUTPUT/metrics.json (train and held-out accuracy/AUC).  Also runnable as
`python -m pipeline.cli.quality --positive P --negative N --output DIR`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.config.quality import QualityTrainConfig

_D = QualityTrainConfig()  # option defaults come from the config, so they cannot drift


def quality_train_command(
    positive: Annotated[
        list[Path], typer.Option("--positive", help="reference-like texts (repeat the flag for more files)")
    ],
    negative: Annotated[list[Path], typer.Option("--negative", help="raw crawl texts (repeatable)")],
    output: Annotated[Path, typer.Option(help="model directory to write")],
    text_field: Annotated[str, typer.Option(help="text column / JSON field")] = "text",
    buckets_log2: Annotated[int, typer.Option(help="2^N hashed feature buckets")] = _D.buckets_log2,
    epochs: Annotated[int, typer.Option(help="passes over the training texts")] = _D.epochs,
    l2: Annotated[float, typer.Option(help="L2 penalty")] = _D.l2,
    holdout: Annotated[float, typer.Option(help="share of texts held out for metrics")] = _D.holdout,
    seed: Annotated[int, typer.Option(help="shuffling and holdout seed")] = _D.seed,
    min_abs_weight: Annotated[
        float, typer.Option(help="drop smaller weights when saving")
    ] = _D.min_abs_weight,
) -> None:
    """Inputs: JSONL(.gz), Parquet, Arrow, or pipeline dataset dirs (manifest.json + data/*.arrow)."""
    import json

    from pydantic import ValidationError

    from pipeline.core.atomic import write_json
    from pipeline.quality.data import read_texts
    from pipeline.quality.train import train

    try:
        cfg = QualityTrainConfig(
            buckets_log2=buckets_log2,
            epochs=epochs,
            l2=l2,
            holdout=holdout,
            seed=seed,
            min_abs_weight=min_abs_weight,
        )
        pos = [t for p in positive for t in read_texts(p, text_field)]
        neg = [t for p in negative for t in read_texts(p, text_field)]
        model, summary = train(pos + neg, [1] * len(pos) + [0] * len(neg), cfg)
    except (ValueError, ValidationError, OSError) as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    model.save(output, min_abs_weight=cfg.min_abs_weight)
    summary["inputs"] = {"positive": [str(p) for p in positive], "negative": [str(p) for p in negative]}
    write_json(output / "metrics.json", summary)
    typer.echo(json.dumps({k: summary[k] for k in ("train", "holdout", "seconds")}, indent=2))
    typer.echo(f"model: {output}")


if __name__ == "__main__":
    typer.run(quality_train_command)
