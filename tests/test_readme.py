"""The README's examples run as written, so an example that stops working fails `make test`.

Every fenced block of README.md is found here by its language:
- ```python blocks run in order, in one namespace (as a reader pastes them into one session),
  in a scratch folder whose podium.toml keeps memory off; where a block would reach a model,
  the embedded model is swapped for the scripted double of tests/serve_support.py (the
  examples are the same code; only the model answering differs), and the `openai` client
  example talks to a real `podium serve` on that double.
- ```sh blocks: each `podium ...` line runs as written (its comment aside) on the same double,
  all in one process, `RUN_ID` standing for a run interrupted before them; a line that cannot
  run as written here is listed in SKIPPED with the reason, or in RUN_AS with what runs instead
  (usage notation such as `[--tenant T]`). A line listed nowhere runs as written: a new example
  is run as soon as it is added.
- ```toml blocks are loaded as a `PodiumConfig`; the ```yaml block is parsed.

Sybil and pytest-examples were considered: both run Python blocks well, neither runs shell
lines, and the setup that matters (the double, the scratch folder, a server) is the same
either way, so a few lines of extraction here keep the dev dependencies as they are.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from serve_support import ScriptedBackend
from test_serve_live import start, stop

from podium.runtime import PodiumConfig

README = Path(__file__).parents[1] / "README.md"
SUPPORT = Path(__file__).parent / "outcome_support.py"
pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@dataclass(frozen=True)
class Block:
    line: int
    """Where its first line of code is in README.md."""
    lang: str
    code: str


def blocks(lang: str) -> list[Block]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        if match.group(1) == lang:
            line = text.count("\n", 0, match.start()) + 2
            found.append(Block(line, lang, match.group(2)))
    return found


# -- Python --------------------------------------------------------------------------------

TEST_CONFIG = """\
[storage]
data_dir = "data"
[memory]
enabled = false
[planner]
playbooks = false
[models]
cheap = "openai/gpt-4o-mini"     # never called: the scripted double answers
frontier = "openai/gpt-4o"
"""


class ReadmeBackend(ScriptedBackend):
    """What answers where an example builds its own model backend (`LiteLLMBackend`)."""

    def __init__(self, models: Any = None) -> None:
        super().__init__()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("readme-serve") / "data"
    process, line = start([sys.executable, str(SUPPORT), "serve", str(data)], "PORT ")
    yield f"http://127.0.0.1:{line.split()[1]}"
    stop(process)


def test_the_python_examples_run_as_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import openai

    from podium.runtime import _api

    (tmp_path / "podium.toml").write_text(TEST_CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_api, "LiteLLMBackend", ReadmeBackend)

    class LocalOpenAI(openai.OpenAI):
        """The example's client, pointed at the test's server instead of port 8321."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**{**kwargs, "base_url": f"{server}/v1", "max_retries": 0})

    monkeypatch.setattr(openai, "OpenAI", LocalOpenAI)
    examples = blocks("python")
    assert len(examples) >= 4
    # One module, as a reader's session is one: a dataclass in an example looks its module up,
    # and the examples are compiled without this file's `from __future__` flags.
    session = types.ModuleType("readme")
    monkeypatch.setitem(sys.modules, "readme", session)
    namespace: dict[str, Any] = session.__dict__
    for block in examples:
        code = compile(block.code, f"README.md:{block.line}", "exec", dont_inherit=True)
        exec(code, namespace)  # the README's own examples, as written
    printed = capsys.readouterr().out
    assert "completed Summary of A and B" in printed  # the first example's run
    assert "goal_invalid the goal is empty" in printed  # the errors example
    assert namespace["result"].status == "completed"
    assert "clerk" in namespace["podium"].agents.names()  # the tool-source example's Podium
    assert namespace["answer"].choices[0].message.content.startswith("Summary of A and B")


# -- shell ---------------------------------------------------------------------------------

SKIPPED = {
    "make run": "installs from the lock and runs the embedded model: `make run` is CI's own step",
    "make test": "this suite is `make test`",
    "podium bench dag": (
        "a timed benchmark: its exit code says whether its targets were met under this "
        "machine's load; `make bench` runs it"
    ),
    "podium eval run evals/scenarios --trials 3 --html-out report.html": (
        "replays the bundled suite three times (minutes): tests/test_evals.py runs it once"
    ),
    "podium eval compare base.json new.json": (
        "needs two suite reports: tests/test_evals.py compares real ones"
    ),
    "podium chat": "interactive until /quit: tests/test_chat.py drives it in a pseudo-terminal",
    "podium serve": "serves until stopped: tests/test_serve_live.py starts it and stops it",
    'pip install "podium[ray]"': "installs from PyPI (network)",
    "ray start --head --port=6379 --disable-usage-stats": "starts a Ray cluster",
    "ray start --address=10.0.0.5:6379 --disable-usage-stats": "joins a Ray cluster",
    "chroma run --path /data/chroma --host 0.0.0.0 --port 8000": "a Chroma server on 0.0.0.0",
    'PODIUM_RAY_ADDRESS=10.0.0.5:6379 podium run "..."': "needs that Ray cluster",
}
"""README lines that do not run here, and why. Each reason says where else it is proven."""

RUN_AS = {
    'podium memory search "Brightforge renewal" [--namespace run:RUN_ID|agent:NAME|tenant] '
    "[--tenant T]": 'podium memory search "Brightforge renewal" --namespace run:RUN_ID',
    "podium memory forget --run RUN_ID | --id ENTRY_ID | --all [--tenant T]": (
        "podium memory forget --run RUN_ID"
    ),
    "podium show RUN_ID TASK": "podium show RUN_ID a",  # task a of the interrupted run
    # Each on a run of its own that waits for the approval of an email (`run_commands`).
    "podium approve RUN_ID ESCALATION_ID": "podium approve WAITING_RUN WAITING_ESCALATION",
    "podium approve RUN_ID ESCALATION_ID --reject": (
        "podium approve WAITING_RUN WAITING_ESCALATION --reject"
    ),
}
"""README lines written in usage notation or with a placeholder, and the command that stands
for each."""

EXIT_CODES = {
    "podium serve --host 0.0.0.0": 1,
    'podium run "Qualify the lead Maya Chen at Brightforge Analytics and send them a first '
    'outreach email at maya.chen@brightforge.example"': 3,  # waits for the email's approval
}
"""Lines whose example ends otherwise (a refusal, a run that waits; the README says so beside
it): their exit code."""

COMMANDS_CONFIG = """\
[storage]
data_dir = "data"
[tools]
workspace = "."
[memory]
enabled = true
"""


def shell_lines() -> list[str]:
    lines = []
    for block in blocks("sh"):
        for raw in block.code.splitlines():
            command = re.sub(r"\s+#.*$", "", raw).strip()
            if command:
                lines.append(command)
    return lines


LINES = shell_lines()


@pytest.fixture(scope="module")
def exit_codes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Every runnable line, run once, in README order, in one process on the double."""
    folder = tmp_path_factory.mktemp("readme-commands")
    (folder / "podium.toml").write_text(COMMANDS_CONFIG)
    runnable = [line for line in LINES if line not in SKIPPED]
    argv = [shlex.split(RUN_AS.get(line, line))[1:] for line in runnable]
    (folder / "commands.json").write_text(json.dumps(argv))
    run = subprocess.run(
        [sys.executable, str(SUPPORT), "commands", "data", "commands.json", "codes.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (folder / "output.txt").write_text(run.stdout + run.stderr)
    return dict(zip(runnable, json.loads((folder / "codes.json").read_text()), strict=True))


@pytest.mark.parametrize("line", LINES)
def test_each_shell_line_runs_as_written(line: str, exit_codes: dict[str, int]) -> None:
    if line in SKIPPED:
        pytest.skip(SKIPPED[line])
    assert line.startswith("podium "), f"not a podium command: list it in SKIPPED: {line}"
    assert exit_codes[line] == EXIT_CODES.get(line, 0), line


def test_every_listed_line_is_still_in_the_readme() -> None:
    """A line removed from the README leaves no stale entry behind."""
    assert set(SKIPPED) | set(RUN_AS) | set(EXIT_CODES) <= set(LINES)


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("block", blocks("toml"), ids=lambda b: f"README.md:{b.line}")
def test_each_toml_example_is_a_valid_configuration(block: Block) -> None:
    PodiumConfig.from_mapping(tomllib.loads(block.code))


@pytest.mark.parametrize("block", blocks("yaml"), ids=lambda b: f"README.md:{b.line}")
def test_each_yaml_example_parses(block: Block) -> None:
    assert isinstance(yaml.safe_load(block.code), dict)
