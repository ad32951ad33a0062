"""Shuffle files: every consumer gets exactly its rows, in producer order, empty groups included."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.dedup.shuffle_file import group_sizes, read_group, read_groups, write_grouped

SCHEMA = pa.schema([("key", pa.uint64()), ("row", pa.int64())])


def _producer(seed: int, n: int, consumers: int) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng(seed)
    consumer = rng.integers(0, consumers, n)
    consumer[consumer == 2] = 1  # consumer 2 gets nothing from anyone
    table = pa.table(
        [pa.array(rng.integers(0, 1 << 40, n), pa.uint64()), pa.array(np.arange(n))], schema=SCHEMA
    )
    return table, consumer


def test_each_consumer_reads_its_rows_in_order(tmp_path):
    consumers = 5
    producers = [_producer(seed, 200 + 37 * seed, consumers) for seed in range(3)]
    paths = []
    for k, (table, consumer) in enumerate(producers):
        paths.append(tmp_path / f"p{k}.arrow")
        assert write_grouped(paths[-1], table, consumer, consumers) == table.num_rows
    for c in range(consumers):
        got = read_groups(paths, c, SCHEMA)
        want = pa.concat_tables([t.filter(pa.array(con == c)) for t, con in producers])
        assert got.schema == SCHEMA  # the offsets stay inside the file
        assert got.equals(want)
    assert read_groups(paths, 2, SCHEMA).num_rows == 0
    sizes = [sum(int((con == c).sum()) for _, con in producers) for c in range(consumers)]
    assert group_sizes(paths, consumers).tolist() == sizes  # from the metadata alone


def test_an_empty_producer_and_no_producers(tmp_path):
    path = tmp_path / "empty.arrow"
    write_grouped(path, SCHEMA.empty_table(), np.zeros(0, np.int64), 3)
    assert [read_group(path, c).num_rows for c in range(3)] == [0, 0, 0]
    assert read_groups([], 0, SCHEMA).equals(SCHEMA.empty_table())
