"""Any document of the shapes X-Ray SDKs write comes back from OTLP field for field."""

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluoroscope.translate.otlp import documents_to_spans, spans_to_documents

from .conftest import XRAY_TRACE_ID

TEXT = st.text(max_size=12)
IDS = st.binary(min_size=8, max_size=8).filter(any).map(bytes.hex)
FRAMES = st.lists(
    st.fixed_dictionaries(
        {"path": TEXT, "line": st.integers(min_value=0, max_value=10**6), "label": TEXT}
    ),
    max_size=3,
)
EXCEPTION = st.fixed_dictionaries(
    {"id": IDS},
    optional={
        "type": TEXT,
        "message": TEXT,
        "remote": st.booleans(),
        "truncated": st.integers(min_value=0, max_value=9),
        "cause": IDS,
        "stack": FRAMES,
    },
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=5,
)
STATUSES = st.integers(min_value=100, max_value=599)


def some(**fields):
    """A dict with any subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


ENTITY = some(
    http=some(
        request=some(
            method=TEXT,
            url=TEXT,
            user_agent=TEXT,
            client_ip=TEXT,
            x_forwarded_for=st.booleans(),
            traced=st.booleans(),
        ),
        response=some(status=STATUSES, content_length=st.integers(-1, 10**6)),
    ),
    aws=some(
        operation=TEXT,
        region=TEXT,
        request_id=TEXT,
        queue_url=TEXT,
        table_name=TEXT,
        bucket_name=TEXT,
        retries=st.integers(0, 5),
        resource_names=st.lists(TEXT, max_size=2),
    ),
    sql=some(
        url=TEXT,
        database_type=st.sampled_from(["PostgreSQL", "mysql", "sqlite"]),
        user=TEXT,
        sanitized_query=TEXT,
        database_version=TEXT,
    ),
    annotations=st.dictionaries(
        st.from_regex(r"[A-Z0-9_]{1,8}", fullmatch=True),
        st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
        max_size=4,
    ),
    # Lowercase, undotted keys: never an annotation's or a mapped attribute's name
    # (test_round_trip_xray.CHANGED).
    metadata=st.dictionaries(
        st.sampled_from(["default", "debug", "app"]),
        st.dictionaries(st.from_regex(r"[a-z][a-z ]{0,7}", fullmatch=True), JSON, max_size=3),
        max_size=2,
    ),
    user=TEXT,
    fault=st.booleans(),
    error=st.booleans(),
    throttle=st.booleans(),
    cause=st.fixed_dictionaries(
        {"exceptions": st.lists(EXCEPTION, min_size=1, max_size=2)},
        optional={"working_directory": TEXT, "paths": st.lists(TEXT, max_size=2)},
    )
    | IDS,
    precursor_ids=st.lists(IDS, max_size=2),
    links=st.lists(
        st.fixed_dictionaries(
            {"trace_id": st.just(XRAY_TRACE_ID), "id": IDS},
            optional={"attributes": st.dictionaries(TEXT, JSON, min_size=1, max_size=2)},
        ),
        min_size=1,  # an empty list says nothing (test_round_trip_xray.CHANGED)
        max_size=2,
    ),
    sdk_field=JSON,
)
SEGMENT = some(
    origin=st.sampled_from(
        ["AWS::EC2::Instance", "AWS::ECS::Fargate", "AWS::Lambda::Function", "AWS::SNS"]
    ),
    service=some(version=TEXT, runtime=TEXT, runtime_version=TEXT, compiler=TEXT),
    resource_arn=TEXT,
    aws=some(
        account_id=TEXT,
        xray=some(sdk=st.sampled_from(["X-Ray for Go", "X-Ray"]), sdk_version=TEXT),
        ec2=some(instance_id=TEXT, availability_zone=TEXT),
        ecs=some(container=TEXT),
    ),
)


@st.composite
def documents(draw):
    """A segment or an independent subsegment with any of the fields SDKs write."""
    document = {
        "id": draw(IDS),
        "name": "checkout",
        "trace_id": XRAY_TRACE_ID,
        "start_time": 1795587817.5,
    }
    if draw(st.booleans()):
        document["in_progress"] = True
    else:
        document["end_time"] = 1795587817.5 + draw(st.floats(0, 10))
    segment = draw(st.booleans())
    fields = draw(ENTITY)
    if segment:
        extra = draw(SEGMENT)
        if "aws" in extra:
            fields["aws"] = {**fields.get("aws", {}), **extra.pop("aws")}
        fields.update(extra)
    else:
        document["type"] = "subsegment"
        document["parent_id"] = draw(IDS.filter(lambda parent: parent != document["id"]))
        namespace = draw(st.sampled_from([None, "aws", "remote", "local"]))
        if namespace is not None:
            document["namespace"] = namespace
    document.update(fields)
    return document


BLOCKS = frozenset(
    {
        "http",
        "request",
        "response",
        "aws",
        "xray",
        "ec2",
        "ecs",
        "sql",
        "service",
        "annotations",
        "metadata",
        "cause",
        "default",
    }
)


def semantic(block):
    """A document as it reads: false flags, empty blocks left out (test_round_trip_xray.CHANGED)."""
    out = {}
    for key, value in block.items():
        if key in ("fault", "error", "throttle", "in_progress") and value is False:
            continue
        kept = value
        if key == "exceptions" and isinstance(value, list):
            kept = [
                {k: v for k, v in item.items() if not (k == "remote" and v is False)}
                for item in value
            ]
        if key in BLOCKS and isinstance(value, dict):
            kept = semantic(value)
            if not kept:
                continue
        out[key] = kept
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_document_survives_the_round_trip(document):
    """Read as a span and written again, the document says the same."""
    request = documents_to_spans([orjson.dumps(document)])

    (back,) = spans_to_documents(request).documents

    assert semantic(orjson.loads(back)) == semantic(document)
