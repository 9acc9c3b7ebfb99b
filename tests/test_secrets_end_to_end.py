"""No secret survives a run: every byte Podium writes is searched for secrets it was given.

Runs whose goal, tool results, model outputs and memory notes carry credentials of many
formats (each generated afresh from a seed, so no test depends on one fixed example), with
SQLite checkpoints, real Chroma memory, a DEBUG log of every logger, the event stream and an
eval recording; then every file under the test's folder, the log and the events are read as
bytes and searched for each secret's distinctive part.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podium.agents import AgentSpec
from podium.evals._cassette import Cassette, CassetteModel
from podium.evals._record import scenario_from_run
from podium.memory import MemoryStore
from podium.memory.testing import HashEmbedder
from podium.policies import Redactor
from podium.runtime import AssistantMessage, ModelRequest, Podium, PodiumConfig, ToolCall
from podium.runtime.testing import FunctionModel

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


SecretMaker = Callable[[random.Random], tuple[str, str]]
"""Returns (text that carries the secret, the secret's distinctive part to search for)."""


def _made(text: str, core: str) -> tuple[str, str]:
    return text, core


FORMATS: dict[str, SecretMaker] = {
    "openai_project_key": lambda r: _made(f"sk-proj-{(c := _pick(r, ALNUM, 40))}", c[:16]),
    "dashed_live_key": lambda r: _made(f"sk-live-{(c := _pick(r, ALNUM, 26))}", c[:14]),
    "stripe_live_key": lambda r: _made(f"sk_live_{(c := _pick(r, ALNUM, 30))}", c[-14:]),
    "stripe_restricted_key": lambda r: _made(f"rk_live_{(c := _pick(r, ALNUM, 28))}", c[-14:]),
    "aws_access_key_id": lambda r: _made(f"AKIA{(c := _pick(r, UPPER, 16))}", c),
    "aws_secret_line": lambda r: _made(
        f"aws_secret_access_key={(c := _pick(r, ALNUM + '/+', 40))}", c[:20]
    ),
    "aws_secret_env_style": lambda r: _made(
        f"AWS_SECRET_ACCESS_KEY: {(c := _pick(r, ALNUM + '/+', 40))}", c[:20]
    ),
    "github_classic_token": lambda r: _made(f"ghp_{(c := _pick(r, ALNUM, 36))}", c[-16:]),
    "github_fine_grained": lambda r: _made(
        f"github_pat_{(c := _pick(r, ALNUM + '_', 82))}", c[-20:]
    ),
    "gitlab_token": lambda r: _made(f"glpat-{(c := _pick(r, ALNUM, 20))}", c[-14:]),
    "slack_bot_token": lambda r: _made(
        f"xoxb-{r.randrange(10**11, 10**12)}-{r.randrange(10**12, 10**13)}-"
        f"{(c := _pick(r, ALNUM, 24))}",
        c[-16:],
    ),
    "google_api_key": lambda r: _made(f"AIza{(c := _pick(r, ALNUM + '_-', 35))}", c[-16:]),
    "sendgrid_key": lambda r: _made(
        f"SG.{_pick(r, ALNUM, 22)}.{(c := _pick(r, ALNUM, 43))}", c[-16:]
    ),
    "npm_token": lambda r: _made(f"npm_{(c := _pick(r, ALNUM, 36))}", c[-16:]),
    "jwt": lambda r: _made(
        f"{_b64url({'alg': 'HS256', 'typ': 'JWT'})}."
        f"{_b64url({'sub': _pick(r, HEX, 12), 'name': 'svc'})}.{(c := _pick(r, ALNUM + '_-', 43))}",
        c[-16:],
    ),
    "bearer_header": lambda r: _made(
        f"Authorization: Bearer {(c := _pick(r, ALNUM, 32))}", c[-16:]
    ),
    "password_assignment": lambda r: _made(
        f'password = "{(c := _pick(r, ALNUM, 6) + "#" + _pick(r, ALNUM, 8))}"', c
    ),
    "database_url_password": lambda r: _made(
        f"postgres://app:{(c := _pick(r, ALNUM, 18))}@db.internal.example:5432/prod", c
    ),
    "private_key_block": lambda r: _made(
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + "\n".join(_pick(r, ALNUM + "+/", 64) for _ in range(3))
        + f"\n{(c := _pick(r, ALNUM, 40))}\n-----END RSA PRIVATE KEY-----",
        c[:20],
    ),
    "twilio_api_key": lambda r: _made(f"SK{(c := _pick(r, HEX, 32))}", c[-16:]),
    "huggingface_token": lambda r: _made(f"hf_{(c := _pick(r, ALNUM, 34))}", c[-16:]),
}


def _secrets(seed: int) -> dict[str, tuple[str, str]]:
    rng = random.Random(seed)
    return {name: make(rng) for name, make in FORMATS.items()}


def _spacing(rng: random.Random, text: str) -> str:
    """The secret in a sentence, with varied surroundings (quotes, parentheses, line ends)."""
    before, after = rng.choice([("", ""), ("(", ")"), ("'", "'"), ("`", "`"), ("\t", ".\n")])
    return f"{before}{text}{after}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_secret_in_any_byte_podium_writes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    secrets = _secrets(seed)
    texts = [text for text, _ in secrets.values()]
    rng.shuffle(texts)
    in_goal = texts[:4]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "vault.md").write_text(
        "Service credentials (internal):\n" + "\n".join(_spacing(rng, t) for t in texts) + "\n",
        encoding="utf-8",
    )
    env_secret = "envsecret-" + _pick(rng, ALNUM, 20)
    data_dir = tmp_path / "data"
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir), "checkpointer": "sqlite"},
            "tools": {"workspace": str(workspace)},
            "memory": {"enabled": True},
        }
    )
    store = MemoryStore(config.memory, data_dir=data_dir, embedder=HashEmbedder(64))
    spec = AgentSpec(
        name="ops",
        description="Reads the service notes and reports on credentials.",
        system_prompt="You read files and report what they say.",
        tools=("read_file", "memory_write"),
        scopes=("read:workspace", "memory:write"),
        max_steps=4,
    )

    def model(request: ModelRequest) -> Any:
        if request.purpose in ("plan", "replan", "review"):
            return {
                "tasks": [
                    {"id": "read", "agent": "ops", "instruction": "Read vault.md.", "inputs": []},
                    {
                        "id": "report",
                        "agent": "ops",
                        "instruction": "Report every credential found.",
                        "inputs": ["read"],
                    },
                ]
            }
        if request.purpose == "synthesis":
            return "Summary of credentials: " + " ".join(texts) + f" and {env_secret}"
        made = [m for m in request.messages if m.get("role") == "tool"]
        if request.task_id == "read" and not made:
            call = ToolCall(id="c1", name="read_file", arguments=json.dumps({"path": "vault.md"}))
            return AssistantMessage(tool_calls=(call,))
        if request.task_id == "read" and len(made) == 1:
            note = {"text": "Keep these: " + " ".join(texts[:6])}
            call = ToolCall(id="c2", name="memory_write", arguments=json.dumps(note))
            return AssistantMessage(tool_calls=(call,))
        return f"Found (task {request.task_id}): " + "; ".join(texts) + f"; env {env_secret}"

    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    events: list[Any] = []
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ACME_SERVICE_TOKEN", env_secret)
            recorder = CassetteModel(Cassette(source="scripted"), "record", FunctionModel(model))
            podium = Podium(
                config,
                model=recorder,
                agents=[spec],
                tool_wrapper=recorder.wrap_tool,
                memory=store,
            )
            goal = "Audit these credentials " + ", ".join(in_goal) + " for the billing team"
            result = asyncio.run(podium.arun(goal, on_event=events.append))
            logging.getLogger("podium.test").debug("the goal was %s", goal)
            scenario_from_run(result, recorder.cassette, tmp_path / "suite" / "audit.yaml")
            podium.close()
            store.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()

    assert result.status == "completed", result.error
    assert "[REDACTED:" in (result.answer or "")
    written = {path: path.read_bytes() for path in sorted(tmp_path.rglob("*")) if path.is_file()}
    written[tmp_path / "events.json"] = json.dumps(
        [e.model_dump(mode="json") for e in events]
    ).encode()
    assert any(p.suffix == ".sqlite" for p in written), sorted(written)
    assert any("chroma" in str(p) for p in written), "memory wrote no Chroma files"
    assert log_file.stat().st_size > 0
    leaks = [
        f"{name} in {path.relative_to(tmp_path)}"
        for name, (_, core) in [*secrets.items(), ("env_secret", ("", env_secret))]
        for path, data in written.items()
        if path.name != "vault.md" and core.encode() in data
    ]
    assert not leaks, leaks


@pytest.mark.parametrize("seed", range(8))
def test_every_format_is_masked_in_varied_surroundings(seed: int) -> None:
    rng = random.Random(100 + seed)
    redactor = Redactor(include_env=False)
    for name, (text, core) in _secrets(seed).items():
        line = f"note {rng.choice(['', 'Key:', 'creds ->'])} {_spacing(rng, text)} end"
        masked = redactor.redact(line)
        assert core not in masked, (name, masked)
        assert redactor.redact(masked) == masked, name  # idempotent
        data = {"outer": [{"value": line}]}
        assert core not in json.dumps(redactor.redact_data(data)), name


BENIGN = (
    "The secretary: Margaret Thompson; the author: Christopher Wren.",
    "Your password: must be at least twelve characters.",
    "input_cost_per_token = 0.0000002",
    'api_key_env = "OPENAI_API_KEY"',
    "Commit a54745f3e2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7 fixed the token refresh.",
    '{"lead_id": "550e8400-e29b-41d4-a716-446655440000", "score": 82}',
    "Priya Nair, VP of Finance at Northwind Analytics, asked for a call on 14 March.",
    "Ticket T-1042: customer cannot reset their password after the token expired.",
)


@pytest.mark.parametrize("text", BENIGN)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor(include_env=False).redact(text) == text


def test_log_records_of_any_logger_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    from podium.policies import redact_logs

    redact_logs(Redactor(include_env=False))
    secret, core = FORMATS["stripe_live_key"](random.Random(5))
    names = ("aiosqlite", "some.library.deep.child", "guardrails.x")
    with caplog.at_level(logging.DEBUG):
        for name in names:
            logging.getLogger(name).debug("params %s", (secret, 1))
        try:
            raise ValueError(f"bad key {secret}")
        except ValueError:
            logging.getLogger("x.y").exception("failed")
    assert len(caplog.records) == len(names) + 1
    assert core not in caplog.text
    assert all(core not in (r.exc_text or "") for r in caplog.records)


@pytest.mark.parametrize("seed", [7, 8])
def test_chat_line_history_keeps_no_secret(tmp_path: Path, seed: int) -> None:
    readline = pytest.importorskip("readline")
    from podium.runtime.cli._chat import _line_history

    secrets = _secrets(seed)
    path = tmp_path / "chat" / "input_history"
    readline.clear_history()
    with _line_history(path):
        for text, _ in secrets.values():
            readline.add_history(f"rotate {text} now")
        readline.add_history("plain goal with nothing to hide")
    kept = path.read_text(encoding="utf-8")
    assert "plain goal with nothing to hide" in kept
    assert [name for name, (_, core) in secrets.items() if core in kept] == []
    readline.clear_history()
