"""Groups: named filter expressions, kept in the ``groups`` table.

Groups change rarely and are small, so they have their own connection rather than going
through the trace writer; SQLite's locking orders the two writers.
"""

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from fluoroscope.store.sqlite import connect


@dataclass(slots=True, frozen=True)
class GroupRecord:
    """One group as stored."""

    name: str
    arn: str
    filter: str | None
    insights: bool
    notifications: bool
    updated_at: float


class GroupTable:
    """Create, read, update and delete groups."""

    def __init__(self, path: Path) -> None:
        self._connection: sqlite3.Connection | None = None
        self._path = path
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = connect(self._path, readonly=False, cache_kib=512)
        return self._connection

    def all(self) -> list[GroupRecord]:
        """Every group, by name."""
        with self._lock:
            rows = self._db().execute(
                "SELECT name, arn, filter, insights, notifications, updated_at "
                "FROM groups ORDER BY name"
            )
            return [_record(row) for row in rows]

    def insert(self, record: GroupRecord) -> bool:
        """Add a group; False if the name is taken."""
        with self._lock:
            try:
                self._db().execute(
                    "INSERT INTO groups VALUES (?, ?, ?, ?, ?, ?)",
                    (record.name, record.arn, record.filter, record.insights,
                     record.notifications, record.updated_at),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                return False
            return True

    def update(self, record: GroupRecord) -> None:
        """Replace a group's filter and settings."""
        with self._lock:
            self._db().execute(
                "UPDATE groups SET filter = ?, insights = ?, notifications = ?, updated_at = ? "
                "WHERE name = ?",
                (record.filter, record.insights, record.notifications, record.updated_at,
                 record.name),
            )  # fmt: skip

    def delete(self, name: str) -> None:
        """Remove a group."""
        with self._lock:
            self._db().execute("DELETE FROM groups WHERE name = ?", (name,))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _record(row: tuple[object, ...]) -> GroupRecord:
    name, arn, text, insights, notifications, updated_at = row
    return GroupRecord(
        str(name), str(arn), None if text is None else str(text), bool(insights),
        bool(notifications), float(updated_at),  # type: ignore[arg-type]
    )  # fmt: skip
