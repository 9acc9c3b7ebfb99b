"""Ordinary mistakes get one line saying what to do, and an exit code, never a traceback: a
typo'd provider in a model string, a busy port for `podium serve`, a full or read-only disk."""

from __future__ import annotations

import errno
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import scripted, task

from podium.runtime import Podium, PodiumConfig
from podium.runtime.cli import _main as cli
from podium.runtime.storage._store import FileRunStore, RunRecord

PODIUM = [sys.executable, "-m", "podium.runtime.cli"]
PROVIDERS = ["openai", "anthropic", "gemini", "ollama", "mistral", "deepseek", "bedrock"]
"""Providers people write, each to be misspelled below."""


def typos(word: str) -> Iterator[str]:
    """Misspellings a hand makes: a letter dropped, two swapped, one doubled, one wrong, caps."""
    yield word[:2] + word[3:]  # dropped
    yield word[:1] + word[2] + word[1] + word[3:]  # swapped
    yield word[:3] + word[3] + word[3:]  # doubled
    yield word[:-1] + ("x" if word[-1] != "x" else "y")  # a wrong last letter
    yield word.capitalize()
    yield word.upper()


def known_providers() -> set[str]:
    import litellm

    return {str(getattr(p, "value", p)) for p in litellm.provider_list}


TYPOS = [(p, t) for p in PROVIDERS for t in dict.fromkeys(typos(p)) if t != p]


def write_config(tmp_path: Path, models: str) -> Path:
    path = tmp_path / "podium.toml"
    data = tmp_path / "data"
    path.write_text(
        f'{models}\n[storage]\ndata_dir = "{data}"\n[memory]\nenabled = false\n'
        "[planner]\nplaybooks = false\n",
        encoding="utf-8",
    )
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith(("error: [", "error: run cancelled: ")), err
    return lines[0]


# -- a typo'd provider -----------------------------------------------------------------------


@pytest.mark.parametrize(("meant", "typo"), TYPOS, ids=[t for _, t in TYPOS])
@pytest.mark.parametrize("place", ["cheap", "frontier", "deployment", "environment"])
def test_a_typod_provider_is_a_config_error_naming_the_provider_meant(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    meant: str,
    typo: str,
    place: str,
) -> None:
    if typo in known_providers():
        pytest.skip(f"{typo!r} is a provider of its own")
    model = f"{typo}/some-model-1"
    monkeypatch.delenv("PODIUM_MODEL_CHEAP", raising=False)
    models = {
        "cheap": f'[models]\ncheap = "{model}"',
        "frontier": f'[models]\nfrontier = "{model}"',
        "deployment": (
            '[[models.deployments]]\ntier = "cheap"\nmodel = "podium-local/smollm2-135m"\n'
            f'[[models.deployments]]\ntier = "frontier"\nmodel = "{model}"'
        ),
        "environment": "",
    }[place]
    if place == "environment":
        monkeypatch.setenv("PODIUM_MODEL_CHEAP", model)
    config = write_config(tmp_path, models)

    assert cli.main(["--config", str(config), "playbooks"]) == 1

    line = one_error_line(capsys)
    assert line.startswith("error: [config_invalid] [models] ")
    assert repr(model) in line
    where = {
        "cheap": "models.cheap",
        "frontier": "models.frontier",
        "deployment": "models.deployments[1].model",
        "environment": "models.cheap",
    }[place]
    assert where in line
    assert "did you mean" in line and repr(meant) in line, line


@pytest.mark.parametrize("model", ["gpt4o-mini-latest", "my-local-llm", "qwen2.5:7b"])
def test_a_model_without_a_provider_says_how_to_write_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    config = write_config(tmp_path, f'[models]\nfrontier = "{model}"')
    assert cli.main(["--config", str(config), "playbooks"]) == 1
    line = one_error_line(capsys)
    assert f"models.frontier = {model!r} names no provider" in line
    assert "provider/model" in line


def test_a_provider_nothing_resembles_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, '[models]\ncheap = "qqzzxv/model"')
    assert cli.main(["--config", str(config), "playbooks"]) == 1
    line = one_error_line(capsys)
    assert "unknown provider 'qqzzxv'" in line and "did you mean" not in line
    assert all(p in line for p in PROVIDERS)


@pytest.mark.parametrize(
    "models",
    [
        '[models]\ncheap = "openai/gpt-4o-mini"\nfrontier = "anthropic/claude-sonnet-4-5"',
        '[models]\ncheap = "ollama/llama3"\nfrontier = "podium-local/smollm2-135m"',
        '[models]\ncheap = "gpt-4o-mini"\nfrontier = "gemini/gemini-2.0-flash"',
    ],
)
def test_known_providers_still_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], models: str
) -> None:
    assert cli.main(["--config", str(write_config(tmp_path, models)), "playbooks"]) == 0
    assert "playbook" in capsys.readouterr().out  # a Podium was built: the table, or "off"


def test_a_typod_provider_in_a_real_process(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[models]\ncheap = "opnai/gpt-4o-mini"')
    shown = subprocess.run(
        [*PODIUM, "--config", str(config), "playbooks"],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 1, shown.stderr
    assert "Traceback" not in shown.stderr
    lines = [line for line in shown.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, shown.stderr
    assert "'opnai'" in lines[0] and "did you mean 'openai'" in lines[0]


# -- a busy port -----------------------------------------------------------------------------


def hold_port(host: str, *, listen: bool) -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind((host, 0))
    if listen:
        holder.listen(1)
    return holder


@pytest.mark.enable_socket
@pytest.mark.parametrize("listen", [True, False], ids=["listening", "bound"])
@pytest.mark.parametrize(
    ("held_on", "serve_on"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("127.0.0.1", "0.0.0.0")],
)
def test_serve_on_a_busy_port_says_to_choose_another(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    listen: bool,
    held_on: str,
    serve_on: str,
) -> None:
    if held_on != serve_on and not listen:
        pytest.skip("Linux lets a wildcard and a specific address share a port unless one listens")
    monkeypatch.setenv("PODIUM_API_KEY", "a-key-0123456789abcdef0123")
    holder = hold_port(held_on, listen=listen)
    port = holder.getsockname()[1]
    try:
        config = write_config(tmp_path, "")
        args = ["--config", str(config), "serve", "--host", serve_on, "--port", str(port)]
        if serve_on != "127.0.0.1":
            args += ["--api-key", "a-key-0123456789abcdef0123"]
        assert cli.main(args) == 1
    finally:
        holder.close()
    line = one_error_line(capsys)
    assert f"port {port} on {serve_on} is already in use" in line
    assert "--port" in line


@pytest.mark.enable_socket
@pytest.mark.parametrize("host", ["203.0.113.9", "198.51.100.23"])
def test_serve_on_an_address_of_another_machine_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    config = write_config(tmp_path, "")
    args = ["--config", str(config), "serve", "--host", host, "--port", "0"]
    assert cli.main([*args, "--api-key", "a-key-0123456789abcdef0123"]) == 1
    line = one_error_line(capsys)
    assert f"{host!r} is not an address of this machine" in line and "--host" in line


@pytest.mark.enable_socket
def test_serve_on_a_busy_port_in_a_real_process(tmp_path: Path) -> None:
    holder = hold_port("127.0.0.1", listen=True)
    port = holder.getsockname()[1]
    config = write_config(tmp_path, "")
    try:
        shown = subprocess.run(
            [*PODIUM, "--config", str(config), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.close()
    assert shown.returncode == 1, shown.stderr
    assert "Traceback" not in shown.stderr
    lines = [line for line in shown.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is already in use" in lines[0]


# -- a full or read-only disk ----------------------------------------------------------------

DISK_ERRORS: dict[str, tuple[Callable[[], BaseException], str]] = {
    "enospc": (lambda: OSError(errno.ENOSPC, "No space left on device"), "no space left"),
    "erofs": (lambda: OSError(errno.EROFS, "Read-only file system", "/data"), "read-only"),
    "eacces": (lambda: PermissionError(errno.EACCES, "Permission denied", "/data"), "writable"),
    "sqlite-full": (lambda: sqlite3.OperationalError("database or disk is full"), "no space"),
    "sqlite-readonly": (
        lambda: sqlite3.OperationalError("attempt to write a readonly database"),
        "writable",
    ),
}


@pytest.fixture
def scripted_cli(config: PodiumConfig, monkeypatch: pytest.MonkeyPatch) -> Podium:
    plan = [task("a", "researcher"), task("b", "writer", ["a"])]
    podium = Podium(config, model=scripted(plan, {"a": "alpha", "b": "the answer"}))
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    monkeypatch.setattr(cli, "_config", lambda args: config)  # agents, runs, audit read it alone
    monkeypatch.setattr(cli, "_storage", lambda args: config.storage)  # runs, show, audit
    return podium


def fail_at(
    monkeypatch: pytest.MonkeyPatch, stage: str, error: Callable[[], BaseException]
) -> None:
    from podium.runtime.storage import _store

    if stage == "record":
        monkeypatch.setattr(FileRunStore, "save", lambda self, record: _raise(error()))
    else:
        switch = _store._switch_to_wal

        async def failing(conn: Any, attempts: int = 100) -> None:
            await switch(conn, attempts)
            raise error()

        monkeypatch.setattr(_store, "_switch_to_wal", failing)


def _raise(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize("stage", ["record", "checkpoints"])
@pytest.mark.parametrize("kind", sorted(DISK_ERRORS))
@pytest.mark.parametrize("json_out", [True, False], ids=["json", "live"])
def test_a_full_or_read_only_disk_is_one_line_and_exit_code_1(
    scripted_cli: Podium,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
    kind: str,
    json_out: bool,
) -> None:
    error, says = DISK_ERRORS[kind]
    fail_at(monkeypatch, stage, error)
    args = ["run", *(["--json"] if json_out else []), "--run-id", "disk-run", "a goal"]

    # Before the run's record exists it is an error (1); once the run started, it ends
    # cancelled and resumable (6), and its line says so.
    assert cli.main(args) == (1 if stage == "record" else 6)

    line = one_error_line(capsys)
    cause = "error: [storage_unavailable] " if stage == "record" else "error: run cancelled: "
    assert line.startswith(cause) and says in line, line
    if stage == "record":
        assert scripted_cli.runs() == []
    else:
        record = scripted_cli.store.get("disk-run")
        assert record.status == "cancelled" and "podium resume disk-run" in (record.error or "")


def test_listing_runs_on_a_failing_database_is_one_line(
    scripted_cli: Podium, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: FileRunStore, **kwargs: Any) -> list[RunRecord]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(FileRunStore, "list", broken)
    assert cli.main(["runs"]) == 1
    line = one_error_line(capsys)
    assert "disk I/O error" in line and "check the disk" in line


def test_a_bug_keeps_its_traceback(scripted_cli: Podium, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only storage failures become one line: anything else is a bug, shown as one."""

    def broken(self: FileRunStore, **kwargs: Any) -> list[RunRecord]:
        raise OSError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(FileRunStore, "list", broken)
    with pytest.raises(OSError, match="No such file"):
        cli.main(["runs"])


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_a_data_folder_under_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    """No fault injected: the record cannot be written where a file stands in the way."""
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    data_dir = blocker.joinpath(*(["inner"] * depth))
    config = PodiumConfig.from_mapping(
        {
            "storage": {"data_dir": str(data_dir)},
            "memory": {"enabled": False},
            "planner": {"playbooks": False},
        }
    )
    podium = Podium(config, model=scripted([task("a", "writer")], {"a": "x"}))
    monkeypatch.setattr(cli, "_podium", lambda args: podium)
    assert cli.main(["run", "--json", "a goal"]) == 1
    line = one_error_line(capsys)
    assert "is not a folder" in line and "storage.data_dir" in line
