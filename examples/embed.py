"""Embedding Podium in a Python program: an agent and a tool defined in code, a run whose
events are streamed, and a question (approve a refund) answered by the program.

Runs offline as is: `model=` is a stand-in that answers like an LLM would. Drop it to use the
models of your podium.toml (or the embedded local model when none is configured).
"""

from __future__ import annotations

import asyncio
import json
import tempfile

from pydantic import BaseModel

from podium.agents import AgentSpec
from podium.runtime import (
    AssistantMessage,
    EscalationRaised,
    ModelRequest,
    PlanCreated,
    Podium,
    PodiumConfig,
    RunEvent,
    RunFinished,
    TaskCompleted,
    ToolCall,
)
from podium.runtime.testing import FunctionModel, Reply
from podium.tools import ToolContext, tool


class RefundArgs(BaseModel):
    order_id: str
    amount_eur: float


@tool(name="issue_refund", scopes=("write:payments",), side_effects=True)
async def issue_refund(args: RefundArgs, ctx: ToolContext) -> str:
    """Refund an order. Money leaves the company, so a person approves every call."""
    return f"refunded {args.amount_eur:.2f} EUR on order {args.order_id}"


refunder = AgentSpec(
    name="refunder",
    description="Issues the refunds a task asks for.",
    system_prompt="Issue the refund the task asks for with issue_refund, then confirm it.",
    tools=("issue_refund",),
    scopes=("write:payments",),
)


def stand_in_model(request: ModelRequest) -> Reply:
    """Plans two tasks, then answers each; the refund task calls the tool once."""
    if request.purpose == "plan":
        return {
            "tasks": [
                {
                    "id": "check",
                    "agent": "analyst",
                    "instruction": "Check order A-1001's complaint.",
                    "inputs": [],
                },
                {
                    "id": "refund",
                    "agent": "refunder",
                    "instruction": "Refund order A-1001 by 40 EUR.",
                    "inputs": ["check"],
                },
            ]
        }
    if request.task_id == "refund":
        if any(m["role"] == "tool" for m in request.messages):
            return "Refunded 40.00 EUR on order A-1001."
        arguments = json.dumps({"order_id": "A-1001", "amount_eur": 40})
        return AssistantMessage(
            tool_calls=(ToolCall(id="call_1", name="issue_refund", arguments=arguments),)
        )
    return "Order A-1001 arrived damaged; a refund of 40 EUR is due."


def show(event: RunEvent) -> None:
    match event:
        case PlanCreated(plan=plan):
            print("plan:", ", ".join(f"{t.id} [{t.agent}]" for t in plan.tasks))
        case TaskCompleted(task_id=task_id, output=output, restored=False):
            print(f"{task_id} done: {output}")
        case EscalationRaised(escalation_id=escalation_id, question=question):
            print(f"the run asks ({escalation_id}): {question}")
        case RunFinished(status=status):
            print("run", status)


async def main() -> None:
    config = PodiumConfig.from_mapping(
        {"storage": {"data_dir": tempfile.mkdtemp()}, "memory": {"enabled": False}}
    )
    podium = Podium(
        config, model=FunctionModel(stand_in_model), agents=[refunder], tools=[issue_refund]
    )
    result = await podium.arun("Refund order A-1001: it arrived damaged", on_event=show)
    while result.status == "waiting_for_human":
        # A real program asks a person (a web form, a chat message, a ticket); this one
        # approves refunds up to 50 EUR and rejects anything else.
        answers = {}
        for escalation in result.escalations:
            refund = json.loads(escalation.payload.get("arguments", "{}"))
            answers[escalation.id] = "approve" if refund.get("amount_eur", 0) <= 50 else "reject"
        result = await podium.aresume(result.run_id, answers=answers, on_event=show)
    print("answer:", result.answer)
    print(f"tokens: {result.usage.total_tokens}, cost: ${result.usage.cost_usd:.4f}")
    podium.close()


if __name__ == "__main__":
    asyncio.run(main())
