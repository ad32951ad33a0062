"""The raw batch every reader produces, and the collector that builds it with its ledger rows.

A reader walks its input once and calls `add` for each document, `drop` for each record it
filters or quarantines, and `truncated` when the rest of the input is unreadable.  Ids are
made here, in one place, so every format follows the same rule (see `unique_id`): an id
names the record's place (input file and offset or row), never just its URL or content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipeline.records import ledger
from pipeline.records.ids import content_digest, make_id

STAGE = "read"

RAW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("content_type", pa.string()),
        ("payload", pa.binary()),
        ("text", pa.string()),
        ("input", pa.string()),
        ("offset", pa.int64()),
        ("digest", pa.string()),  # content identity (blake2b-64 of the record's bytes); the id is its place
        ("bytes", pa.int64()),
    ]
)


class InputConfigError(ValueError):
    """The input does not match the configuration (e.g. no `text_field`): raised before any
    work, since rerunning will not fix it, unlike damage, which is quarantined."""


@dataclass(frozen=True)
class PartitionRead:
    batch: pa.Table  # RAW_SCHEMA: the records that go on to `decode` (after the flushed ones)
    # ledger rows (stage "read") for every record the reader did not pass on: quarantined
    # (unreadable, malformed) or filtered (non-200, non-text, too large)
    quarantined: pa.Table
    warnings: list[str] = field(default_factory=list)
    flushed: int = 0  # records already handed to the collector's `on_batch`

    @property
    def records(self) -> int:
        """Input records this read accounts for (what the ledger must balance against)."""
        return self.flushed + self.batch.num_rows + self.quarantined.num_rows


def utf8_or_none(value: Any) -> str | None:
    """`value` if it is a non-empty str Arrow can store (no lone surrogates), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


@dataclass
class Collector:
    """Accumulates one read's records column-wise (cheaper than one dict per record).

    With `on_batch`, every `batch_bytes` of record bytes are handed over as one RAW_SCHEMA
    batch as soon as they are read, so a task's memory is bounded by that, not by what the
    input inflates to.
    """

    source: str
    path: str
    root: str = ""  # ids name inputs relative to this folder (the manifest's); "" = full paths
    batch_bytes: int = 0
    on_batch: Callable[[pa.Table], None] | None = None
    cols: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in RAW_SCHEMA.names})
    drops: dict[str, list[Any]] = field(
        default_factory=lambda: {"id": [], "decision": [], "reason": [], "bytes": []}
    )
    warnings: list[str] = field(default_factory=list)
    flushed: int = 0
    _pending_bytes: int = 0
    _seen: set[str] = field(default_factory=set)

    def unique_id(self, offset: int, digest: str, input_path: str | None = None) -> str:
        """`source` + where the record sits (input:offset) + its content digest.

        The place makes an id unique per input record: the same page in two files (or twice
        in one) is two records, and dedup, not the ledger's uniqueness check, decides that the
        later one is a `duplicate`.  The digest keeps ids of a replaced file from colliding
        with the old ones.  A `#n` suffix covers offsets that repeat inside one read (all
        records of a single-member .gz report the member's offset).
        """
        where = self.locate(input_path or self.path)
        rid = make_id(self.source, f"{where}:{offset}", digest)
        n = 0
        while rid in self._seen:
            n += 1
            rid = make_id(self.source, f"{where}:{offset}#{n}", digest)
        self._seen.add(rid)
        return rid

    def locate(self, path: str) -> str:
        """`path` as ids name it: relative to `root` when inside it, so ids do not depend on
        where the inputs (or the manifest next to them) sit on this machine."""
        if self.root and path.startswith(self.root.rstrip("/") + "/"):
            return path[len(self.root.rstrip("/")) + 1 :]
        return path

    def add(
        self,
        offset: int,
        url: str | None,
        content_type: str | None,
        *,
        payload: bytes | None = None,
        text: str | None = None,
        input_path: str | None = None,
    ) -> None:
        """One document: raw `payload` (WARC, text files) or already-decoded `text`."""
        if payload is not None:
            digest, nbytes = content_digest(payload), len(payload)
        else:
            encoded = (text or "").encode("utf-8")
            digest, nbytes = content_digest(encoded), len(encoded)
        row = {
            "id": self.unique_id(offset, digest, input_path),
            "source": self.source,
            "url": url,
            "content_type": content_type,
            "payload": payload,
            "text": text,
            "input": input_path or self.path,
            "offset": offset,
            "digest": digest,
            "bytes": nbytes,
        }
        for name, value in row.items():
            self.cols[name].append(value)
        self._pending_bytes += nbytes
        if self.on_batch is not None and self._pending_bytes >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Hand the records collected so far to `on_batch` (no-op without one, or when empty)."""
        if self.on_batch is None or not self.cols["id"]:
            return
        batch = pa.table(self.cols, schema=RAW_SCHEMA)
        self.flushed += batch.num_rows
        self.cols = {n: [] for n in RAW_SCHEMA.names}
        self._pending_bytes = 0
        self.on_batch(batch)

    def drop(
        self,
        offset: int,
        decision: str,
        reason: str,
        digest: str,
        nbytes: int = 0,
        input_path: str | None = None,
    ) -> None:
        """A record that does not go on: one ledger row with its id, decision and reason."""
        if decision not in ledger.DECISIONS:
            raise ValueError(f"decision must be one of {ledger.DECISIONS}, got {decision!r}")
        self.drops["id"].append(self.unique_id(offset, digest, input_path))
        self.drops["decision"].append(decision)
        self.drops["reason"].append(reason)
        self.drops["bytes"].append(nbytes)

    def quarantine(self, offset: int, reason: str, digest: str, nbytes: int = 0) -> None:
        self.drop(offset, "quarantined", reason, digest, nbytes)

    def truncated(self, offset: int, reason: str, nbytes: int = 0) -> None:
        """The rest of the input from `offset` is unreadable: one ledger row, one warning."""
        self.quarantine(offset, reason, "truncated", nbytes)
        kept = self.flushed + len(self.cols["id"])
        self.warnings.append(f"{self.path}: unreadable from offset {offset} ({reason}); kept {kept} records")

    def result(self) -> PartitionRead:
        batch = pa.table(self.cols, schema=RAW_SCHEMA)
        n = len(self.drops["id"])
        dropped = pa.table(
            {
                "id": pa.array(self.drops["id"], pa.string()),
                "source": pa.array([self.source] * n, pa.string()),
                "stage": pa.array([STAGE] * n, pa.string()),
                "decision": pa.array(self.drops["decision"], pa.string()),
                "reason": pa.array(self.drops["reason"], pa.string()),
                "duplicate_of": pa.nulls(n, pa.string()),
                "bytes": pa.array(self.drops["bytes"], pa.int64()),
            },
            schema=ledger.LEDGER_SCHEMA,
        )
        return PartitionRead(batch, dropped, self.warnings, self.flushed)
