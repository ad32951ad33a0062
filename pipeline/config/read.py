"""Reading inputs: how big one record and one task's share of a file may be."""

from __future__ import annotations

from pydantic import Field, field_validator

from pipeline.config.base import Strict

MiB = 1024 * 1024
GiB = 1024 * MiB

# MIME types whose bodies are documents; everything else (CSS, JS, JSON, XML feeds, media)
# is not pretraining text.  Readers (io.payload) and decode use the same set.
TEXT_MIME = frozenset(
    {"text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown"}
)


class ReadConfig(Strict):
    """Limits that keep a task's memory bounded whatever the input files look like.

    `max_record_bytes`: 10 MiB holds any document the quality filter could keep (max_chars
    1M = at most 4 MB of UTF-8) with HTML's usual 2-3x of markup; bigger "pages" are data
    dumps, logs or mislabelled binaries that cost seconds each to decode and extract.  They
    are filtered (`record_too_large`) without being held in memory.

    `split_bytes`: splittable inputs (uncompressed JSONL, `.warc.gz` with one gzip member
    per record, Parquet, Arrow IPC files, text folders) are cut into partitions of about this
    much data.  Smaller values give more, smaller tasks: better balance across workers when
    the inputs are few.

    `batch_bytes`: inside a task, records go through the steps this many record bytes at a
    time, whatever the partition (or a compressed file that cannot be split) inflates to; a
    batch takes about 5x its size in memory through decode and extract (Python and Arrow
    copies of the text).  Outputs do not depend on it.

    `max_inflated_bytes`: a compressed JSONL file is one task however large it inflates, and
    a decompression bomb (a 64 KB zstd file can hold 2 GB of zeros) would keep that task busy
    for hours.  Past this many decompressed bytes the rest of the file is one quarantined row
    (`read_error:inflated_over_cap`) with a warning naming it.  64 GiB leaves room for any
    ordinary shard while bounding a bomb to about a minute of inflating; raise it for bigger
    real files, or better, split them.
    """

    max_record_bytes: int = Field(default=10 * MiB, gt=0, description="larger records are filtered unread")
    split_bytes: int = Field(default=64 * MiB, gt=0, description="target input bytes per partition")
    batch_bytes: int = Field(default=16 * MiB, gt=0, description="record bytes the steps take at a time")
    max_inflated_bytes: int = Field(
        default=64 * GiB,
        gt=0,
        description="a compressed JSONL file inflating past this has the rest quarantined (decompression bombs)",
    )
    mime_types: list[str] | None = Field(
        default=None,
        description="WARC records: the document MIME types to read, e.g. [text/html, "
        "application/xhtml+xml] for HTML only (as datatrove's WarcReader); other text records are "
        "filtered unread (`mime_type_not_selected`). None reads every text type. WET conversion "
        "records are text/plain; records with no type at all are read and sniffed",
    )

    @field_validator("mime_types")
    @classmethod
    def _known_text_types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        value = [v.strip().lower() for v in value]
        unknown = sorted(set(value) - TEXT_MIME)
        if unknown or not value:
            raise ValueError(
                f"mime_types: {unknown or '[]'} are not document types; choose from {sorted(TEXT_MIME)}"
            )
        return value
