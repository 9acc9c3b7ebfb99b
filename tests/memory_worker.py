"""A separate process for the memory tests: writes a known set of entries, reports as JSON to a file.

    python memory_worker.py hash|minilm CONFIG_JSON RESULT_FILE

It records every non-Unix socket the process tries to open or connect (an audit hook sees
them even when a library swallows the error), and must print nothing: the test checks that
stdout and stderr are empty.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

attempts: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.__new__" and args[1] not in (socket.AF_UNIX, -1):
        attempts.append(f"{event} family={args[1]}")
    elif event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        target = args[1] if event == "socket.connect" else args[0]
        attempts.append(f"{event} {target!r}")


def main() -> None:
    embedding, raw_config, result_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sys.addaudithook(_audit)

    from podium.memory import MemoryConfig, MemoryStore, MiniLMEmbedder
    from podium.memory.testing import HashEmbedder

    config = MemoryConfig.model_validate(json.loads(raw_config))
    store = MemoryStore(
        config, embedder=MiniLMEmbedder() if embedding == "minilm" else HashEmbedder()
    )
    scope = store.scope("acme", run_id="run-1", agent="researcher")
    entry = scope.write("Northwind renewed for two years in March", task_id="t1")
    scope.write("private researcher note on Northwind pricing", namespace="agent")
    store.scope("acme").write("Acme's fiscal year starts in February", source="user")
    store.plan_cache("acme").put(GOAL, PLAN, run_id="run-1")
    # A search and a lookup too, so the whole read path runs under the audit hook.
    found = scope.search("When did Northwind renew?", k=3)
    result = {
        "written": entry.model_dump(mode="json"),
        "found": len(found),
        "plan_found": store.plan_cache("acme").lookup(GOAL) is not None,
        "socket_attempts": attempts,
    }
    result_file.write_text(json.dumps(result), encoding="utf-8")


GOAL = "Qualify the lead Dana Reyes at Northwind and draft an outreach email"
PLAN = '{"tasks": [{"id": "t1"}]}'


if __name__ == "__main__":
    main()
