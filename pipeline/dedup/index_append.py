"""The optional last round: each partition's kept documents become a new segment of the
persisted band index (index.py), which meta.json lists only once every segment is written."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.atomic import read_arrow, write_arrow
from pipeline.core.executor import map_tasks
from pipeline.dedup.decisions import read_decisions
from pipeline.dedup.index import commit
from pipeline.dedup.plan import Plan, done_stats, finish
from pipeline.dedup.scatter import band_rows, write_sharded
from pipeline.dedup.store import make_gids


def _append_task(p: int, plan: Plan) -> dict:
    """This partition's kept documents → one new segment (docs + sharded band rows)."""
    name = plan.names[p]
    marker = plan.root / "index" / name
    if (stats := done_stats(marker)) is not None:
        return stats
    idx = plan.index
    segment = f"{plan.run_tag}-{p:05d}"
    number = len(idx.segments) + p
    table = read_arrow(plan.paths[p])
    dups = set(read_decisions(plan.root.parent, name))
    kept = table.filter(pc.invert(pc.is_in(table["id"], pa.array(list(dups), pa.string()))))
    kept = kept.select([c for c in ("id", "text_hash", "minhash", "url") if c in kept.column_names])
    write_arrow(idx.docs_path(segment), kept)
    key, gid, aux, hashes = band_rows(kept, make_gids(number, kept.num_rows, index=True), plan)
    write_sharded(key, gid, aux, hashes, plan.shards, lambda s: idx.bands_path(s, segment))
    return finish(marker, {"segment": segment, "docs": kept.num_rows})


def append_kept(plan: Plan, client: object = None) -> list[str]:
    """Append every partition's kept documents to the index, then list them in meta.json."""
    done = map_tasks(client, _append_task, list(range(len(plan.names))), "dedup index", plan=plan)
    commit(plan.index, plan.cfg, plan.bands, plan.rows, [d["segment"] for d in done])
    return [d["segment"] for d in done]
