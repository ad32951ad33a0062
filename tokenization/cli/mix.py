"""`yuliao tokenizer mix`: token-weighted mixture against measured token counts; optionally materialised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def mix(
    source: Annotated[
        Path, typer.Argument(help="Run manifest (.yaml) to solve, or a mixture.json to adopt.")
    ],
    tokens: Annotated[
        Path, typer.Option("--tokens", help="Token-shard dir (manifest.json: tokens per source).")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Where to write mixture.json (default TOKENS/mixture.json)."),
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Training tokens (default: the manifest's).")
    ] = None,
    materialise_dir: Annotated[
        Path | None,
        typer.Option("--materialise", help="Also write the stream's first examples as chunk shards here."),
    ] = None,
    chunk_len: Annotated[
        int, typer.Option("--chunk-len", min=1, help="Tokens per materialised example.")
    ] = 2048,
    examples: Annotated[
        int | None,
        typer.Option("--examples", min=1, help="Examples to materialise (default budget / chunk-len)."),
    ] = None,
) -> None:
    """Solve epochs per source (caps re-solved), write mixture.json v2, print GPT-3's Table 2.1 view."""
    from pipeline.io.atomic import write_json
    from tokenization.mixing import SamplingConfig
    from tokenization.mixture import build_mixture, materialise, table_2_1

    try:
        if source.suffix.lower() in (".yaml", ".yml"):
            from pipeline.cli.common import manifest_or_exit
            from pipeline.cli.mixing import plan_mixture

            m = manifest_or_exit(source)
            plan = plan_mixture(m, tokens, budget)
            # `sampling` joins SourceConfig with this feature; manifests without it sample uniformly.
            sampling = {
                s.name: SamplingConfig.model_validate(getattr(s, "sampling", None) or "uniform")
                for s in m.sources
            }
            mixture = build_mixture(plan, sampling, m.mix.seed, tokens)
        else:
            mixture = json.loads(source.read_text(encoding="utf-8"))
            for spec in mixture["sources"].values():
                spec["sampling"] = SamplingConfig.model_validate(
                    spec.get("sampling") or "uniform"
                ).model_dump(mode="json")
    except (ValueError, KeyError, FileNotFoundError) as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(table_2_1(mixture) if "tokens_drawn" in next(iter(mixture["sources"].values())) else "")
    out = output or tokens / "mixture.json"
    write_json(out, mixture)
    typer.echo(f"mixture: {out}")
    if materialise_dir is not None:
        n = examples or max(1, int(mixture["budget_tokens"]) // chunk_len)
        made = materialise(mixture, tokens, materialise_dir, chunk_len, n)
        shares = ", ".join(f"{s} {v:.1%}" for s, v in made["share_per_source"].items())
        typer.echo(f"materialised {n} examples x {chunk_len} tokens -> {materialise_dir} ({shares})")
