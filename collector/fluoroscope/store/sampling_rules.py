"""Sampling rules as stored: one botocore ``SamplingRuleRecord`` per rule, and when rules last
changed (GetSamplingTargets' ``LastRuleModification`` must survive a restart)."""

import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson

from fluoroscope.store.sqlite import connect

_LAST_MODIFICATION = "sampling.last_modification"


class RuleTable:
    """Loads and saves the whole rule set (it is small: at most a few dozen rules)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = connect(self._path, readonly=False, cache_kib=256)
        return self._connection

    def load(self) -> tuple[list[dict[str, Any]], float]:
        """Every stored record, and the last modification time (0 if never saved)."""
        with self._lock:
            db = self._db()
            records = [orjson.loads(r) for (r,) in db.execute("SELECT record FROM sampling_rules")]
            row = db.execute(
                "SELECT value FROM settings WHERE key = ?", (_LAST_MODIFICATION,)
            ).fetchone()
        return records, float(row[0]) if row else 0.0

    def save(self, records: list[dict[str, Any]], last_modification: float) -> None:
        """Replace the stored rules with ``records`` in one transaction."""
        with self._lock:
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM sampling_rules")
                db.executemany(
                    "INSERT INTO sampling_rules VALUES (?, ?)",
                    [(r["SamplingRule"]["RuleName"], orjson.dumps(r).decode()) for r in records],
                )
                db.execute(
                    "INSERT OR REPLACE INTO settings VALUES (?, ?)",
                    (_LAST_MODIFICATION, repr(last_modification)),
                )
                db.execute("COMMIT")
            except BaseException:  # whatever failed, the write lock must not stay taken
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
