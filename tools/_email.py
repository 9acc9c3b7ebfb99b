"""`send_email`: the built-in side-effecting tool. Offline, it delivers to an outbox folder.

Each message is one `.eml` file named by the call's idempotency key (see ToolContext): the
same call made again (a resumed run re-running the task) writes the same file once. Point
`[tools] outbox` at a folder a mail relay picks up from to send for real.
"""

from __future__ import annotations

import hashlib
import os
from email.message import EmailMessage
from email.utils import formatdate

from pydantic import BaseModel, ConfigDict, Field

from ._core import JSONValue, ToolContext, ToolError, tool

MAX_BODY_CHARS = 20_000


class SendEmailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No maxLength: see tools/_memory.py (llama.cpp grammars); checked in the tool.
    to: str = Field(description="Recipient email address.", min_length=3)
    subject: str = Field(description="Subject line.", min_length=1)
    body: str = Field(description="Plain-text message body.", min_length=1)


@tool(
    name="send_email",
    scopes=("write:email",),
    side_effects=True,
    content_args=("subject", "body"),  # `to` is a sink: an injected recipient is never allowed
)
async def send_email(args: SendEmailArgs, ctx: ToolContext) -> JSONValue:
    """Send a plain-text email to one recipient. Sending cannot be undone."""
    if ctx.outbox is None:
        raise ToolError("email is not configured for this run: set `[tools] outbox` in podium.toml")
    if "@" not in args.to or any(c in args.to for c in " ,;<>\n"):
        raise ToolError(f"send_email: {args.to!r} is not a single email address")
    if len(args.body) > MAX_BODY_CHARS or len(args.subject) > 200:
        raise ToolError("send_email: the subject (200) or body (20,000 characters) is too long")
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
    return {"sent": True, "to": args.to, "message_id": key}
