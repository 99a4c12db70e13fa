"""The feed's limits: they bound what waits, but never keep out a batch that is alone."""

from fluoroscope.app.feed import DocumentBatch, Feed


def test_an_empty_feed_takes_a_batch_larger_than_its_limits() -> None:
    """One OTLP request may translate to more than the feed's limits; refusing it would make
    its sender retry the same request forever."""
    feed = Feed(max_documents=10, max_bytes=1_000)
    oversized = DocumentBatch("otlp_http", [], 5_000)

    assert feed.offer(oversized, 50)
    assert not feed.offer(DocumentBatch("otlp_http", [], 10), 1)  # the limits hold behind it
    assert feed.take(0.0, max_bytes=10_000) == [oversized]
    assert feed.offer(DocumentBatch("otlp_http", [], 10), 1)


def test_a_batch_that_fits_beside_others_is_taken_and_one_that_does_not_is_refused() -> None:
    feed = Feed(max_documents=10, max_bytes=1_000)
    assert feed.offer(DocumentBatch("api", [], 600), 4)
    assert feed.offer(DocumentBatch("api", [], 300), 4)
    assert not feed.offer(DocumentBatch("api", [], 200), 1)  # bytes
    assert not feed.offer(DocumentBatch("api", [], 10), 3)  # documents
    assert feed.depth == 8
    assert feed.depth_bytes == 900
