"""Tests for podium.tools: the tool seam, the registry and the offline built-in tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from podium.tools import (
    GROUNDING_KEY,
    MAX_LOOKUPS,
    VARIANTS_KEY,
    Choices,
    JSONValue,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    builtin_tools,
    default_datasets_dir,
    for_provider,
    tool,
)
from podium.tools._datasets import dataset_files
from podium.tools._files import MAX_FILE_CHOICES

REGISTRY = ToolRegistry.with_builtins()
send_email = REGISTRY.get("send_email")


def ctx_for(workspace: Path, **overrides: Any) -> ToolContext:
    return ToolContext(workspace=workspace, **overrides)


async def call(name: str, args: dict[str, Any] | str, ctx: ToolContext) -> Any:
    return await REGISTRY.get(name).invoke(args, ctx)


# --- calculator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("-3 + +5", 2),
        ("-(2 ** 2)", -4),
        ("sqrt(16) + abs(-2)", 6.0),
        ("max(3, 9, 4) - min(3, 9, 4)", 6),
        ("round(7 / 3, 2)", 2.33),
        ("log(8, 2)", 3.0),
        ("1200 * 0.15", 180.0),
    ],
)
async def test_calculator_computes(tmp_path: Path, expression: str, expected: float) -> None:
    result = await call("calculator", {"expression": expression}, ctx_for(tmp_path))
    assert result == {"expression": expression, "result": pytest.approx(expected)}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('ls')", "not allowed"),
        ("x + 1", "the name 'x' is not allowed"),
        ("(1).__class__", "Attribute"),
        ("math.sqrt(4)", "not allowed"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("[1, 2]", "List"),
        ("2 ** 100000", "too large"),
        ("9 ** 9 ** 9", "too large"),
        ("10 ** 5000", "too large"),
        ("1 / 0", "division by zero"),
        ("sqrt(-1)", "cannot compute"),
        ("(-8) ** 0.5", "not a real number"),
        ("10.0 ** 400", "cannot compute"),
        ("1 +", "not a valid expression"),
        ("round(2.5, ndigits=1)", "positional"),
    ],
)
async def test_calculator_refuses(tmp_path: Path, expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await call("calculator", {"expression": expression}, ctx_for(tmp_path))


# --- read_file / list_files ---------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "contract.md").write_text("# Contract\nTerm: 12 months.\n")
    (root / "notes.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("do not read")
    return root


async def test_read_file_reads_inside_workspace(workspace: Path) -> None:
    result = await call("read_file", {"path": "docs/contract.md"}, ctx_for(workspace))
    assert result["content"] == "# Contract\nTerm: 12 months.\n"
    assert result["path"] == "docs/contract.md"
    assert result["truncated"] is False


async def test_read_file_allows_dotdot_that_stays_inside(workspace: Path) -> None:
    result = await call("read_file", {"path": "docs/../notes.txt"}, ctx_for(workspace))
    assert result["content"] == "hello"


@pytest.mark.parametrize("path", ["../secret.txt", "docs/../../secret.txt"])
async def test_read_file_refuses_dotdot_escape(workspace: Path, path: str) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("read_file", {"path": path}, ctx_for(workspace))


async def test_read_file_refuses_absolute_path(workspace: Path) -> None:
    absolute = str(workspace.parent / "secret.txt")
    with pytest.raises(ToolError, match="absolute"):
        await call("read_file", {"path": absolute}, ctx_for(workspace))


async def test_read_file_refuses_symlink_out(workspace: Path) -> None:
    (workspace / "link.txt").symlink_to(workspace.parent / "secret.txt")
    (workspace / "linkdir").symlink_to(workspace.parent, target_is_directory=True)
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("read_file", {"path": "link.txt"}, ctx_for(workspace))
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("read_file", {"path": "linkdir/secret.txt"}, ctx_for(workspace))


async def test_read_file_missing_folder_and_binary(workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="list_files"):
        await call("read_file", {"path": "nope.md"}, ctx_for(workspace))
    with pytest.raises(ToolError, match="is a folder"):
        await call("read_file", {"path": "docs"}, ctx_for(workspace))
    with pytest.raises(ToolError, match="binary"):
        await call("read_file", {"path": "blob.bin"}, ctx_for(workspace))


async def test_read_file_truncates_large_files(workspace: Path) -> None:
    (workspace / "big.txt").write_text("a" * 250_000)
    result = await call("read_file", {"path": "big.txt"}, ctx_for(workspace))
    assert result["truncated"] is True
    assert len(result["content"]) == 200_000
    assert result["size_bytes"] == 250_000
    assert "200000" in result["note"]


async def test_list_files_lists_and_filters(workspace: Path) -> None:
    (workspace / "out.txt").symlink_to(workspace.parent / "secret.txt")
    everything = await call("list_files", {}, ctx_for(workspace))
    assert everything["files"] == ["docs/contract.md", "notes.txt"]
    markdown = await call("list_files", {"folder": ".", "glob": "*.md"}, ctx_for(workspace))
    assert markdown["files"] == ["docs/contract.md"]
    in_docs = await call("list_files", {"folder": "docs"}, ctx_for(workspace))
    assert in_docs["files"] == ["docs/contract.md"]


async def test_list_files_refuses_escape(workspace: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await call("list_files", {"folder": ".."}, ctx_for(workspace))
    with pytest.raises(ToolError, match="absolute"):
        await call("list_files", {"folder": "/"}, ctx_for(workspace))


# --- query_dataset / list_datasets -----------------------------------------------------------


async def test_query_dataset_where_is_case_insensitive(tmp_path: Path) -> None:
    result = await call(
        "query_dataset",
        {"dataset": "crm_leads", "where": {"stage": "qualified", "country": "us"}},
        ctx_for(tmp_path),
    )
    assert result["dataset"] == "crm_leads"
    assert result["count"] == 4
    assert {row["lead_id"] for row in result["rows"]} == {"L-1001", "L-1005", "L-1012", "L-1017"}


async def test_query_dataset_contains_fields_sort_limit(tmp_path: Path) -> None:
    result = await call(
        "query_dataset",
        {
            "dataset": "candidates",
            "contains": {"skills": "python"},
            "fields": ["candidate_id", "years_experience"],
            "sort_by": "-years_experience",
            "limit": 3,
        },
        ctx_for(tmp_path),
    )
    assert result["count"] == 15
    assert result["rows"] == [
        {"candidate_id": "C-3007", "years_experience": 12},
        {"candidate_id": "C-3012", "years_experience": 11},
        {"candidate_id": "C-3018", "years_experience": 10},
    ]


async def test_query_dataset_sort_is_numeric_not_lexical(tmp_path: Path) -> None:
    result = await call(
        "query_dataset",
        {"dataset": "companies", "fields": ["name", "employees"], "sort_by": "employees"},
        ctx_for(tmp_path),
    )
    employees = [row["employees"] for row in result["rows"]]
    assert employees == sorted(employees)
    assert employees[:3] == [55, 70, 85]


async def test_query_dataset_list_field_and_numeric_where(tmp_path: Path) -> None:
    result = await call(
        "query_dataset",
        {"dataset": "companies", "where": {"tech_stack": "kafka", "employees": 480}},
        ctx_for(tmp_path),
    )
    assert [row["name"] for row in result["rows"]] == ["Zephyr Payments"]


async def test_query_dataset_unknown_dataset_lists_names(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="unknown dataset 'leads'") as info:
        await call("query_dataset", {"dataset": "leads"}, ctx_for(tmp_path))
    assert "crm_leads" in str(info.value)
    assert "companies" in str(info.value)


async def test_query_dataset_unknown_field_lists_fields(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="'revenue'") as info:
        await call(
            "query_dataset", {"dataset": "companies", "sort_by": "-revenue"}, ctx_for(tmp_path)
        )
    assert "revenue_musd" in str(info.value)
    with pytest.raises(ToolError, match="'stage_name'"):
        await call(
            "query_dataset",
            {"dataset": "crm_leads", "where": {"stage_name": "Won"}},
            ctx_for(tmp_path),
        )


async def test_query_dataset_limit_is_bounded(tmp_path: Path) -> None:
    result = await call("query_dataset", {"dataset": "crm_leads"}, ctx_for(tmp_path))
    assert result["count"] == 25
    assert len(result["rows"]) == 20
    with pytest.raises(ToolError, match="'limit'"):
        await call("query_dataset", {"dataset": "crm_leads", "limit": 500}, ctx_for(tmp_path))


async def test_query_dataset_uses_ctx_datasets_dir(tmp_path: Path) -> None:
    (tmp_path / "scores.csv").write_text("team,score\nred,9\nblue,10\ngreen,\n")
    ctx = ctx_for(tmp_path, datasets_dir=tmp_path)
    result = await call("query_dataset", {"dataset": "scores", "sort_by": "-score"}, ctx)
    assert [row["team"] for row in result["rows"]] == ["blue", "red", "green"]
    with pytest.raises(ToolError, match="available datasets: scores"):
        await call("query_dataset", {"dataset": "crm_leads"}, ctx)


async def test_list_datasets_describes_packaged_data(tmp_path: Path) -> None:
    result = await call("list_datasets", "", ctx_for(tmp_path))
    by_name = {entry["name"]: entry for entry in result["datasets"]}
    assert set(by_name) == {
        "crm_leads",
        "companies",
        "candidates",
        "job_openings",
        "support_tickets",
        "policies",
    }
    assert by_name["crm_leads"]["rows"] == 25
    assert "tech_stack" in by_name["companies"]["fields"]


def test_packaged_datasets_are_consistent() -> None:
    root = default_datasets_dir()
    companies = {c["name"] for c in json.loads((root / "companies.json").read_text())}
    tickets = json.loads((root / "support_tickets.json").read_text())
    leads = (root / "crm_leads.csv").read_text().splitlines()[1:]
    assert {line.split(",")[3] for line in leads} <= companies
    assert {t["customer"] for t in tickets} <= companies
    assert (root / "README.md").is_file()
    assert len(list((root / "docs").glob("*.md"))) >= 2


# --- http_get ----------------------------------------------------------------------------------


def mock_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="hello from mock", headers={"content-type": "text/plain"})

    return httpx.MockTransport(handler)


async def test_http_get_is_disabled_by_default(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    ctx = ctx_for(
        tmp_path, http_allowlist=("api.example.com",), http_transport=mock_transport(seen)
    )
    with pytest.raises(ToolError, match=r"tools\.http\.enabled"):
        await call("http_get", {"url": "https://api.example.com/x"}, ctx)
    assert seen == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.org/",
        "https://example.com/",  # ".example.com" covers subdomains only
        "https://example.com.evil.org/",
        "https://api.example.com@evil.org/",
    ],
)
async def test_http_get_refuses_hosts_off_the_allowlist(tmp_path: Path, url: str) -> None:
    seen: list[httpx.Request] = []
    ctx = ctx_for(
        tmp_path,
        http_enabled=True,
        http_allowlist=(".example.com",),
        http_transport=mock_transport(seen),
    )
    with pytest.raises(ToolError, match=r"not allowed.*tools\.http\.allowlist"):
        await call("http_get", {"url": url}, ctx)
    assert seen == []


async def test_http_get_refuses_other_schemes(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, http_enabled=True, http_allowlist=("example.com",))
    with pytest.raises(ToolError, match="only http and https"):
        await call("http_get", {"url": "file:///etc/passwd"}, ctx)


async def test_http_get_fetches_allowed_host(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    ctx = ctx_for(
        tmp_path,
        http_enabled=True,
        http_allowlist=("docs.example.com", ".example.org"),
        http_transport=mock_transport(seen),
    )
    for url in ("https://docs.example.com/page", "http://api.example.org/v1?q=1"):
        result = await call("http_get", {"url": url}, ctx)
        assert result == {"status": 200, "content_type": "text/plain", "text": "hello from mock"}
    assert [str(r.url) for r in seen] == [
        "https://docs.example.com/page",
        "http://api.example.org/v1?q=1",
    ]
    assert all(r.method == "GET" for r in seen)


async def test_http_get_caps_body_and_does_not_follow_redirects(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"location": "https://elsewhere.org/"})
        return httpx.Response(200, content=b"x" * 150_000)

    ctx = ctx_for(
        tmp_path,
        http_enabled=True,
        http_allowlist=("example.com",),
        http_transport=httpx.MockTransport(handler),
    )
    moved = await call("http_get", {"url": "https://example.com/moved"}, ctx)
    assert moved["status"] == 302
    assert moved["location"] == "https://elsewhere.org/"
    big = await call("http_get", {"url": "https://example.com/big"}, ctx)
    assert len(big["text"]) == 100_000
    assert "note" in big


async def test_http_get_reports_transport_errors(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    ctx = ctx_for(
        tmp_path,
        http_enabled=True,
        http_allowlist=("example.com",),
        http_transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ToolError, match="timed out"):
        await call("http_get", {"url": "https://example.com/"}, ctx)


# --- Tool.invoke, @tool, registry --------------------------------------------------------------


async def test_invoke_accepts_a_json_string(tmp_path: Path) -> None:
    result = await call("calculator", '{"expression": "6 * 7"}', ctx_for(tmp_path))
    assert result == {"expression": "6 * 7", "result": 42}


async def test_invoke_rejects_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"'calculator'.*not valid JSON"):
        await call("calculator", '{"expression": ', ctx_for(tmp_path))
    with pytest.raises(ToolError, match="must be a JSON object"):
        await call("calculator", "[1, 2]", ctx_for(tmp_path))


async def test_invoke_bad_args_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"'calculator'.*field 'expression'"):
        await call("calculator", {}, ctx_for(tmp_path))
    with pytest.raises(ToolError, match="field 'limit'"):
        await call("query_dataset", '{"dataset": "crm_leads", "limit": "many"}', ctx_for(tmp_path))
    with pytest.raises(ToolError, match="field 'expresion'"):
        await call("calculator", {"expresion": "1+1"}, ctx_for(tmp_path))


class EchoArgs(BaseModel):
    text: str
    times: int = 1


@tool(scopes=["compute"])
async def echo(args: EchoArgs, ctx: ToolContext) -> JSONValue:
    """Repeat text.

    Longer explanation that is not part of the description.
    """
    return {"text": args.text * args.times, "task": ctx.task_id}


async def test_tool_decorator_builds_a_tool(tmp_path: Path) -> None:
    assert isinstance(echo, Tool)
    assert echo.name == "echo"
    assert echo.description == "Repeat text."
    assert echo.args_model is EchoArgs
    assert echo.scopes == frozenset({"compute"})
    assert echo.side_effects is False
    result = await echo.invoke('{"text": "ab", "times": 2}', ctx_for(tmp_path, task_id="t1"))
    assert result == {"text": "abab", "task": "t1"}


def test_tool_decorator_rejects_bad_functions() -> None:
    def not_async(args: EchoArgs, ctx: ToolContext) -> JSONValue:
        return None

    async def untyped(args: dict[str, Any], ctx: ToolContext) -> JSONValue:
        return None

    async def no_doc(args: EchoArgs, ctx: ToolContext) -> JSONValue:
        return None

    with pytest.raises(TypeError, match="async def"):
        tool()(not_async)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="BaseModel"):
        tool(description="x")(untyped)
    with pytest.raises(ValueError, match="docstring"):
        tool()(no_doc)
    assert tool(name="renamed", description="Given.")(no_doc).name == "renamed"


def test_openai_schema_shape() -> None:
    schema = REGISTRY.get("query_dataset").openai_schema()
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == "query_dataset"
    assert function["description"].startswith("Query a CSV/JSON dataset")
    params = function["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["dataset"]
    assert params["properties"]["limit"]["maximum"] == 200
    assert params["additionalProperties"] is False
    json.dumps(schema)  # must be serialisable as-is for the provider call


def test_registry_unknown_name_lists_known_names() -> None:
    with pytest.raises(ToolError, match="unknown tool 'search'") as info:
        REGISTRY.get("search")
    for name in ("calculator", "http_get", "list_datasets", "list_files", "query_dataset"):
        assert name in str(info.value)


def test_registry_basics() -> None:
    assert REGISTRY.names() == sorted(t.name for t in builtin_tools())
    assert "read_file" in REGISTRY
    assert "nope" not in REGISTRY
    picked = REGISTRY.for_agent(["read_file", "calculator", "read_file"])
    assert [t.name for t in picked] == ["read_file", "calculator"]
    with pytest.raises(ToolError, match="unknown tool 'web_search'"):
        REGISTRY.for_agent(["calculator", "web_search"])
    registry = ToolRegistry([echo])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(echo)


def test_builtin_scopes_and_side_effects() -> None:
    scopes = {t.name: t.scopes for t in builtin_tools()}
    assert scopes == {
        "calculator": frozenset({"compute"}),
        "read_file": frozenset({"read:workspace"}),
        "list_files": frozenset({"read:workspace"}),
        "query_dataset": frozenset({"read:data"}),
        "list_datasets": frozenset({"read:data"}),
        "http_get": frozenset({"net:http"}),
        "memory_search": frozenset({"memory:read"}),
        "memory_write": frozenset({"memory:write"}),
        "send_email": frozenset({"write:email"}),
    }
    assert [t.name for t in builtin_tools() if t.side_effects] == ["send_email"]


async def test_send_email_writes_one_file_per_distinct_message(tmp_path: Path) -> None:
    ctx = ToolContext(workspace=tmp_path, outbox=tmp_path / "outbox", run_id="r1", task_id="t1")
    args = {"to": "dana@northwind.example", "subject": "Hello", "body": "Hi Dana"}
    first = await send_email.invoke(args, ctx)
    again = await send_email.invoke(args, ctx)  # a retry or a resumed run: same key, one file
    assert first == again
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert "To: dana@northwind.example" in files[0].read_text()
    with pytest.raises(ToolError, match="not a single email address"):
        await send_email.invoke({**args, "to": "a@b.example, c@d.example"}, ctx)
    with pytest.raises(ToolError, match="not configured"):
        await send_email.invoke(args, ToolContext(workspace=tmp_path))
    assert first == f"Sent the email to dana@northwind.example (message {files[0].stem})."


def test_send_email_can_only_write_a_recipient_the_task_names(tmp_path: Path) -> None:
    """For a decoder under a grammar, `to` is one of the addresses in the task's text; a task
    that names none leaves it free (the taint check still judges where it came from)."""
    text = "Send the draft to Maya at maya.chen@brightforge.example, cc nobody."
    named = _grounded("send_email", ToolContext(workspace=tmp_path, task_text=text), variants=True)
    assert named["properties"]["to"]["enum"] == ["maya.chen@brightforge.example"]
    free = _grounded(
        "send_email", ToolContext(workspace=tmp_path, task_text="Send it"), variants=True
    )
    assert free["properties"]["to"]["type"] == "string"


def test_tool_context_defaults(tmp_path: Path) -> None:
    ctx = ToolContext(workspace=tmp_path)
    assert ctx.datasets_dir == default_datasets_dir()
    assert (ctx.datasets_dir / "crm_leads.csv").is_file()
    assert ctx.http_enabled is False
    assert ctx.http_allowlist == ()
    assert ctx.http_transport is None


# --- grounded arguments -----------------------------------------------------------------------


def _grounded(name: str, ctx: ToolContext, *, variants: bool) -> dict[str, Any]:
    return for_provider(REGISTRY.get(name).openai_schema(ctx), variants=variants)["function"][
        "parameters"
    ]


def test_query_dataset_offers_real_datasets_and_their_records() -> None:
    ctx = ctx_for(Path("."))
    flat = _grounded("query_dataset", ctx, variants=False)
    names = sorted(dataset_files(default_datasets_dir()))
    assert flat["properties"]["dataset"]["enum"] == names
    assert VARIANTS_KEY not in flat  # a hosted provider never sees the variants
    # The flat schema keeps record values out (a hosted model would pay for them every call).
    assert "Maya Chen" not in json.dumps(flat)
    full = _grounded("query_dataset", ctx, variants=True)
    leads = next(
        v for v in full[VARIANTS_KEY] if v["properties"]["dataset"]["enum"] == ["crm_leads"]
    )
    where = leads["properties"]["where"]["anyOf"][0]
    assert where["additionalProperties"] is False
    assert "Maya Chen" in where["properties"]["name"]["enum"]
    assert "L-1001" in where["properties"]["lead_id"]["enum"]
    assert where["properties"]["stage"]["enum"]  # a category column: its few values
    assert "email" in where["properties"] and "enum" not in where["properties"]["email"]
    # Only that dataset's records go with it.
    assert "Ravi Patel" not in json.dumps(leads)
    assert set(leads["properties"]["fields"]["anyOf"][0]["items"]["enum"]) >= {"name", "title"}
    assert "-last_contact" in leads["properties"]["sort_by"]["anyOf"][0]["enum"]


def test_ungrounded_schema_and_cassette_view_are_the_tools_own() -> None:
    tool_ = REGISTRY.get("query_dataset")
    grounded = tool_.openai_schema(ctx_for(Path(".")))
    assert grounded["function"] == tool_.openai_schema()["function"]
    assert GROUNDING_KEY in grounded


def test_read_file_offers_the_workspace_files(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "contract.md").write_text("x")
    (tmp_path / "notes.txt").write_text("y")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("z")
    params = _grounded("read_file", ctx_for(tmp_path), variants=False)
    assert params["properties"]["path"]["enum"] == ["notes.txt", "docs/contract.md"]
    for n in range(MAX_FILE_CHOICES + 1):
        (tmp_path / f"f{n}.txt").write_text("")
    # Too many to choose from: the path stays free text (list_files finds it).
    params = _grounded("read_file", ctx_for(tmp_path), variants=False)
    assert params["properties"]["path"]["type"] == "string"


def test_missing_datasets_folder_leaves_the_schema_ungrounded(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, datasets_dir=tmp_path / "none")
    assert GROUNDING_KEY not in REGISTRY.get("query_dataset").openai_schema(ctx)


class PickArgs(BaseModel):
    colour: str
    sizes: list[str] = []
    tags: dict[str, str] | None = None


def test_any_tool_may_declare_choices() -> None:
    def choices(ctx: ToolContext) -> list[Choices]:
        return [{"colour": ["red"], "sizes": ["S"], "tags.*": ["kind"], "tags.kind": ["a"]}]

    @tool(description="Pick.", choices=choices)
    async def pick(args: PickArgs, ctx: ToolContext) -> JSONValue:
        return args.colour

    params = for_provider(pick.openai_schema(ctx_for(Path("."))), variants=True)["function"][
        "parameters"
    ]
    (variant,) = params[VARIANTS_KEY]
    assert variant["properties"]["colour"]["enum"] == ["red"]
    assert variant["properties"]["sizes"]["items"] == {"enum": ["S"]}
    tags = variant["properties"]["tags"]["anyOf"][0]
    assert tags["properties"] == {"kind": {"enum": ["a"]}}
    assert tags["additionalProperties"] is False

    @tool(description="Broken.", choices=lambda ctx: [{"nope": ["x"]}])
    async def broken(args: PickArgs, ctx: ToolContext) -> JSONValue:
        return None

    with pytest.raises(TypeError, match="no argument 'nope'"):
        broken.openai_schema(ctx_for(Path(".")))


def test_calculator_schema_admits_arithmetic_only() -> None:
    import re

    pattern = REGISTRY.get("calculator").openai_schema()["function"]["parameters"]["properties"][
        "expression"
    ]["pattern"]
    for ok in ("(1200 * 0.15) + sqrt(16)", "round(7 / 3, 2)", "max(3, 4) - pi"):
        assert re.fullmatch(pattern, ok)
    assert not re.fullmatch(pattern, "the score is high")


def test_the_variants_narrow_to_what_the_task_names() -> None:
    ctx = ToolContext(
        workspace=Path("."),
        task_text="Look up Priya Nair in crm_leads and Quillpath Health in the companies dataset",
    )
    full = _grounded("query_dataset", ctx, variants=True)
    variants = full[VARIANTS_KEY]
    assert [v["properties"]["dataset"]["enum"] for v in variants] == [["companies"], ["crm_leads"]]
    leads = variants[1]
    assert "where" in leads["required"]  # the named record is looked up, not the whole table
    where = leads["properties"]["where"]
    assert where["required"] == ["name"] and where["properties"]["name"]["enum"] == ["Priya Nair"]
    # Only named filters: no guessed one ("stage": "Contacted") to miss the record.
    assert list(where["properties"]) == ["name", "company"]
    assert where["properties"]["company"]["enum"] == ["Quillpath Health"]
    # The flat schema (hosted models) is not narrowed: they choose for themselves.
    flat = _grounded("query_dataset", ctx, variants=False)
    assert len(flat["properties"]["dataset"]["enum"]) == 6
    # Nothing named: every dataset, nothing required.
    plain = _grounded(
        "query_dataset", ToolContext(workspace=Path("."), task_text="hi"), variants=True
    )
    assert len(plain[VARIANTS_KEY]) == 6 and plain[VARIANTS_KEY][0]["required"] == ["dataset"]


def test_lookups_are_the_calls_the_task_text_settles(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for name in ("vendor_contract_cirrusly.md", "vendor_contract_acme.md", "review_notes.md"):
        (tmp_path / "docs" / name).write_text("x")

    def lookups(text: str, tool_name: str = "query_dataset") -> list[dict[str, Any]]:
        ctx = ToolContext(workspace=tmp_path, task_text=text)
        return REGISTRY.get(tool_name).lookups(ctx)

    # A record named as written: its lookup; the longer name, not a name inside it.
    assert lookups("Screen Ravi Patel for the Senior Backend Engineer opening") == [
        {"dataset": "candidates", "where": {"name": "Ravi Patel"}},
        {"dataset": "candidates", "where": {"current_title": "Senior Backend Engineer"}},
        {"dataset": "job_openings", "where": {"title": "Senior Backend Engineer"}},
    ]
    # A source named with no record of it: the source whole; a word is not a source.
    assert lookups("Check it against the policies dataset") == [{"dataset": "policies"}]
    assert lookups("find candidates and policies") == []
    # Files whose name holds a proper name of the text; not the sentence's first word.
    assert lookups("Review the Cirrusly contract", "read_file") == [
        {"path": "docs/vendor_contract_cirrusly.md"}
    ]
    assert lookups("Review it", "read_file") == []
    assert lookups("Summarise docs/review_notes.md", "read_file") == [
        {"path": "docs/review_notes.md"}
    ]
    # At most MAX_LOOKUPS; a tool without choices looks nothing up.
    many = " ".join(f"C-30{n:02d}" for n in range(1, 20))
    assert len(lookups(f"Compare {many}")) == MAX_LOOKUPS
    assert lookups("Priya Nair", "calculator") == []
