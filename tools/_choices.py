"""Grounded arguments: a tool names the values an argument may take, and its schema says so.

A small model asked for a dataset name invents one ("leads-2018.csv"); offered the names as a
JSON-schema `enum`, a constrained decoder can only pick a real one. A tool declares its choices
as a function of the call's context (what is in the datasets folder or the workspace now):

    "dataset": ["crm_leads", "companies"]      the argument's value is one of these
    "where.name": ["Maya Chen", ...]           a mapping argument's entry `name` is one of these
    "where.*": ["lead_id", "name", ...]        the keys a mapping argument may have

It returns one mapping per *variant*: the query tool gives one per dataset, so a dataset's
records go only with that dataset. A decoder that can follow alternatives (the embedded model's
grammar) gets each variant as its own branch, under `VARIANTS_KEY` in the parameters. Every
other model gets a flat schema (its root stays an object, as OpenAI, Anthropic and Gemini
require) with only the short lists, merged: the dataset names, not every record's name, which
would cost a hosted model a thousand prompt tokens a call to learn what a lookup tells it.

The grounding rides beside the tool's own schema (`GROUNDING_KEY` in the OpenAI tool entry) and
only the model backend puts it in place (`for_provider`): what a request asks, for a cassette's
fingerprint or a test double, stays the tool's schema whatever the data folder holds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from podium.errors import PodiumSignal

if TYPE_CHECKING:
    from ._core import JSONValue, ToolContext

Choices: TypeAlias = Mapping[str, Sequence["JSONValue"]]
"""Valid values by argument path ("arg", "arg.key", "arg.*"); see the module docstring."""
ChoicesFn: TypeAlias = Callable[["ToolContext"], Sequence[Choices]]

MIN_NAMED_CHARS = 3
"""Shorter values ("US", "New") are found in any text: they never narrow a choice."""
MAX_FLAT_CHOICES = 50
"""Longest list of values the flat schema carries (top-level arguments only)."""

GROUNDING_KEY = "x-podium-grounding"
"""In an OpenAI tool entry: {"parameters": the flat grounded schema, "variants": [schemas]}."""
VARIANTS_KEY = "x-podium-variants"
"""In parameters sent to the embedded model: one grounded schema per variant."""


class ChoicesError(PodiumSignal, ValueError):
    """A tool's choices name an argument its schema does not have (a bug in the tool)."""

    code = "tool_choices_invalid"


def grounding(
    parameters: dict[str, Any], variants: Sequence[Choices], task_text: str = ""
) -> dict[str, Any] | None:
    """The grounded forms of `parameters`: flat (the short lists merged in) and per variant,
    the variants narrowed to what `task_text` names (see `_narrowed`)."""
    variants = [v for v in variants if v]
    if not variants:
        return None
    merged: dict[str, list[JSONValue]] = {}
    for variant in variants:
        for path, values in variant.items():
            known = merged.setdefault(path, [])
            known.extend(v for v in values if v not in known)
    flat = {p: v for p, v in merged.items() if "." not in p and len(v) <= MAX_FLAT_CHOICES}
    return {
        "parameters": _apply(parameters, flat),
        "variants": [
            _apply(parameters, v, required) for v, required in _narrowed(variants, task_text)
        ],
    }


def _narrowed(variants: Sequence[Choices], task_text: str) -> list[tuple[Choices, str | None]]:
    """For a decoder that picks what its grammar allows: when the task names values (a dataset,
    a lead's name), only the variants and values it names, and the first named entry required,
    so "look up Priya Nair" becomes a lookup of that record. Nothing named: everything."""
    if not task_text.strip():
        return [(v, None) for v in variants]

    chosen = [
        v
        for v in variants
        if any(
            "." not in p and len(vs) == 1 and _named_as_source(vs[0], task_text)
            for p, vs in v.items()
        )
    ] or list(variants)
    narrowed: list[tuple[Choices, str | None]] = []
    for variant in chosen:
        entries: dict[str, Sequence[JSONValue]] = {
            p: hits
            for p, vs in variant.items()
            if "." in p
            and not p.endswith(".*")
            and (hits := [x for x in vs if _named(x, task_text)])
        }
        # The mapping takes only the named entries: a small model adds a guessed filter
        # ("stage": "Contacted") that misses the record otherwise.
        keys: dict[str, list[JSONValue]] = {}
        for path in entries:
            argument, _, entry = path.partition(".")
            keys.setdefault(f"{argument}.*", []).append(entry)
        kept = {
            p: vs
            for p, vs in variant.items()
            if p.partition(".")[0] + ".*" not in keys or p.endswith(".*") or p in entries
        }
        narrowed.append(({**kept, **keys, **entries}, next(iter(entries), None)))
    with_entries: list[tuple[Choices, str | None]] = [(v, r) for v, r in narrowed if r]
    return with_entries or narrowed


MAX_LOOKUPS = 6
"""Most calls `lookups` makes for one task: the records and files its text names, not a crawl."""


def lookups(variants: Sequence[Choices], task_text: str) -> list[dict[str, JSONValue]]:
    """The calls whose every argument the task's text settles, for the runtime to make before a
    small model's first turn (see `Tool.lookups`), so what the task names is in its prompt
    whether or not the model would have asked:

    - a record the text names (a key value such as "Hiro Tanaka" or "POL-005", as written):
      that record's lookup, `{"dataset": "candidates", "where": {"name": "Hiro Tanaka"}}`;
    - a source the text names with no record of it named ("the policies dataset"): the source;
    - a choice of an argument with many values (a workspace file) that the text names as a
      source, or whose name holds a proper name of the text ("the Cirrusly contract" names
      docs/vendor_contract_cirrusly.md): that choice.
    """
    if not task_text.strip():
        return []
    names = _proper_names(task_text)
    calls: list[dict[str, JSONValue]] = []
    # Where the text names its sources ("in the crm_leads dataset"), only those: Quillpath
    # Health's support tickets are not what "look up Priya Nair in crm_leads" asks for.
    sources = [
        v
        for v in variants
        if any(
            "." not in p and len(vs) == 1 and _named_as_source(vs[0], task_text)
            for p, vs in v.items()
        )
    ]
    for variant in sources or variants:
        fixed = {p: vs[0] for p, vs in variant.items() if "." not in p and len(vs) == 1}
        records = [
            (argument, entry, hit)
            for path, values in variant.items()
            if "." in path and not path.endswith(".*")
            for argument, _, entry in [path.partition(".")]
            for hit in values
            if _named(hit, task_text)
        ]
        records = [
            r for r in records if not _within_other(r[2], [h for *_, h in records], task_text)
        ]
        calls.extend({**fixed, argument: {entry: hit}} for argument, entry, hit in records)
        if not records and fixed and any(_named_as_source(v, task_text) for v in fixed.values()):
            calls.append(dict(fixed))
        for path, values in variant.items():
            if "." in path or len(values) < 2:
                continue
            calls.extend(
                {**fixed, path: v}
                for v in values
                if _named_as_source(v, task_text) or _names_in(v) & names
            )
    unique = {repr(sorted(c.items(), key=lambda kv: kv[0])): c for c in calls}
    return list(unique.values())[:MAX_LOOKUPS]


def _named(value: JSONValue, text: str) -> bool:
    """`value` written in `text` as it is written in the data. As written: "Lead" (a level) is not
    named by "qualify the lead", nor is a category in lower case ("urgent", "email") by any
    text: proper names and ids narrow, words not."""
    return (
        isinstance(value, str)
        and len(value) >= MIN_NAMED_CHARS
        and value != value.lower()
        and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None
    )


def _within_other(hit: JSONValue, hits: Sequence[JSONValue], text: str) -> bool:
    """`hit` is named only inside a longer hit ("Backend Engineer" in "Senior Backend Engineer")."""
    count = _occurrences(hit, text)
    return any(
        other != hit and _occurrences(hit, str(other)) and _occurrences(other, text) == count
        for other in hits
    )


def _occurrences(value: JSONValue, text: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(str(value))}(?!\w)", text))


def _named_as_source(value: JSONValue, text: str) -> bool:
    """A dataset or file named as one ("crm_leads", "the companies dataset"), not the word
    "candidates" in "find candidates"."""
    if not isinstance(value, str):
        return False
    tail = r"(?!\w)" if re.search(r"[_./-]", value) else r"\s+(?:dataset|table|file)\b"
    return re.search(rf"(?<!\w){re.escape(value)}{tail}", text, re.I) is not None


_PROPER_NAME = re.compile(r"(?<=[\w,;:)] )[A-Z][A-Za-z]{3,}")
"""A capitalised word inside a sentence (not its first word: "Review the ..." names nothing)."""


def _proper_names(text: str) -> set[str]:
    return {m.group().casefold() for m in _PROPER_NAME.finditer(text)}


def _names_in(value: JSONValue) -> set[str]:
    """The words of a file name ("docs/vendor_contract_cirrusly.md": vendor, contract, cirrusly)."""
    if not isinstance(value, str):
        return set()
    stem = value.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return {w.casefold() for w in re.split(r"[\W_]+", stem) if len(w) > MIN_NAMED_CHARS}


def for_provider(tool_schema: Mapping[str, Any], *, variants: bool) -> dict[str, Any]:
    """The OpenAI tool entry a provider gets: grounded where the tool is, with the per-variant
    schemas only for a decoder that follows them (`variants`), never the grounding key."""
    entry = {k: v for k, v in tool_schema.items() if k != GROUNDING_KEY}
    grounded = tool_schema.get(GROUNDING_KEY)
    if not isinstance(grounded, Mapping):
        return entry
    parameters = dict(grounded["parameters"])
    if variants:
        parameters[VARIANTS_KEY] = grounded["variants"]
    entry["function"] = {**entry["function"], "parameters": parameters}
    return entry


def _apply(
    parameters: dict[str, Any], choices: Choices, required: str | None = None
) -> dict[str, Any]:
    schema = copy.deepcopy(parameters)
    # Key lists first: they rebuild the mapping's properties, which entries then narrow.
    for path in sorted(choices, key=lambda p: not p.endswith(".*")):
        values = list(choices[path])
        if not values:
            continue  # nothing to choose from: leave the argument as it was
        argument, _, entry = path.partition(".")
        node = _properties(schema, path).get(argument)
        if node is None:
            raise ChoicesError(f"choices for {path!r}: the tool has no argument {argument!r}")
        if not entry:
            _restrict(node, values)
            continue
        mapping = _object_branch(node, path)
        props: dict[str, Any] = mapping.setdefault("properties", {})
        if entry == "*":
            anything = mapping.get("additionalProperties")
            each = anything if isinstance(anything, dict) else {}
            mapping["properties"] = {str(k): props.get(str(k), copy.deepcopy(each)) for k in values}
            mapping["additionalProperties"] = False
        else:
            props[entry] = {"enum": values}
    if required is not None:
        _require(schema, required)
    return schema


def _require(schema: dict[str, Any], path: str) -> None:
    """Make the mapping argument of `path` ("where.name") required, and that entry in it."""
    argument, _, entry = path.partition(".")
    properties = _properties(schema, path)
    mapping = _object_branch(properties[argument], path)
    properties[argument] = mapping  # no longer optional: its null branch goes
    mapping["required"] = sorted({*mapping.get("required", ()), entry})
    root = _object_branch(schema, path)
    root["required"] = [*root.get("required", ()), argument]


def _properties(schema: dict[str, Any], path: str) -> dict[str, Any]:
    properties = _object_branch(schema, path).get("properties")
    return properties if isinstance(properties, dict) else {}


def _object_branch(node: dict[str, Any], path: str) -> dict[str, Any]:
    """The object schema in `node` (itself, or its object branch when it is optional)."""
    if node.get("type") == "object":
        return node
    for branch in node.get("anyOf", ()):
        if isinstance(branch, dict) and branch.get("type") == "object":
            return branch
    raise ChoicesError(f"choices for {path!r}: that argument is not a mapping")


def _restrict(node: dict[str, Any], values: list[JSONValue]) -> None:
    """Make `node` (an argument's schema) accept only `values`: as its items for an array."""
    target = node
    for branch in node.get("anyOf", ()):
        if isinstance(branch, dict) and branch.get("type") not in ("null", None):
            target = branch  # an optional argument: narrow the non-null branch, keep null
            break
    if target.get("type") == "array":
        target["items"] = {"enum": values}
        return
    for key in ("type", "pattern", "minLength", "maxLength", "format", "anyOf"):
        target.pop(key, None)
    target["enum"] = values
