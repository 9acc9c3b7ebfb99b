"""The configuration file as read: where it is, its TOML, the environment's overrides, what a
validation error says, and the `[storage]` table alone.

Light on purpose (pydantic and tomllib only): `podium runs`, `show` and `audit` need only where
the runs are (`load_storage`), so they do not import what the whole configuration names (the
agents, tools, policies and memory it configures). `PodiumConfig` (`_config`) reads the same
file through the same functions.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from ._errors import ConfigError, did_you_mean


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageConfig(Section):
    data_dir: Path = Path(".podium")
    """Run records and checkpoints live under `data_dir/runs` (with Postgres: per-run files only)."""
    checkpointer: Literal["sqlite", "memory", "postgres"] = "sqlite"
    """sqlite: one file under data_dir. memory: gone with the process. postgres: run records and
    checkpoints in the database at `postgres_url`, shared by every process that points there."""
    postgres_url: SecretStr | None = None
    """postgresql://user:password@host:port/dbname, or a key=value string; `host` may be a unix
    socket folder. Secret: never printed (PODIUM_POSTGRES_URL overrides it)."""

    @property
    def runs_dir(self) -> Path:
        """Each run's own files (its audit trail, its offloaded tool results), by run id."""
        return self.data_dir / "runs"

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> StorageConfig:
        if self.checkpointer == "postgres" and self.postgres_url is None:
            raise ValueError(
                'checkpointer "postgres" needs a database: set storage.postgres_url '
                "or the PODIUM_POSTGRES_URL environment variable"
            )
        return self


def describe_invalid(
    exc: ValidationError, root: type[BaseModel], root_name: str = "the top level"
) -> str:
    """One line for every problem; an unknown key names the keys its table takes, and the
    likeliest one it was meant to be."""
    problems = []
    for e in exc.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"])
        message = e["msg"]
        if e["type"] == "extra_forbidden" and e["loc"]:
            known = _keys_at(root, e["loc"][:-1])
            if known:
                key = str(e["loc"][-1])
                message = (
                    f"unknown key{did_you_mean(key, known)}; "
                    f"{'.'.join(str(p) for p in e['loc'][:-1]) or root_name} takes "
                    f"{', '.join(known)}"
                )
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def _keys_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the config table at `loc` (through dicts, lists and optionals), or []
    when the path does not lead to one."""
    current: Any = root
    for part in loc:
        model = _model_in(current)
        if model is not None and isinstance(part, str) and part in model.model_fields:
            current = model.model_fields[part].annotation
            continue
        origin = get_origin(current)
        args = get_args(current)
        if origin is dict and len(args) == 2:
            current = args[1]  # `part` is a key of the table: its values' type
        elif origin in (list, tuple) and args:
            current = args[0]  # `part` is an index
        else:
            return []
    model = _model_in(current)
    return [] if model is None else sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """`annotation` if it is a config table, or the one table in an optional or union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    tables = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return tables[0] if len(tables) == 1 else None


_ENV_OVERRIDES = {
    "PODIUM_DATA_DIR": ("storage", "data_dir"),
    "PODIUM_CHECKPOINTER": ("storage", "checkpointer"),
    "PODIUM_POSTGRES_URL": ("storage", "postgres_url"),
    "PODIUM_MODEL_CHEAP": ("models", "cheap"),
    "PODIUM_MODEL_FRONTIER": ("models", "frontier"),
    "PODIUM_EXECUTOR": ("run", "executor"),
    "PODIUM_RAY_ADDRESS": ("run", "ray_address"),
}


def with_env(raw: dict[str, Any]) -> dict[str, Any]:
    """Environment variables override addresses and model choices (secrets stay in litellm's own env vars)."""
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for var, (section, key) in _ENV_OVERRIDES.items():
        if var in os.environ:
            merged.setdefault(section, {})[key] = os.environ[var]
    return merged


def config_path(path: Path | None = None) -> Path | None:
    """`path`, else $PODIUM_CONFIG, else ./podium.toml if present, else None (the defaults)."""
    candidate = path or (
        Path(os.environ["PODIUM_CONFIG"]) if "PODIUM_CONFIG" in os.environ else None
    )
    if candidate is None and Path("podium.toml").is_file():
        candidate = Path("podium.toml")
    return candidate


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


class _StorageTable(BaseModel):
    """The file as far as `[storage]`: other tables are `PodiumConfig`'s to check."""

    model_config = ConfigDict(extra="ignore")

    storage: StorageConfig = Field(default_factory=StorageConfig)


def load_storage(path: Path | None = None) -> StorageConfig:
    """`[storage]` of the configuration `PodiumConfig.load(path)` reads, with the same
    environment overrides, errors and relative data folder, without reading the rest."""
    candidate = config_path(path)
    raw = read_toml(candidate) if candidate else {}
    try:
        storage = _StorageTable.model_validate(with_env(raw)).storage
    except ValidationError as exc:
        raise ConfigError(
            f"{candidate or 'config'}: {describe_invalid(exc, _StorageTable)}"
        ) from None
    if candidate is None or storage.data_dir.is_absolute():
        return storage
    return storage.model_copy(update={"data_dir": candidate.parent / storage.data_dir})
