"""The tool seam: what a tool is, what it receives, and how it is called."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError

from podium.errors import PodiumSignal

from ._choices import GROUNDING_KEY, ChoicesError, ChoicesFn, grounding, lookups

if TYPE_CHECKING:
    import httpx

    from ._memory import MemoryAccess

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

ToolFn: TypeAlias = Callable[[Any, "ToolContext"], Awaitable[JSONValue]]
F = TypeVar("F", bound=Callable[..., Awaitable[JSONValue]])


@functools.cache
def _parameters_schema(args_model: type[BaseModel]) -> dict[str, Any]:
    # Built once per model: pydantic's schema generation costs about a millisecond, every call.
    return args_model.model_json_schema()


def default_datasets_dir() -> Path:
    """The sample datasets shipped inside the package (`podium/tools/datasets`)."""
    return Path(__file__).resolve().parent / "datasets"


@dataclass(frozen=True)
class ToolContext:
    """What a tool may touch during one call: folders, network switches, run identity."""

    workspace: Path
    datasets_dir: Path = field(default_factory=default_datasets_dir)
    http_enabled: bool = False
    http_allowlist: tuple[str, ...] = ()
    http_timeout_s: float = 10.0
    http_transport: httpx.AsyncBaseTransport | None = None
    run_id: str = ""
    task_id: str = ""
    memory: MemoryAccess | None = None
    """The run's shared memory as this task's agent may see it; None when memory is off."""
    outbox: Path | None = None
    """Where `send_email` delivers (one .eml file per message); None: email is off."""
    task_text: str = ""
    """The task's instruction and goal: grounded choices narrow to the values it names (a
    dataset, a lead), for a decoder that can only pick among them (see `_choices`)."""
    look_up_named: bool = False
    """Before the model's first turn, a tool-first agent's tools look up what `task_text` names
    (`Tool.lookups`): on for a small model, which reads a record it is shown far better than it
    asks for one."""
    idempotency_key: str = ""
    """Set per call by the agent loop: derived from run, task, the call's place in the task and
    its arguments, so the same call made again after a crash carries the same key. A
    side-effecting tool passes it on (a mail relay, a payments API) to be applied once."""


class ToolError(PodiumSignal):
    """A tool call failed in a way the model can fix; the message says what to do next."""

    code = "tool_failed"


@dataclass(frozen=True)
class Tool:
    """A named async function with a pydantic argument model and the scopes it needs."""

    name: str
    description: str
    args_model: type[BaseModel]
    scopes: frozenset[str]
    fn: ToolFn
    side_effects: bool = False
    external: bool = True
    """False for tools that only touch Podium's own state (shared memory): eval cassettes do
    not record them, and replays run them, so memory evolves in a replay as it did live."""
    choices: ChoicesFn | None = None
    """The values its arguments may take in a context (dataset names, a table's keys, files):
    the schema offers exactly those, so a small model picks a real record (see `_choices`)."""
    content_args: frozenset[str] = frozenset()
    """Arguments of a side-effecting tool that carry content (an email's subject and body), which
    `[policies.agents.X] allow_untrusted_to = ["tool"]` lets carry data from tools or memory.
    Every other argument is a sink (a recipient, a URL, a path, an amount): data from
    untrusted sources never reaches it unless the policy names it (`"tool.arg"`)."""
    source: str = ""
    """The name of the tool source a run listed it from ("builtin", an MCP server's): set when
    the run's tools are put together (`compose_tools`); a Ray worker opens that source again."""

    def __post_init__(self) -> None:
        unknown = sorted(self.content_args - set(self.args_model.model_fields))
        if unknown:
            raise TypeError(
                f"tool {self.name!r}: content_args {unknown} are not among its arguments "
                f"{sorted(self.args_model.model_fields)}"
            )

    def openai_schema(self, ctx: ToolContext | None = None) -> dict[str, Any]:
        """The OpenAI/LiteLLM `tools=[...]` entry for this tool; with `ctx`, its grounding in
        that context rides beside it (see `podium.tools._choices`)."""
        parameters = _parameters_schema(self.args_model)
        entry: dict[str, Any] = {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }
        if ctx is not None and self.choices is not None:
            try:
                variants = self.choices(ctx)
            except Exception:  # a missing folder, an unreadable file: the call will say why
                variants = ()
            try:
                grounded = grounding(parameters, variants, ctx.task_text)
            except ChoicesError as exc:
                raise TypeError(f"tool {self.name!r}: {exc}") from None
            if grounded is not None:
                entry[GROUNDING_KEY] = grounded
        return entry

    def lookups(self, ctx: ToolContext) -> list[dict[str, JSONValue]]:
        """The calls of this tool that `ctx.task_text` settles (a record or file it names; see
        `podium.tools._choices.lookups`), each valid for the tool's arguments."""
        if self.choices is None:
            return []
        try:
            variants = self.choices(ctx)
        except Exception:  # a missing folder, an unreadable file: nothing to look up
            return []
        calls = []
        for arguments in lookups(variants, ctx.task_text):
            try:
                self._validate(arguments)
            except ToolError:
                continue  # the tool needs more than the text settles
            calls.append(arguments)
        return calls

    async def invoke(self, raw_args: Mapping[str, Any] | str, ctx: ToolContext) -> JSONValue:
        """Validate `raw_args` (a mapping or the JSON string a model emitted) and run the tool."""
        args = self._validate(self._decode(raw_args))
        return await self.fn(args, ctx)

    def _decode(self, raw_args: Mapping[str, Any] | str) -> Mapping[str, Any]:
        if not isinstance(raw_args, str):
            return raw_args
        if not raw_args.strip():
            # Models often send "" for tools without arguments.
            return {}
        try:
            decoded = json.loads(raw_args)
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"tool {self.name!r}: arguments are not valid JSON ({exc.msg} at position "
                f'{exc.pos}); send a JSON object such as {{"field": "value"}}'
            ) from exc
        if not isinstance(decoded, dict):
            raise ToolError(
                f"tool {self.name!r}: arguments must be a JSON object, got {type(decoded).__name__}"
            )
        return decoded

    def _validate(self, data: Mapping[str, Any]) -> BaseModel:
        try:
            return self.args_model.model_validate(dict(data))
        except ValidationError as exc:
            raise ToolError(f"tool {self.name!r}: invalid arguments: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    """One short line per problem, each naming the field, so the model can correct it."""
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        problems.append(f"field {where!r}: {err['msg']}")
    return "; ".join(problems)


def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    scopes: Iterable[str] = (),
    side_effects: bool = False,
    external: bool = True,
    choices: ChoicesFn | None = None,
    content_args: Iterable[str] = (),
) -> Callable[[F], Tool]:
    """Turn `async def f(args: SomeArgs, ctx: ToolContext) -> JSONValue` into a `Tool`."""

    def wrap(fn: F) -> Tool:
        args_model = _args_model_of(fn)  # checks the signature first: the clearer error
        return Tool(
            name=name or fn.__name__,
            description=description or _first_paragraph(fn),
            args_model=args_model,
            scopes=frozenset(scopes),
            fn=fn,
            side_effects=side_effects,
            external=external,
            choices=choices,
            content_args=frozenset(content_args),
        )

    return wrap


def _first_paragraph(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn)
    if not doc:
        raise ValueError(
            f"tool {fn.__name__!r} has no description: add a docstring or pass description=..."
        )
    return " ".join(doc.split("\n\n", 1)[0].split())


def _args_model_of(fn: Callable[..., Any]) -> type[BaseModel]:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"tool {fn.__name__!r} must be an `async def` function")
    params = list(inspect.signature(fn).parameters)
    if len(params) != 2:
        raise TypeError(
            f"tool {fn.__name__!r} must take exactly (args: SomeArgsModel, ctx: ToolContext)"
        )
    model = get_type_hints(fn).get(params[0])
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(
            f"tool {fn.__name__!r}: annotate the first parameter with a pydantic BaseModel subclass"
        )
    return model
