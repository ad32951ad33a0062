"""`yuliao tokenizer mix`: token-weighted mixture against measured token counts; optionally materialised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def _sampling_overrides(specs: list[str]) -> dict[str, object]:
    """`--sampling web=pareto` -> {"web": "pareto"}; the method is validated by SamplingConfig."""
    out: dict[str, object] = {}
    for spec in specs:
        name, sep, method = spec.partition("=")
        if not sep or not name or not method:
            raise typer.BadParameter(f"--sampling {spec!r}: expected SOURCE=METHOD, e.g. web=pareto")
        out[name] = method
    return out


def mix(
    source: Annotated[
        Path, typer.Argument(help="Run manifest (.yaml) to solve, or a mixture.json to adopt.")
    ],
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help="Token-shard dir (manifest.json: measured tokens per source); "
            "without it the manifest's declared `tokens:` are used.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Where to write mixture.json (default TOKENS/mixture.json)."),
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Training tokens (default: the manifest's).")
    ] = None,
    sampling: Annotated[
        list[str] | None,
        typer.Option(
            "--sampling",
            help="SOURCE=METHOD sampling inside a source: uniform, pareto (GPT-3, quality_score), "
            "score (quality_score), rehydrate (cluster_size). Repeatable.",
        ),
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
    from pydantic import ValidationError

    from pipeline.core.atomic import write_json
    from tokenization.mixing import SamplingConfig
    from tokenization.mixture import build_mixture, materialise, table_2_1

    overrides = _sampling_overrides(sampling or [])
    if materialise_dir is not None and tokens is None:
        raise typer.BadParameter("--materialise needs --tokens (the shards to draw from)")
    try:
        if source.suffix.lower() in (".yaml", ".yml"):
            from pipeline.cli.common import manifest_or_exit
            from pipeline.cli.mixing import plan_mixture

            m = manifest_or_exit(source)
            unknown = sorted(set(overrides) - {s.name for s in m.sources})
            if unknown:
                raise ValueError(f"--sampling names sources not in {source}: {unknown}")
            plan = plan_mixture(m, tokens, budget)
            # A source's own `sampling:` (when the manifest schema has it), else --sampling, else uniform.
            within = {
                s.name: SamplingConfig.model_validate(
                    overrides.get(s.name) or getattr(s, "sampling", None) or "uniform"
                )
                for s in m.sources
            }
            mixture = build_mixture(plan, within, m.mix.seed, tokens)
        else:
            mixture = json.loads(source.read_text(encoding="utf-8"))
            for name, spec in mixture["sources"].items():
                spec["sampling"] = SamplingConfig.model_validate(
                    overrides.get(name) or spec.get("sampling") or "uniform"
                ).model_dump(mode="json")
    except ValidationError as e:
        typer.secho(f"error: sampling: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    except (ValueError, KeyError, FileNotFoundError) as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    if "tokens_drawn" in next(iter(mixture["sources"].values())):
        typer.echo(table_2_1(mixture))
    out = output or (tokens / "mixture.json" if tokens is not None else None)
    if out is None:
        return
    write_json(out, mixture)
    typer.echo(f"mixture: {out}")
    if materialise_dir is not None:
        assert tokens is not None
        n = examples or max(1, int(mixture["budget_tokens"]) // chunk_len)
        made = materialise(mixture, tokens, materialise_dir, chunk_len, n)
        shares = ", ".join(f"{s} {v:.1%}" for s, v in made["share_per_source"].items())
        typer.echo(f"materialised {n} examples x {chunk_len} tokens -> {materialise_dir} ({shares})")
