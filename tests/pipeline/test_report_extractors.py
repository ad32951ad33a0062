"""The run report lists which extractor the page type chose, summed over partitions."""

from __future__ import annotations

import pyarrow as pa

from pipeline.config import ExtractConfig
from pipeline.report.collect import kept_summary, merge_kept
from pipeline.report.render import _tables
from pipeline.steps.extract import extract
from tests.pipeline import forum_pages
from tests.pipeline.test_extract import html_rows


def test_report_counts_extractor_choices_per_page_type() -> None:
    threads = extract(html_rows(forum_pages.discuz()[0], forum_pages.phpbb()[0]), ExtractConfig()).kept
    article = extract(html_rows(forum_pages.blog_with_comments()[0]), ExtractConfig()).kept
    plain = article.set_column(
        article.schema.get_field_index("extractor"), "extractor", pa.nulls(1, pa.string())
    )
    kept = merge_kept(kept_summary(part, "web") for part in (threads, article, plain))
    report = {"stage_seconds": {}, "by_stage": [], "kept_docs": kept}
    (section,) = [s for s in _tables(report) if s.title == "Kept documents by extractor"]
    assert section.header == ["page type", "extractor", "documents"]
    assert section.rows == [
        ["thread or look-alike sections (every post's body, or every section)", "readability+posts", "2"],
        ["article", "readability", "1"],
        ["plain text", "none", "1"],
    ]
