"""The goal's guard: size, prompt-injection patterns, and the organisation's deny patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._config import InputPolicy

INJECTION_PATTERNS: dict[str, str] = {
    "override": r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:previous|prior|above|earlier|all|system|your)\b.{0,20}\b(?:instructions?|prompts?|rules|guardrails|polic(?:y|ies))\b",
    "role_change": r"\b(?:you\s+are\s+now|act\s+as\s+(?:an?\s+)?(?:unrestricted|jailbroken|dan)\b|developer\s+mode|jailbreak)",
    "prompt_extraction": r"\b(?:reveal|print|show|repeat|output|leak)\b.{0,30}\b(?:system\s+prompt|your\s+(?:instructions|prompt|rules)|hidden\s+instructions)\b",
    "fake_delimiter": r"</?\s*(?:system|assistant|tool_result|untrusted)\b[^>]*>|^\s*(?:system|assistant)\s*:",
    "guard_evasion": r"\b(?:disable|turn\s+off|bypass|skip)\b.{0,20}\b(?:guards?|guardrails|validators?|safety|audit|approval)\b",
}


@dataclass(frozen=True)
class InputFinding:
    kind: str
    excerpt: str


def check_goal(goal: str, policy: InputPolicy) -> list[InputFinding]:
    """What is wrong with `goal` (empty list: nothing); its size is the runtime's own check."""
    findings: list[InputFinding] = []
    if policy.injection != "off":
        for kind, pattern in INJECTION_PATTERNS.items():
            match = re.search(pattern, goal, re.I | re.M | re.S)
            if match:
                findings.append(InputFinding(kind, match.group()[:80]))
    for pattern in policy.deny_patterns:
        match = re.search(pattern, goal)
        if match:
            findings.append(
                InputFinding("denied", f"matches deny pattern {pattern!r}: {match.group()[:60]!r}")
            )
    return findings
