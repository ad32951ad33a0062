"""README.md for a `pipeline run` output: a Hugging Face dataset card that makes the folder load.

`datasets.load_dataset(folder)` reads every data file under the folder, `_work/` included (it
skips only `.name` and `__name` folders), so the card's `configs:` block names the shards.  The
ledger gets no config: `datasets` picks one builder per folder from the first config's files,
and Arrow's cannot read the ledger's Parquet, so the card points at `load_dataset(folder/ledger)`.
Everything in the card comes from the manifest (no dates, no output path): reruns stay
byte-identical.
"""

from __future__ import annotations

import yaml

# The documents' config: `load_dataset(folder)` gives its one split, "train".
CONFIGS = [
    {
        "config_name": "default",
        "data_files": [{"split": "train", "path": "data/*.arrow"}],
        "default": True,
    }
]


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |" for row in rows
    ]
    return "\n".join(lines)


def dataset_card(manifest: dict) -> str:
    """The card's text for a finished run's manifest."""
    front = yaml.safe_dump({"configs": CONFIGS}, sort_keys=False, allow_unicode=True)
    led = manifest["ledger"]
    per_source = manifest["per_source"]
    records = sum(s["input_records"] for s in per_source.values())
    sources = _table(
        ["source", "input files", "input records", "documents", "text bytes (UTF-8)"],
        [
            [name, s["inputs"], s["input_records"], s["documents"], s["text_bytes"]]
            for name, s in sorted(per_source.items())
        ],
    )
    summary = (
        f"Documents made by `yuliao pipeline run` (Yuliao {manifest['code_version']}) from {records:,} input "
        f"records: {manifest['rows']:,} documents in {len(manifest['shards']):,} Arrow shards. Every input "
        "record has one row in the ledger saying what became of it and why."
    )
    decisions = _table(["decision", "records"], [[d, n] for d, n in led["decisions"].items()])
    return f"""---
{front}---

# Yuliao pretraining documents

{summary}

| path | contents | rows |
|---|---|---|
| `data/` | the documents (Arrow IPC files; column `text`, plus `id`, `source`, `url`, `lang`, ...) | {manifest["rows"]:,} |
| `ledger/` | one row per input record: `decision` (kept / filtered / duplicate / quarantined) and `reason` (Parquet) | {led["rows"]:,} |
| `manifest.json` | shards with row counts and sha256, counts per source, the full config | |

`_work/` holds the job's resume state and `.yuliao/` folders its owner file and completion markers; neither is part of the dataset.

## Sources

{sources}

## Ledger

{decisions}

## Loading

```python
import datasets
import pandas as pd

docs = datasets.load_dataset("path/to/this/folder", split="train")  # the documents
ledger = datasets.load_dataset("path/to/this/folder/ledger", split="train")
ledger = pd.read_parquet("path/to/this/folder/ledger")  # or pyarrow.dataset.dataset(...)
```
"""
