"""Fluoroscope's exceptions.

Every exception Fluoroscope raises on purpose derives from :class:`FluoroscopeError`::

    FluoroscopeError
    ├── ConfigError          a bad option at start-up; ``serve`` stops with its message
    ├── DocumentError        a segment document that is refused (permanent: resending fails again)
    ├── FilterSyntaxError    a malformed filter expression: where, and what was expected there
    ├── StoreError           the store cannot be opened or migrated
    └── ApiError             a request refused by the HTTP API, with its X-Ray error shape
        └── ThrottledError   the pipeline is full; the sender should retry later (retryable)

Third-party exceptions are mapped to these at the edge that meets them.
"""


class FluoroscopeError(Exception):
    """Base of every exception Fluoroscope raises on purpose."""


class ConfigError(FluoroscopeError):
    """An option is invalid; the message names the option and what it accepts."""


class DocumentError(FluoroscopeError):
    """A segment document was refused.

    ``code`` is the X-Ray ``ErrorCode`` reported in ``UnprocessedTraceSegments``; ``doc_id`` is
    the document's own ``id`` when one could be read, so that senders can match the refusal.
    """

    def __init__(self, code: str, detail: str, doc_id: str | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.doc_id = doc_id


class FilterSyntaxError(FluoroscopeError):
    """A filter expression is malformed.

    ``position`` is the 0-based character offset of the problem in the expression and
    ``expected`` says what would have been valid there.
    """

    def __init__(self, message: str, position: int, expected: str) -> None:
        super().__init__(f"{message} at position {position}: expected {expected}")
        self.position = position
        self.expected = expected


class StoreError(FluoroscopeError):
    """The store cannot be opened, migrated or written."""


class ApiError(FluoroscopeError):
    """A request the X-Ray API refuses, carried as ``x-amzn-ErrorType`` and ``__type``."""

    status = 400

    def __init__(self, message: str, code: str = "InvalidRequestException") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ThrottledError(ApiError):
    """The collector cannot take more right now; botocore retries this (HTTP 429)."""

    status = 429

    def __init__(self, message: str) -> None:
        super().__init__(message, "ThrottledException")
