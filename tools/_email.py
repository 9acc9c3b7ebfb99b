"""`send_email`: the built-in side-effecting tool. Offline, it delivers to an outbox folder.

Each message is one `.eml` file named by the call's idempotency key (see ToolContext): the
same call made again (a resumed run re-running the task) writes the same file once. Point
`[tools] outbox` at a folder a mail relay picks up from to send for real.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from pydantic import BaseModel, ConfigDict, Field

from ._choices import Choices
from ._core import JSONValue, ToolContext, ToolError, tool

MAX_BODY_CHARS = 20_000
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def named_recipients(ctx: ToolContext) -> Sequence[Choices]:
    """The addresses the task's text (its instruction and the goal) names: when it names any,
    a grammar-constrained model can write only one of them as `to`. The recipient is a sink
    that must come from trusted text anyway (policies/_taint.py); this makes a small model
    write it right instead of copying the body into it."""
    found = list(dict.fromkeys(a.rstrip(".") for a in _ADDRESS.findall(ctx.task_text)))
    return [{"to": found}] if found else []


class SendEmailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The body has no maxLength (see tools/_memory.py: llama.cpp grammars), checked in the tool;
    # the subject's short one stops a small model that copies the body into it.
    to: str = Field(description="Recipient email address.", min_length=3)
    subject: str = Field(description="Subject line.", min_length=1, max_length=150)
    body: str = Field(description="Plain-text message body.", min_length=1)


@tool(
    name="send_email",
    scopes=("write:email",),
    side_effects=True,
    content_args=("subject", "body"),  # `to` is a sink: an injected recipient is never allowed
    choices=named_recipients,
)
async def send_email(args: SendEmailArgs, ctx: ToolContext) -> JSONValue:
    """Send a plain-text email to one recipient. Sending cannot be undone."""
    if ctx.outbox is None:
        raise ToolError("email is not configured for this run: set `[tools] outbox` in podium.toml")
    if "@" not in args.to or any(c in args.to for c in " ,;<>\n"):
        raise ToolError(f"send_email: {args.to!r} is not a single email address")
    if len(args.body) > MAX_BODY_CHARS:
        raise ToolError("send_email: the body is over 20,000 characters: shorten it")
    key = (
        ctx.idempotency_key[:20]
        or hashlib.sha256(
            "\x1f".join((ctx.run_id, ctx.task_id, args.to, args.subject, args.body)).encode()
        ).hexdigest()[:20]
    )
    message = EmailMessage()
    message["To"] = args.to
    message["Subject"] = args.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{key}@podium.local>"
    message["X-Podium-Run"] = f"{ctx.run_id}/{ctx.task_id}"
    message.set_content(args.body)
    ctx.outbox.mkdir(parents=True, exist_ok=True)
    path = ctx.outbox / f"{key}.eml"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(message))
        os.replace(tmp, path)
    # In words: a small model answers after it in the words it was shown, and JSON shown is
    # JSON copied (a stray bracket, refused as debris).
    return f"Sent the email to {args.to} (message {key})."
