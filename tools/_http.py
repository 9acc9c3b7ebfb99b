"""The `http_get` tool: GET requests, off by default and limited to allowlisted hosts."""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ._core import JSONValue, ToolContext, ToolError, tool

if TYPE_CHECKING:
    import httpx

MAX_TEXT_BYTES = 100_000

_ENABLE_HINT = "set tools.http.enabled = true in podium.toml"
_ALLOW_HINT = "add the host to tools.http.allowlist in podium.toml (exact host, or '.suffix')"


class HttpGetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="Absolute http(s) URL to fetch.", min_length=1)


@tool(name="http_get", scopes=("net:http",))
async def http_get(args: HttpGetArgs, ctx: ToolContext) -> JSONValue:
    """Fetch a URL with HTTP GET and return its status, content type and text (first 100 kB).

    Only allowlisted hosts can be reached; redirects are not followed.
    """
    import httpx  # on first use: every command that lists tools need not load it

    url = check_url(args.url, ctx)
    try:
        return await _fetch(url, ctx)
    except httpx.TimeoutException as exc:
        raise ToolError(f"http_get: {url} timed out after {ctx.http_timeout_s}s") from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"http_get: request to {url} failed: {exc}") from exc


def check_url(raw: str, ctx: ToolContext) -> httpx.URL:
    """Parse `raw` and refuse it unless http_get is enabled and the host is allowlisted."""
    import httpx

    if not ctx.http_enabled:
        raise ToolError(f"http_get is disabled; to allow it, {_ENABLE_HINT} and {_ALLOW_HINT}")
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise ToolError(f"http_get: {raw!r} is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https"):
        raise ToolError(f"http_get: only http and https URLs are allowed, not {url.scheme!r}")
    if not url.host:
        raise ToolError(f"http_get: {raw!r} has no host; give an absolute URL")
    if not host_allowed(url.host, ctx.http_allowlist):
        allowed = ", ".join(ctx.http_allowlist) or "(empty)"
        raise ToolError(
            f"http_get: host {url.host!r} is not allowed (allowlist: {allowed}); to allow it, "
            f"{_ALLOW_HINT}"
        )
    return url


def host_allowed(host: str, allowlist: tuple[str, ...]) -> bool:
    """Exact match, or '.example.com' matching any subdomain of example.com (not itself)."""
    host = host.lower().rstrip(".")
    for entry in (e.lower().strip() for e in allowlist):
        if entry.startswith("."):
            if host.endswith(entry) and len(host) > len(entry):
                return True
        elif host == entry.rstrip("."):
            return True
    return False


async def _fetch(url: httpx.URL, ctx: ToolContext) -> JSONValue:
    import httpx

    # An injected transport means the caller owns routing: don't let env proxies bypass it.
    async with (
        httpx.AsyncClient(
            transport=ctx.http_transport,
            timeout=ctx.http_timeout_s,
            follow_redirects=False,
            trust_env=ctx.http_transport is None,
        ) as client,
        client.stream("GET", url) as response,
    ):
        body, truncated = await _read_capped(response)
        result: dict[str, JSONValue] = {
            "status": response.status_code,
            "content_type": response.headers.get("content-type", ""),
            "text": body.decode(_encoding(response), errors="replace"),
        }
        if truncated:
            result["note"] = f"body cut at {MAX_TEXT_BYTES} bytes"
        if response.is_redirect and "location" in response.headers:
            result["location"] = response.headers["location"]
        return result


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_TEXT_BYTES:
            return b"".join(chunks)[:MAX_TEXT_BYTES], True
    return b"".join(chunks), False


def _encoding(response: httpx.Response) -> str:
    name = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name
