"""The sql block, from database attributes and back (xray-protocol.md 4.1)."""

from .conftest import CLIENT, PARENT, attributes_of

POSTGRES = {
    "db.system": "postgresql",
    "db.name": "orders",
    "db.statement": "SELECT * FROM orders WHERE id = %s",
    "db.user": "app",
    "server.address": "db.example.com",
    "server.port": 5432,
}


def test_a_sql_span_fills_the_sql_block(make_span, to_document):
    """System, address, user and statement, the address written as a URL."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=POSTGRES)

    document = to_document(span)

    assert document["sql"] == {
        "url": "postgresql://db.example.com:5432/orders",
        "database_type": "postgresql",
        "user": "app",
        "sanitized_query": "SELECT * FROM orders WHERE id = %s",
    }


def test_a_connection_string_is_the_url(make_span, to_document):
    """db.connection_string, when set, is the URL as given."""
    attributes = dict(POSTGRES, **{"db.connection_string": "postgresql://replica:5432"})
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=attributes)

    assert to_document(span)["sql"]["url"] == "postgresql://replica:5432"


def test_stable_database_conventions_fill_the_sql_block(make_span, to_document):
    """db.system.name and db.query.text, as the stable conventions call them."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"db.system.name": "mysql", "db.query.text": "SELECT 1"},
    )

    assert to_document(span)["sql"] == {"database_type": "mysql", "sanitized_query": "SELECT 1"}


def test_a_database_system_name_matches_in_any_case(make_span, to_document):
    """PostgreSQL is postgresql."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes={"db.system": "PostgreSQL"})

    assert to_document(span)["sql"] == {"database_type": "PostgreSQL"}


def test_a_non_sql_database_has_no_sql_block(make_span, to_document):
    """Redis is a remote call, its attributes metadata, as in the exporter."""
    attributes = {"db.system": "redis", "db.statement": "GET cart:1"}
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=attributes)

    document = to_document(span)

    assert "sql" not in document
    assert document["metadata"]["default"] == attributes


def test_statement_and_user_are_not_repeated_in_metadata(make_span, to_document):
    """What the sql block holds unchanged is not metadata too; the URL's parts are."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=POSTGRES)

    assert sorted(to_document(span)["metadata"]["default"]) == [
        "db.name",
        "server.address",
        "server.port",
    ]


def test_a_sql_span_comes_back_exactly(make_span, to_document, to_span):
    """The span's own attributes, not the ones the block implies."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=POSTGRES)

    assert attributes_of(to_span(to_document(span))) == POSTGRES


def test_a_sql_block_reads_back_as_database_attributes(make_document, to_span):
    """url, database_type, user and sanitized_query become db.* attributes."""
    document = make_document(
        sql={
            "url": "postgresql://db.example.com:5432/orders",
            "database_type": "PostgreSQL",
            "user": "app",
            "sanitized_query": "SELECT 1",
        }
    )

    assert attributes_of(to_span(document)) == {
        "db.connection_string": "postgresql://db.example.com:5432/orders",
        "db.system": "PostgreSQL",
        "db.user": "app",
        "db.statement": "SELECT 1",
    }


def test_other_sql_fields_come_back_to_the_sql_block(make_document, to_span, to_document):
    """database_version and driver_version have no convention; they travel and return."""
    sql = {"url": "sqlite:///app.db", "database_version": "3.45", "driver_version": "2.6"}
    document = make_document(sql=sql)

    assert to_document(to_span(document))["sql"] == sql
