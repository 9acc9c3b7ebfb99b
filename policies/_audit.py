"""The audit trail: one append-only JSONL file per run, every line redacted before it is written."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._redact import Redactor

AUDIT_FILE = "audit.jsonl"


class AuditLog:
    """Appends records to `path`, one `write` per line (O_APPEND: concurrent writers never
    interleave, and a killed process loses at most its last line, which readers skip)."""

    def __init__(self, path: Path, redactor: Redactor | None = None) -> None:
        self.path = path
        self.redactor = redactor or Redactor()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, kind: str, **fields: Any) -> None:
        entry = {"at": round(time.time(), 6), "kind": kind, **self.redactor.redact_data(fields)}
        line = json.dumps(entry, default=str, ensure_ascii=False) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))  # one write per line: appends never interleave
            finally:
                os.close(fd)


def read_audit(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an audit file, in order; a torn last line (a killed process) is skipped."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
