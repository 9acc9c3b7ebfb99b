"""The `query_dataset` and `list_datasets` tools: filter, sort and project CSV/JSON tables."""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._choices import Choices
from ._core import JSONValue, ToolContext, ToolError, tool

Row = dict[str, JSONValue]
Scalar = str | int | float | bool | None
DatasetFormat = Literal["csv", "json"]

_INT = re.compile(r"-?(0|[1-9]\d*)")
_FLOAT = re.compile(r"-?(0|[1-9]\d*)\.\d+")


class QueryDatasetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name (file stem), e.g. 'crm_leads'.", min_length=1)
    where: dict[str, Scalar] | None = Field(
        default=None,
        description="Equality filters, field -> value. Strings compare case-insensitively; "
        "a list field matches if any element equals the value.",
    )
    contains: dict[str, str] | None = Field(
        default=None,
        description="Substring filters, field -> text (case-insensitive).",
    )
    fields: list[str] | None = Field(
        default=None, description="Fields to return; all fields when omitted."
    )
    sort_by: str | None = Field(
        default=None,
        description="Field to sort by; prefix with '-' for descending, e.g. '-employees'.",
    )
    limit: int = Field(default=20, ge=1, le=200, description="Maximum rows to return.")


class ListDatasetsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Grounding limits: a column is offered as choices when it identifies rows (every value distinct,
# short) or sorts them into a few kinds (a stage, a priority); longer lists stay free text.
MAX_KEY_CHARS = 60
MAX_CATEGORIES = 30
MAX_CHOICES_PER_FIELD = 200
MAX_KEY_FIELDS = 2


def dataset_choices(ctx: ToolContext) -> list[Choices]:
    """One variant per dataset: its name, its fields, and the values of its key and category
    columns, so a constrained decoder names a real dataset and a real record in it."""
    files = dataset_files(ctx.datasets_dir)
    stamp = tuple((name, p.stat().st_mtime_ns, p.stat().st_size) for name, p in files.items())
    return _choices_of(ctx.datasets_dir, stamp)


@functools.lru_cache(maxsize=8)
def _choices_of(datasets_dir: Path, stamp: tuple[tuple[str, int, int], ...]) -> list[Choices]:
    # Read once per version of the folder (each task attempt asks): `stamp` names its files'
    # sizes and times, so an edited dataset is read again.
    variants: list[Choices] = []
    for name, _, _ in stamp:
        rows = load_dataset(datasets_dir, name)
        fields: list[JSONValue] = list(fields_of(rows))
        variant: dict[str, list[JSONValue]] = {
            "dataset": [name],
            "where.*": fields,
            "contains.*": fields,
            "fields": fields,
            "sort_by": [*fields, *(f"-{f}" for f in fields)],
        }
        for field, values in _enumerable(rows, [str(f) for f in fields]):
            variant[f"where.{field}"] = values
        variants.append(variant)
    return variants


def _enumerable(rows: list[Row], fields: list[str]) -> list[tuple[str, list[JSONValue]]]:
    found: list[tuple[str, list[JSONValue]]] = []
    keys = 0
    for field in fields:
        values = [row.get(field) for row in rows if row.get(field) not in (None, "")]
        if not values or not all(isinstance(v, str) for v in values):
            continue
        distinct: list[JSONValue] = list(dict.fromkeys(values))
        is_key = len(distinct) == len(rows) and all(len(str(v)) <= MAX_KEY_CHARS for v in distinct)
        if is_key and keys < MAX_KEY_FIELDS and len(distinct) <= MAX_CHOICES_PER_FIELD:
            keys += 1
            found.append((field, distinct))
        elif len(distinct) <= MAX_CATEGORIES and len(distinct) < len(rows):
            found.append((field, distinct))
    return found


@tool(name="query_dataset", scopes=("read:data",), choices=dataset_choices)
async def query_dataset(args: QueryDatasetArgs, ctx: ToolContext) -> JSONValue:
    """Query a CSV/JSON dataset: equality and substring filters, field selection, sorting, limit.

    Returns {"dataset", "count", "rows"}; count is the number of matching rows before the limit.
    """
    import asyncio  # here: importing the tools (`podium agents`) needs no event loop

    rows = await asyncio.to_thread(load_dataset, ctx.datasets_dir, args.dataset)
    return run_query(args, rows)


@tool(name="list_datasets", scopes=("read:data",))
async def list_datasets(args: ListDatasetsArgs, ctx: ToolContext) -> JSONValue:
    """List the datasets query_dataset can read, with row counts and field names."""
    import asyncio

    return await asyncio.to_thread(_describe_all, ctx.datasets_dir)


def dataset_files(datasets_dir: Path) -> dict[str, Path]:
    """Dataset name -> file, for every *.csv and *.json directly in `datasets_dir`."""
    if not datasets_dir.is_dir():
        raise ToolError(
            f"datasets folder {str(datasets_dir)!r} does not exist; set datasets_dir in the "
            "ToolContext to a folder of CSV/JSON files"
        )
    found: dict[str, Path] = {}
    for path in sorted(datasets_dir.iterdir()):
        if path.suffix.lower() not in (".csv", ".json") or not path.is_file():
            continue
        if path.stem in found:
            raise ToolError(
                f"dataset {path.stem!r} exists as both {found[path.stem].name} and {path.name}; "
                "remove one so the name is unambiguous"
            )
        found[path.stem] = path
    return found


def load_dataset(datasets_dir: Path, name: str) -> list[Row]:
    """All rows of dataset `name`; CSV cells that look like numbers become numbers."""
    files = dataset_files(datasets_dir)
    if name not in files:
        known = ", ".join(sorted(files)) or "(none)"
        raise ToolError(f"unknown dataset {name!r}; available datasets: {known}")
    path = files[name]
    return _load_csv(path) if path.suffix.lower() == ".csv" else _load_json(path)


def _load_csv(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: _cell(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _cell(text: str | None) -> JSONValue:
    if text is None or text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _load_json(path: Path) -> list[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ToolError(f"dataset file {path.name} is not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ToolError(f"dataset file {path.name} must hold a JSON list of objects")
    return data


def fields_of(rows: Iterable[Row]) -> list[str]:
    """Every field name in first-seen order (rows of a JSON dataset may differ)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def run_query(args: QueryDatasetArgs, rows: list[Row]) -> JSONValue:
    """Apply the filters, sort, limit and projection in `args` to `rows`."""
    known = fields_of(rows)
    sort_field = args.sort_by.removeprefix("-") if args.sort_by else None
    _check_fields(
        args.dataset,
        known,
        [
            *(args.where or {}),
            *(args.contains or {}),
            *(args.fields or []),
            *filter(None, [sort_field]),
        ],
    )
    matched = [row for row in rows if _keep(row, args)]
    if sort_field:
        matched = _sorted(matched, sort_field, descending=args.sort_by != sort_field)
    # A projection keeps the record's key (the first field) and the fields it was filtered on:
    # rows that no longer say which record they are (a small model's "fields": ["title"]) lose
    # what the lookup was for.
    fields = (
        list(dict.fromkeys([*known[:1], *args.fields, *(args.where or {})]))
        if args.fields
        else None
    )
    selected: list[JSONValue] = [_project(row, fields) for row in matched[: args.limit]]
    return {"dataset": args.dataset, "count": len(matched), "rows": selected}


def _check_fields(dataset: str, known: list[str], asked: list[str]) -> None:
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise ToolError(
            f"dataset {dataset!r} has no field(s) {', '.join(map(repr, unknown))}; "
            f"its fields are: {', '.join(known)}"
        )


def _keep(row: Row, args: QueryDatasetArgs) -> bool:
    equal = all(_equals(row.get(k), v) for k, v in (args.where or {}).items())
    return equal and all(_contains(row.get(k), v) for k, v in (args.contains or {}).items())


def _equals(value: JSONValue, expected: Scalar) -> bool:
    if isinstance(value, list):
        return any(_equals(item, expected) for item in value)
    if expected is None:
        return value is None or value == ""
    if isinstance(expected, bool) or isinstance(value, bool):
        return str(value).casefold() == str(expected).casefold()
    if isinstance(expected, int | float):
        number = _as_number(value)
        return number is not None and number == expected
    if isinstance(value, int | float) and _as_number(expected) is not None:
        return value == _as_number(expected)
    return isinstance(value, str) and value.casefold() == expected.casefold()


def _contains(value: JSONValue, needle: str) -> bool:
    if isinstance(value, list):
        return any(_contains(item, needle) for item in value)
    if value is None or isinstance(value, dict):
        return False
    return needle.casefold() in str(value).casefold()


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return None
    return None


def _sorted(rows: list[Row], field: str, *, descending: bool) -> list[Row]:
    # Rows without a value go last in both directions, so a descending "top N" stays meaningful.
    present = [row for row in rows if row.get(field) not in (None, "")]
    missing = [row for row in rows if row.get(field) in (None, "")]
    return sorted(present, key=lambda row: _sort_key(row[field]), reverse=descending) + missing


def _sort_key(value: JSONValue) -> tuple[int, float, str]:
    number = _as_number(value)
    if number is not None:
        return (0, number, "")
    return (1, 0.0, json.dumps(value) if isinstance(value, list | dict) else str(value).casefold())


def _project(row: Row, fields: list[str] | None) -> JSONValue:
    if not fields:
        return dict(row)
    return {name: row.get(name) for name in fields}


def _describe_all(datasets_dir: Path) -> JSONValue:
    described: list[JSONValue] = []
    for name, path in dataset_files(datasets_dir).items():
        rows = load_dataset(datasets_dir, name)
        fmt: DatasetFormat = "csv" if path.suffix.lower() == ".csv" else "json"
        fields: list[JSONValue] = list(fields_of(rows))
        described.append({"name": name, "format": fmt, "rows": len(rows), "fields": fields})
    return {"datasets": described}
