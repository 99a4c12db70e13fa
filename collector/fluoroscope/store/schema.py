"""The SQLite schema and its versioned migrations.

``PRAGMA user_version`` holds the number of migrations applied. Each migration runs once, in its
own transaction, in order; a database newer than this code is refused rather than guessed at.
"""

import sqlite3

from fluoroscope.errors import StoreError
from fluoroscope.model.statistics import BUCKETS

# The response-time histogram of graph_minutes: one column per bucket (model.statistics).
HIST_COLUMNS = ", ".join(f"h{i} REAL NOT NULL DEFAULT 0" for i in range(BUCKETS))

MIGRATIONS: tuple[str, ...] = (
    # 1: traces with their summaries, raw documents, the annotation index.
    """
    CREATE TABLE traces (
        rowid          INTEGER PRIMARY KEY,
        trace_id       TEXT NOT NULL UNIQUE,
        revision       INTEGER NOT NULL,
        start_time     REAL NOT NULL,  -- earliest segment start
        end_time       REAL NOT NULL,  -- latest segment end (TimeRangeType Service)
        id_time        REAL NOT NULL,  -- trace id epoch, or real start for W3C ids (TraceId)
        updated_at     REAL NOT NULL,  -- when the latest revision was stored (Event)
        duration       REAL NOT NULL,
        response_time  REAL,
        http_status    INTEGER,
        http_method    TEXT,
        http_url       TEXT,
        http_useragent TEXT,
        http_clientip  TEXT,
        has_fault      INTEGER NOT NULL,
        has_error      INTEGER NOT NULL,
        has_throttle   INTEGER NOT NULL,
        is_partial     INTEGER NOT NULL,
        completeness   INTEGER NOT NULL,
        limit_exceeded INTEGER NOT NULL,
        summary        TEXT NOT NULL   -- the TraceSummary, compact JSON (summary_codec)
    );
    CREATE INDEX traces_by_id_time ON traces (id_time);
    CREATE INDEX traces_by_end_time ON traces (end_time);
    CREATE INDEX traces_by_updated_at ON traces (updated_at);

    -- One row per document id: a segment, or a subsegment sent on its own, stored exactly as
    -- received (documents are validated JSON, so always UTF-8 text). Replacing a document
    -- gives it a new rowid, so rowid order is the order in which current versions arrived.
    CREATE TABLE documents (
        rowid       INTEGER PRIMARY KEY,
        trace_rowid INTEGER NOT NULL,
        doc_id      TEXT NOT NULL,
        doc         TEXT NOT NULL,
        UNIQUE (trace_rowid, doc_id)
    );

    -- The annotation index: vtype is 's', 'n' or 'b' so that true and 1 stay distinct.
    CREATE TABLE annotations (
        key         TEXT NOT NULL,
        vtype       TEXT NOT NULL,
        value       NOT NULL,
        trace_rowid INTEGER NOT NULL,
        PRIMARY KEY (key, vtype, value, trace_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX annotations_by_trace ON annotations (trace_rowid);
    """,
    # 2: services per trace (for service() filters), the service graph's per-minute
    # statistics, and groups.
    """
    ALTER TABLE traces ADD COLUMN inferred INTEGER NOT NULL DEFAULT 0;

    -- One row per service a trace visited (or inferred), with the status classes any of its
    -- visits had: a pre-filter for service("name") { ... } expressions.
    CREATE TABLE trace_services (
        name        TEXT NOT NULL,
        type        TEXT NOT NULL,   -- '' when the segments carry no origin
        account     TEXT NOT NULL,
        trace_rowid INTEGER NOT NULL,
        flags       INTEGER NOT NULL, -- 1 fault, 2 error, 4 throttle, 8 ok, 16 root, 32 inferred
        max_rt      REAL NOT NULL,    -- the longest response time of its visits
        PRIMARY KEY (name, type, account, trace_rowid)
    ) WITHOUT ROWID;
    CREATE INDEX trace_services_by_trace ON trace_services (trace_rowid);

    -- Node ("n") and edge ("e") statistics per minute, kept as running sums: each trace
    -- revision adds the difference from what its previous revision contributed. grp is ''
    -- for all traces, else a group's name.
    CREATE TABLE graph_minutes (
        grp          TEXT NOT NULL,
        minute       INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        src_name     TEXT NOT NULL,
        src_type     TEXT NOT NULL,
        src_account  TEXT NOT NULL,
        src_inferred INTEGER NOT NULL,
        dst_name     TEXT NOT NULL,
        dst_type     TEXT NOT NULL,
        dst_account  TEXT NOT NULL,
        dst_inferred INTEGER NOT NULL,
        ok           REAL NOT NULL,
        error        REAL NOT NULL,
        throttle     REAL NOT NULL,
        fault        REAL NOT NULL,
        total        REAL NOT NULL,
        total_rt     REAL NOT NULL,
        HIST_COLUMNS,
        PRIMARY KEY (grp, minute, kind, src_name, src_type, src_account,
                     dst_name, dst_type, dst_account)
    ) WITHOUT ROWID;

    CREATE TABLE groups (
        name          TEXT PRIMARY KEY,
        arn           TEXT NOT NULL UNIQUE,
        filter        TEXT,
        insights      INTEGER NOT NULL,
        notifications INTEGER NOT NULL,
        updated_at    REAL NOT NULL
    );
    """.replace("HIST_COLUMNS", HIST_COLUMNS),
    # 3: sampling rules (each a botocore SamplingRuleRecord, JSON) and small settings.
    """
    CREATE TABLE sampling_rules (
        name   TEXT PRIMARY KEY,
        record TEXT NOT NULL
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 4: the same statistics per hour, so that a window of hours sums a few rows per edge.
    "CREATE TABLE graph_hours AS SELECT * FROM graph_minutes WHERE 0;\n"
    "CREATE UNIQUE INDEX graph_hours_key ON graph_hours (grp, minute, kind, src_name, src_type,"
    " src_account, dst_name, dst_type, dst_account);\n"
    "INSERT INTO graph_hours SELECT grp, minute - minute % 3600, kind, src_name, src_type,"
    " src_account, src_inferred, dst_name, dst_type, dst_account, dst_inferred, sum(ok),"
    " sum(error), sum(throttle), sum(fault), sum(total), sum(total_rt), "
    + ", ".join(f"sum(h{i})" for i in range(BUCKETS))
    + " FROM graph_minutes GROUP BY grp, minute - minute % 3600, kind, src_name, src_type,"
    " src_account, dst_name, dst_type, dst_account;",
    # 5: an inferred node's statistics are read from the edges into it, not stored twice.
    "DELETE FROM graph_minutes WHERE kind = 'n' AND src_inferred AND src_type != 'client';\n"
    "DELETE FROM graph_hours WHERE kind = 'n' AND src_inferred AND src_type != 'client';",
    # 6: how each trace was sampled: the deciding rule (NULL when nothing sampled it) and the
    # probability it had of being kept.
    """
    ALTER TABLE traces ADD COLUMN sampled_by TEXT;
    ALTER TABLE traces ADD COLUMN probability REAL NOT NULL DEFAULT 1;
    """,
    # 7: the first and last minute with statistics in each hour, so that a window of whole hours
    # still says when a node or edge was first and last seen (the minutes, where they are kept;
    # else the whole hour).
    """
    ALTER TABLE graph_hours ADD COLUMN first_minute INTEGER;
    ALTER TABLE graph_hours ADD COLUMN last_minute INTEGER;
    UPDATE graph_hours SET (first_minute, last_minute) = (
        SELECT coalesce(min(m.minute), graph_hours.minute),
               coalesce(max(m.minute), graph_hours.minute + 3540)
        FROM graph_minutes AS m
        WHERE m.minute >= graph_hours.minute AND m.minute < graph_hours.minute + 3600
        AND (m.grp, m.kind, m.src_name, m.src_type, m.src_account,
             m.dst_name, m.dst_type, m.dst_account)
          = (graph_hours.grp, graph_hours.kind, graph_hours.src_name, graph_hours.src_type,
             graph_hours.src_account, graph_hours.dst_name, graph_hours.dst_type,
             graph_hours.dst_account));
    """,
)


def migrate(connection: sqlite3.Connection, upto: int = len(MIGRATIONS)) -> int:
    """Bring the database up to the newest schema (or to ``upto``); return its version now."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the database is at schema version {version}, newer than this Fluoroscope "
            f"understands ({len(MIGRATIONS)}); use a newer Fluoroscope or another --data-dir"
        )
    for number in range(version, upto):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number + 1}")
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            connection.execute("ROLLBACK")
            raise StoreError(f"schema migration {number + 1} failed: {exc}") from exc
    return max(int(version), upto)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    statements = []
    buffer = ""
    for line in script.splitlines():
        code = line.split("--", 1)[0]
        buffer += code + "\n"
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
