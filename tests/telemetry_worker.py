"""A separate process for the no-telemetry test: one run through litellm to a local model endpoint.

    python telemetry_worker.py DATA_DIR RESULT_FILE

It serves an OpenAI-compatible endpoint on 127.0.0.1 (the run's only configured model
endpoint), runs a goal with every guard on and shared memory on, forces guardrails-ai's
telemetry exporter to flush (it would otherwise wait ~5 s), and reports every non-Unix socket
the process tried to connect or resolve, seen by an audit hook (which sees attempts that a
library swallows).
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

attempts: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and isinstance(args[1], tuple):
        attempts.append(f"connect {args[1][0]}:{args[1][1]}")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        attempts.append(f"resolve {args[0]}")


PLAN = {
    "tasks": [
        {"id": "r", "agent": "researcher", "instruction": "Find Northwind's size.", "inputs": []}
    ]
}


class FakeOpenAI(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        wants_json = "response_format" in body
        content = json.dumps(PLAN) if wants_json else "Northwind Analytics has 40 staff."
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


def main() -> None:
    data_dir, result_file = Path(sys.argv[1]), Path(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.addaudithook(_audit)

    from podium.memory import MemoryStore
    from podium.memory.testing import HashEmbedder
    from podium.runtime import Podium, PodiumConfig

    config = PodiumConfig.from_mapping(
        {
            "models": {
                "deployments": [
                    {
                        "tier": t,
                        "model": "openai/fake-model",
                        "api_base": f"http://127.0.0.1:{port}/v1",
                        "api_key_env": "FAKE_PROVIDER_KEY",
                        "input_cost_per_token": 0,
                        "output_cost_per_token": 0,
                    }
                    for t in ("cheap", "frontier")
                ],
                "num_retries": 0,
            },
            "storage": {"data_dir": str(data_dir)},
            "memory": {"enabled": True},
        }
    )
    store = MemoryStore(config.memory, data_dir=data_dir, embedder=HashEmbedder())
    podium = Podium(config, memory=store)
    result = podium.run("Research Northwind Analytics")
    from guardrails.utils.hub_telemetry_utils import HubTelemetry

    provider = getattr(HubTelemetry(), "_tracer_provider", None)
    if provider is not None:
        provider.force_flush()
    podium.close()
    store.close()
    server.shutdown()
    outside = [a for a in attempts if a not in (f"connect 127.0.0.1:{port}", "resolve 127.0.0.1")]
    result_file.write_text(
        json.dumps(
            {
                "status": result.status,
                "answer": result.answer,
                "port": port,
                "attempts": attempts,
                "outside": outside,
                "guards": len(result.all_verdicts),
            }
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
