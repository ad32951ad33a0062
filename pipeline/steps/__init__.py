"""Pipeline steps: pure functions over an Arrow batch.

Each step takes a `pa.Table` (one partition's documents) and its config and returns a
`StepResult`: the surviving batch plus ledger rows (see `pipeline.records.ledger`) for every record
it removed.  Steps never raise on bad records: they quarantine them with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pipeline.records import ledger


@dataclass(frozen=True)
class StepResult:
    kept: pa.Table
    dropped: pa.Table  # ledger rows, schema ledger.LEDGER_SCHEMA

    @staticmethod
    def keep_all(batch: pa.Table) -> StepResult:
        return StepResult(batch, ledger.empty())
