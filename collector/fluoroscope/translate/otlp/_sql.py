"""The ``sql`` block: database attributes of SQL databases, both ways.

To X-Ray, as the Collector's exporter does (``sql.go``), only for SQL databases (``db.system`` or
``db.system.name`` in the list below, in any case); a span with no ``db.system`` at all but with
the attributes this module writes back is taken as SQL too, since only a document can have
given it those:

==================== =======================================================================
``url``              ``db.connection_string``; else ``<db.system>://<server.address>[:port]
                     [/<db.name>]`` (``net.peer.name``/``net.peer.port`` and
                     ``db.namespace`` are read too)
``database_type``    ``db.system``, ``db.system.name``
``user``             ``db.user``
``sanitized_query``  ``db.statement``, ``db.query.text``
==================== =======================================================================

The exporter puts the span name in ``url`` and ``<connection string or localhost>/<db.name>`` in
``connection_string``; Fluoroscope writes the database's address in ``url``, which is what the
X-Ray documentation asks for, and leaves ``connection_string`` to documents that had one. From
X-Ray, ``url`` becomes ``db.connection_string``, ``database_type`` ``db.system``, ``user``
``db.user`` and ``sanitized_query`` ``db.statement`` (the names OpenTelemetry's Python database
instrumentations write); other fields travel as ``aws.xray.sql.<field>``.
"""

from collections.abc import Mapping
from typing import Any

from fluoroscope.translate.otlp._values import Value, scalar, string

# db.system values (old and stable conventions) that name relational databases.
SQL_SYSTEMS = frozenset(
    {
        "adabas",
        "cache",
        "clickhouse",
        "cockroachdb",
        "db2",
        "derby",
        "edb",
        "firebird",
        "h2",
        "hive",
        "hsqldb",
        "ibm.db2",
        "informix",
        "ingres",
        "instantdb",
        "interbase",
        "intersystems_cache",
        "mariadb",
        "maxdb",
        "microsoft.sql_server",
        "mssql",
        "mysql",
        "netezza",
        "oracle",
        "oracle.db",
        "other_sql",
        "pervasive",
        "pointbase",
        "postgresql",
        "presto",
        "progress",
        "redshift",
        "spanner",
        "sqlite",
        "sybase",
        "teradata",
        "trino",
        "vertica",
    }
)
_FIELDS = {
    "url": "db.connection_string",
    "database_type": "db.system",
    "user": "db.user",
    "sanitized_query": "db.statement",
}
_WRITTEN_BACK = tuple(_FIELDS.values())


def to_xray(attributes: Mapping[str, Value]) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``sql`` block of a span, and the attribute keys it consumed."""
    system_key = "db.system" if "db.system" in attributes else "db.system.name"
    system = string(attributes, system_key)
    if system is not None:
        if system.lower() not in SQL_SYSTEMS:
            return None, []
    elif system_key in attributes or not any(key in attributes for key in _WRITTEN_BACK):
        return None, []

    used: list[str] = []
    sql: dict[str, Any] = {}
    connection = string(attributes, "db.connection_string")
    if connection is not None:
        sql["url"] = connection
        used.append("db.connection_string")
    elif system is not None:
        url = _address(system, attributes)
        if url is not None:
            sql["url"] = url
    if system is not None:
        sql["database_type"] = system
        used.append(system_key)
    for field, keys in (
        ("user", ("db.user",)),
        ("sanitized_query", ("db.statement", "db.query.text")),
    ):
        for key in keys:
            value = string(attributes, key)
            if value is not None:
                sql[field] = value
                used.append(key)
                break
    return sql or None, used


def from_xray(sql: Any, attributes: dict[str, Value], extras: dict[tuple[str, ...], Any]) -> None:
    """Add the attributes an ``sql`` block stands for; other fields go to extras."""
    if not isinstance(sql, dict):
        extras[("sql",)] = sql
        return
    for field, value in sql.items():
        name = _FIELDS.get(field)
        if name is not None and isinstance(value, str):
            attributes[name] = {"stringValue": value}
        else:
            extras[("sql", field)] = value


def _address(system: str, attributes: Mapping[str, Value]) -> str | None:
    host = string(attributes, "server.address") or string(attributes, "net.peer.name")
    if not host:
        return None
    port = scalar(attributes, "server.port")
    if port is None:
        port = scalar(attributes, "net.peer.port")
    name = string(attributes, "db.name") or string(attributes, "db.namespace")
    url = f"{system}://{host}"
    if port is not None:
        url += f":{port}"
    if name:
        url += f"/{name}"
    return url
