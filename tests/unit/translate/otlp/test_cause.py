"""Errors: status and exception events against fault, error, throttle and cause."""

import pytest

from fluoroscope.model.ids import is_entity_id

from .conftest import CLIENT, END, ERROR, OK, PARENT, SERVER, attributes_of

PYTHON = {"service.name": "billing", "telemetry.sdk.language": "python"}
TRACEBACK = """Traceback (most recent call last):
  File "/app/billing.py", line 12, in <module>
    main()
  File "/app/billing.py", line 9, in main
    render()
  File "/app/invoice.py", line 40, in render
    raise ValueError("no total")
ValueError: no total
"""
CHAINED = """Traceback (most recent call last):
  File "/app/invoice.py", line 38, in render
    total = invoice["total"]
KeyError: 'total'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/invoice.py", line 40, in render
    raise ValueError("no total") from exc
ValueError: no total
"""
JAVA = """java.lang.IllegalStateException: no total
\tat com.example.Invoice.render(Invoice.java:40)
\tat com.example.Main.main(Main.java:9)
Caused by: java.util.NoSuchElementException: total
\tat java.util.HashMap.get(HashMap.java:556)
"""


def flags_of(document):
    """The flags a document raises."""
    return sorted(flag for flag in ("fault", "error", "throttle") if document.get(flag))


@pytest.mark.parametrize(
    ("status", "code", "flags"),
    [
        (200, 0, []),
        (404, 0, ["error"]),
        (429, 0, ["error", "throttle"]),
        (503, 0, ["fault"]),
        (None, ERROR, ["fault"]),
        (404, ERROR, ["error"]),
        (None, OK, []),
    ],
)
def test_http_status_and_span_status_raise_the_flags(make_span, to_document, status, code, flags):
    """4xx error (429 also throttle), 5xx fault; without an HTTP error, ERROR is a fault."""
    attributes = {"http.response.status_code": status} if status else {}
    span = make_span(attributes=attributes, status=code)

    assert flags_of(to_document(span)) == flags


def test_an_exception_event_is_a_cause_exception(make_span, to_document):
    """Type, message and the traceback's frames, innermost first."""
    event = (
        "exception",
        END,
        {
            "exception.type": "ValueError",
            "exception.message": "no total",
            "exception.stacktrace": TRACEBACK,
        },
    )
    span = make_span(events=[event], status=ERROR)

    (exception,) = to_document(span, resource=PYTHON)["cause"]["exceptions"]

    assert is_entity_id(exception.pop("id"))
    assert exception == {
        "type": "ValueError",
        "message": "no total",
        "remote": False,
        "stack": [
            {"path": "/app/invoice.py", "line": 40, "label": "render"},
            {"path": "/app/billing.py", "line": 9, "label": "main"},
            {"path": "/app/billing.py", "line": 12, "label": "<module>"},
        ],
    }


def test_a_chained_traceback_is_a_chain_of_exceptions(make_span, to_document):
    """The earlier exception follows, linked through cause."""
    event = ("exception", END, {"exception.type": "ValueError", "exception.stacktrace": CHAINED})
    span = make_span(events=[event])

    latest, earlier = to_document(span, resource=PYTHON)["cause"]["exceptions"]

    assert latest["cause"] == earlier["id"]
    assert (earlier["type"], earlier["message"]) == ("KeyError", "'total'")
    assert earlier["stack"] == [{"path": "/app/invoice.py", "line": 38, "label": "render"}]


def test_a_java_stack_trace_is_read_as_java(make_span, to_document):
    """Frames from "\\tat" lines, and the "Caused by" exception chained."""
    event = ("exception", END, {"exception.stacktrace": JAVA})
    span = make_span(events=[event])

    latest, earlier = to_document(span, resource={"telemetry.sdk.language": "java"})["cause"][
        "exceptions"
    ]

    assert latest["stack"][0] == {
        "path": "Invoice.java",
        "line": 40,
        "label": "com.example.Invoice.render",
    }
    assert earlier["type"] == "java.util.NoSuchElementException"


def test_exceptions_on_client_spans_are_remote(make_span, to_document):
    """A client's exception came from downstream, as the exporter marks it."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT, events=[("exception", END, {})])

    (exception,) = to_document(span)["cause"]["exceptions"]

    assert exception["remote"] is True


def test_an_error_status_without_events_keeps_its_message_as_the_cause(make_span, to_document):
    """The exporter's fallback: one exception holding the status message."""
    span = make_span(status=(ERROR, "upstream timed out"))

    (exception,) = to_document(span)["cause"]["exceptions"]

    assert exception["message"] == "upstream timed out"


def test_an_empty_error_status_takes_the_http_status_text_as_the_cause(
    make_span, to_document, to_span
):
    """The exporter's fallback, when the status has no message; the attribute is consumed,
    and both come back from the document."""
    span = make_span(status=ERROR, attributes={"http.status_text": "Bad Gateway"})

    document = to_document(span)

    assert [e["message"] for e in document["cause"]["exceptions"]] == ["Bad Gateway"]
    assert "http.status_text" not in document.get("metadata", {}).get("default", {})
    back = to_span(document)
    assert attributes_of(back)["http.status_text"] == "Bad Gateway"
    assert (back.status.code, back.status.message, list(back.events)) == (ERROR, "", [])


def test_failed_attempts_of_an_aws_sdk_call_are_remote_exceptions(make_span, to_document, to_span):
    """Each "HTTP request failure" event of a retried AWS SDK call, as the exporter writes it."""
    failure = {"http.response.status_code": 503, "aws.http.error_message": "Slow Down"}
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": "GetObject"},
        events=[("HTTP request failure", 1_700_000_000_123_456_789, failure)],
    )

    document = to_document(span)

    (exception,) = document["cause"]["exceptions"]
    assert (exception["type"], exception["remote"], exception["message"]) == (
        "aws.http.error.event",
        True,
        "503@1700000000.123456@Slow Down",
    )
    assert list(to_span(document).events) == list(span.events)


def test_a_failure_event_outside_an_aws_sdk_span_is_only_an_event(make_span, to_document):
    failure = {"http.response.status_code": 503, "aws.http.error_message": "Slow Down"}
    span = make_span(events=[("HTTP request failure", END, failure)])

    assert "cause" not in to_document(span)


def test_exception_ids_are_the_same_on_every_translation(make_span, to_document):
    """Ids are derived from the span, so the same span makes the same document."""
    span = make_span(events=[("exception", END, {"exception.type": "E"})])

    first, second = (to_document(span)["cause"] for _ in range(2))

    assert first == second


def test_an_exception_id_attribute_is_the_exception_id(make_span, to_document):
    """The receiver's aws.xray.exception.id is kept."""
    span = make_span(events=[("exception", END, {"aws.xray.exception.id": "34e0b1ff54c5a634"})])

    (exception,) = to_document(span)["cause"]["exceptions"]

    assert exception["id"] == "34e0b1ff54c5a634"


def test_exception_events_come_back_exactly(make_span, to_document, to_span):
    """The events themselves travel in metadata.otel; the cause is X-Ray's view of them."""
    event = ("exception", END, {"exception.type": "ValueError", "exception.stacktrace": TRACEBACK})
    span = make_span(events=[event], status=(ERROR, "no total"))

    back = to_span(to_document(span, resource=PYTHON))

    assert list(back.events) == list(span.events)
    assert (back.status.code, back.status.message) == (ERROR, "no total")


def test_a_cause_reads_back_as_exception_events(make_document, to_span):
    """Each exception is an exception event at the end; frames are rendered as text."""
    document = make_document(
        fault=True,
        cause={
            "exceptions": [
                {
                    "id": "34e0b1ff54c5a634",
                    "type": "ValueError",
                    "message": "no total",
                    "stack": [{"path": "invoice.py", "line": 40, "label": "render"}],
                }
            ]
        },
    )

    (event,) = to_span(document).events

    assert (event.name, event.time_unix_nano) == ("exception", 1795579418_000_000_000)
    assert {a.key: a.value.WhichOneof("value") for a in event.attributes} == {
        "exception.type": "string_value",
        "exception.message": "string_value",
        "exception.stacktrace": "string_value",
        "aws.xray.exception.id": "string_value",
        "aws.xray.exception.remote": "bool_value",
    }


def test_a_fault_reads_back_as_an_error_status(make_document, to_span):
    """fault is ERROR."""
    assert to_span(make_document(fault=True)).status.code == ERROR


def test_a_client_error_on_a_segment_reads_back_unset(make_document, to_span):
    """A server answering 4xx did not fail (OpenTelemetry's HTTP conventions)."""
    document = make_document(error=True, http={"response": {"status": 404}})

    assert to_span(document).status.code == 0


def test_a_client_error_on_a_subsegment_reads_back_as_an_error(make_document, to_span):
    """A call answered 4xx failed."""
    document = make_document(
        type="subsegment",
        parent_id=PARENT.hex(),
        namespace="remote",
        error=True,
        http={"response": {"status": 404}},
    )

    assert to_span(document).status.code == ERROR


def test_flags_the_status_cannot_say_travel_as_attributes(make_document, to_span, to_document):
    """error without an HTTP status would come back as a fault; the flags travel explicitly."""
    document = make_document(error=True)

    span = to_span(document)

    assert attributes_of(span) == {
        "aws.xray.fault": False,
        "aws.xray.error": True,
        "aws.xray.throttle": False,
    }
    assert flags_of(to_document(span)) == ["error"]


def test_a_cause_given_as_an_exception_id_comes_back(make_document, to_span, to_document):
    """The id of an exception recorded elsewhere travels as aws.xray.cause."""
    document = make_document(fault=True, cause="34e0b1ff54c5a634")

    back = to_document(to_span(document))

    assert (back["cause"], flags_of(back)) == ("34e0b1ff54c5a634", ["fault"])


def test_a_server_span_status_is_restored_when_the_document_implies_another(
    make_span, to_document, to_span
):
    """OK and a status message are not X-Ray's to say; metadata.otel keeps them."""
    span = make_span(kind=SERVER, status=(OK, "fine"))

    back = to_span(to_document(span))

    assert (back.status.code, back.status.message) == (OK, "fine")
