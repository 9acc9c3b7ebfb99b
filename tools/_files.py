"""The `read_file` and `list_files` tools: read-only access confined to the workspace folder."""

from __future__ import annotations

import asyncio
import fnmatch
import os
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from ._choices import Choices
from ._core import JSONValue, ToolContext, ToolError, tool

MAX_READ_BYTES = 200_000
MAX_LISTED_FILES = 1_000


class ReadFileArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="File path relative to the workspace, e.g. 'docs/contract.md'.",
        min_length=1,
    )


class ListFilesArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: str = Field(default=".", description="Folder relative to the workspace.")
    glob: str | None = Field(
        default=None,
        description=(
            "Optional filter. Without '/', matched against file names ('*.md'); "
            "with '/', against paths relative to `folder` ('reports/*.csv')."
        ),
    )


MAX_FILE_CHOICES = 200


def file_choices(ctx: ToolContext) -> list[Choices]:
    """The workspace's files as read_file's `path` choices (dot-folders skipped), when there are
    few enough for a model to pick from; a larger workspace leaves the path free (list_files)."""
    root = ctx.workspace.resolve()
    found: list[JSONValue] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            found.append((Path(dirpath) / name).relative_to(root).as_posix())
            if len(found) > MAX_FILE_CHOICES:
                return []
    return [{"path": found}] if found else []


_SKIPPED = frozenset({"__pycache__", "node_modules"})


@tool(name="read_file", scopes=("read:workspace",), choices=file_choices)
async def read_file(args: ReadFileArgs, ctx: ToolContext) -> JSONValue:
    """Read a text file from the workspace (path relative to the workspace root).

    Large files are cut at 200 kB with a note.
    """
    return await asyncio.to_thread(_read, ctx.workspace, args.path)


@tool(name="list_files", scopes=("read:workspace",))
async def list_files(args: ListFilesArgs, ctx: ToolContext) -> JSONValue:
    """List files under a workspace folder, optionally filtered by a glob such as '*.md'."""
    return await asyncio.to_thread(_list, ctx.workspace, args.folder, args.glob)


def resolve_inside(workspace: Path, relative: str) -> Path:
    """Resolve `relative` against `workspace`, refusing anything that lands outside it."""
    root = workspace.resolve()
    if Path(relative).is_absolute() or PurePosixPath(relative).is_absolute():
        raise ToolError(
            f"path {relative!r} is absolute; give a path relative to the workspace root"
        )
    try:
        # strict=False: a missing file should get a "not found" error, not a resolve error.
        target = (root / relative).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise ToolError(f"path {relative!r} cannot be resolved: {exc}") from exc
    if not target.is_relative_to(root):
        raise ToolError(
            f"path {relative!r} is outside the workspace (via '..' or a symlink); "
            "only files inside the workspace can be read"
        )
    return target


def _read(workspace: Path, relative: str) -> JSONValue:
    target = resolve_inside(workspace, relative)
    if not target.exists():
        raise ToolError(
            f"no file {relative!r} in the workspace; call list_files to see what exists"
        )
    if not target.is_file():
        raise ToolError(f"{relative!r} is a folder, not a file; call list_files to see its files")
    size = target.stat().st_size
    with target.open("rb") as fh:
        data = fh.read(MAX_READ_BYTES)
    if b"\x00" in data:
        raise ToolError(f"{relative!r} is a binary file; read_file only reads text files")
    result: dict[str, JSONValue] = {
        "path": target.relative_to(workspace.resolve()).as_posix(),
        "size_bytes": size,
        "truncated": size > MAX_READ_BYTES,
        "content": data.decode("utf-8", errors="replace"),
    }
    if size > MAX_READ_BYTES:
        result["note"] = f"file is {size} bytes; only the first {MAX_READ_BYTES} bytes are shown"
    return result


def _list(workspace: Path, folder: str, glob: str | None) -> JSONValue:
    root = workspace.resolve()
    base = resolve_inside(workspace, folder)
    if not base.is_dir():
        raise ToolError(f"{folder!r} is not a folder in the workspace; try folder='.'")
    files: list[JSONValue] = []
    truncated = False
    for path in _walk(base):
        if not path.resolve().is_relative_to(root):
            continue  # a symlink pointing out of the workspace: read_file would refuse it anyway
        if glob and not _matches(path.relative_to(base), glob):
            continue
        if len(files) == MAX_LISTED_FILES:
            truncated = True
            break
        files.append(path.relative_to(root).as_posix())
    return {"folder": base.relative_to(root).as_posix(), "files": files, "truncated": truncated}


def _walk(base: Path) -> list[Path]:
    # followlinks=False: symlinked folders could loop or leave the workspace.
    found: list[Path] = []
    for dirpath, _dirnames, filenames in os.walk(base, followlinks=False):
        found.extend(Path(dirpath) / name for name in filenames)
    return sorted(path for path in found if path.is_file())


def _matches(relative: Path, glob: str) -> bool:
    if "/" in glob:
        return fnmatch.fnmatch(relative.as_posix(), glob)
    return fnmatch.fnmatch(relative.name, glob)
