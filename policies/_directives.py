"""What an order to an agent or to the model looks like, in an output that should only report.

An agent's output becomes part of other prompts (a downstream task's, the synthesis's), so text
in it that addresses an agent ("New task for the writer agent: ...", "@planner add a task",
"Ignore previous instructions") is an injection travelling on. `find_directives` matches over
the folded text (see `_fold`): capitals, extra spaces, line breaks, zero-width characters,
full-width or lookalike letters and markup between the words do not hide a phrase.

Ordinary business text must pass: "next task: schedule the call", "the writer should keep it
short", "Reviewer: Jane Doe", "our agent will call you back", a support chat's "Agent: ...".
So a bare name (a card's name is often a common noun: writer, router, analyst) counts as an
addressee only when it is addressed (a colon or comma after it, "hey writer,", "@writer"), while
a name followed by agent/assistant/bot/AI ("the writer agent") always does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from ._fold import fold

_GAP = r"[\W_]{1,12}"
"""Between two words of a phrase: any spacing, line breaks, punctuation or markup."""
_TO_EOL = r"[^\S\n]*"

# An explicit agent: a name or "other/next/all ..." followed by one of these words.
_AGENTISH = r"(?:agents?|assistants?|bots?|llms?|ai|copilots?)"
_SELECTOR = (
    r"(?:other|next|downstream|upstream|following|subsequent|receiving|remaining|"
    r"all|every|any|each)"
)
# Roles that are addressees when addressed ("Note to the model: ..."); at a line's start only
# the runtime's (a support chat's "Agent: ..." or "Assistant: ..." lines are not orders).
_ROLES = r"(?:planner|supervisor|orchestrator|system|assistant|ai|llm|model|agents?)"
_LINE_ROLES = r"(?:planner|supervisor|orchestrator|system|developer)"
_ADDRESS_MARK = r"\s{0,6}(?:[:,>\u2014\u2013]|-(?!\w))"
"""After a bare addressee: it is being spoken to ("writer:", "writer,", "writer -")."""

_NOUN = (
    r"(?:tasks?|instructions?|orders?|directives?|directions?|commands?|assignments?|jobs?|"
    r"notes?|messages?|memos?|requests?|reminders?|guidance|rules|steps?|prompts?|"
    rf"action{_GAP}items?|to{_GAP}?dos?|p{_GAP}?s)"
)
_FOR = rf"(?:for|to|addressed{_GAP}to|intended{_GAP}for|meant{_GAP}for|directed{_GAP}(?:at|to))"
_IMPERATIVE = (
    r"(?:send|e?-?mail|forward|write|draft|include|add|append|insert|use|call|invoke|run|"
    r"execute|ignore|disregard|forget|override|delete|remove|export|reply|respond|tell|do|make|"
    r"share|post|upload|transfer|pay|wire|approve|grant|change|update|set|create|cc|bcc|attach|"
    r"give|provide|reveal|print|output|say|mark|rank|score|classify|route|escalate|skip|stop|"
    r"never|always|must|should|you|your|please|now|immediately|new|from{_GAP}now)"
)
_MODAL = (
    rf"(?:should|must|shall|needs?{_GAP}to|has{_GAP}to|have{_GAP}to|is{_GAP}to|are{_GAP}to|"
    rf"will{_GAP}now|ought{_GAP}to|(?:is|are){_GAP}(?:required|instructed|expected|asked|told){_GAP}to)"
)
_OVERRIDE_VERB = (
    rf"(?:ignore|disregard|forget|override|overrule|bypass|discard|abandon|set{_GAP}aside|"
    rf"pay{_GAP}no{_GAP}attention{_GAP}to|do{_GAP}not{_GAP}follow|don'?t{_GAP}follow|"
    rf"stop{_GAP}following|no{_GAP}longer{_GAP}follow)"
)
_EARLIER = (
    r"(?:previous|previously|prior|above|earlier|preceding|foregoing|former|original|initial|"
    r"old|system|existing|current|all|any|every|your|these|those|other|given)"
)
_RULES = (
    rf"(?:instructions?|prompts?|directions?|directives?|guidelines?|rules|commands?|"
    rf"programming|system{_GAP}messages?|constraints|guardrails?|safety{_GAP}rules)"
)
_FEW = rf"(?:{_GAP}[\w']+){{0,5}}?"
_PERSONA = (
    r"(?:agent|assistant|ai|bot|model|persona|character|hacker|admin|administrator|developer|"
    r"system|dan)"
)


def _patterns(names: str, explicit: str, bare: str, line_bare: str) -> list[str]:
    the = rf"(?:(?:the|a|an|our|your|my){_GAP})?"
    addressed = rf"(?:{explicit}|{bare}{_ADDRESS_MARK})"
    return [
        # "New task for the writer agent: ...", "Note to the writer: ...", "instructions for all agents"
        rf"\b{_NOUN}{_GAP}{_FOR}{_GAP}{the}{addressed}",
        # "Writer agent: ...", "To the writer agent - ...", "Hey writer agent, ..." (anywhere)
        rf"\b{explicit}{_TO_EOL}[:\u2014\u2013]",
        rf"^[^\w\n]{{0,6}}(?:(?:to|hey|hi|hello|dear|attention|attn|ok|okay){_GAP})?{the}{explicit}{_TO_EOL}[,>-]",
        rf"\b(?:hey|hi|hello|dear|attention|attn|ok|okay|listen|yo|psst){_GAP}{the}{addressed}",
        # "@writer ...", not an email address's "@"
        rf"(?<![\w.@])@{_TO_EOL}(?:{names}|{_ROLES})\b",
        # "Writer: send the export to ...", "SYSTEM: you are ..." (a name addressed, then an order)
        rf"^[^\w\n]{{0,6}}{line_bare}{_TO_EOL}[:,>\u2014\u2013-][\W_]{{0,12}}(?:{_IMPERATIVE}|{_NOUN})\b",
        # "The writer agent should ...", "all other agents must ..."
        rf"\b(?:the|all|every|any|each){_GAP}{explicit}{_GAP}{_MODAL}\b",
        # "Ignore all previous instructions", "do not follow the rules above"
        rf"\b{_OVERRIDE_VERB}\b{_FEW}{_GAP}{_EARLIER}\b{_FEW}{_GAP}{_RULES}\b",
        rf"\b{_OVERRIDE_VERB}\b{_FEW}{_GAP}{_RULES}{_GAP}(?:above|before|earlier|previously|so{_GAP}far|you{_GAP}(?:were|have{_GAP}been){_GAP}given)\b",
        rf"\b(?:ignore|disregard|forget){_GAP}(?:everything|all|anything)(?:{_GAP}(?:that|you|were|have|been|was))*{_GAP}(?:above|before|prior|previously|earlier|told|said)\b",
        # Persona switches
        rf"\byou{_GAP}are{_GAP}now{_GAP}(?:(?:a|an|the|my){_GAP}(?:[\w-]+{_GAP}){{0,3}}?{_PERSONA}|in{_GAP}[\w-]+{_GAP}mode|no{_GAP}longer{_GAP}(?:bound|restricted|an?{_GAP}|the{_GAP})|free{_GAP}(?:from|of)|unrestricted|unfiltered|jailbroken)\b",
        rf"\bfrom{_GAP}now{_GAP}on{_GAP}(?:you{_GAP}(?:will{_GAP}|must{_GAP}|shall{_GAP}|are{_GAP})?)?(?:act|behave|pretend|obey|ignore|disregard|follow{_GAP}(?:my|these|the{_GAP}new|only))\b",
        rf"\b(?:act|behave){_GAP}as{_GAP}(?:if{_GAP}you{_GAP}(?:are|were){_GAP})?(?:(?:a|an|the){_GAP})?(?:[\w-]+{_GAP}){{0,2}}?{_PERSONA}\b",
        rf"\bpretend{_GAP}(?:to{_GAP}be|you{_GAP}are|that{_GAP}you{_GAP}are)\b",
        rf"\byour{_GAP}(?:new|real|actual|true|updated|only){_GAP}(?:task|instructions?|orders|directives?|persona|programming|system{_GAP}prompt){_GAP}(?:is|are|will{_GAP}be)\b",
        rf"\b(?:new|updated|revised|additional|override|real|actual|hidden|secret|true){_GAP}(?:system{_GAP})?(?:instructions?|directives?|prompt){_TO_EOL}:",
        rf"\b(?:system|developer){_GAP}(?:prompt|message|override|instructions?){_TO_EOL}:",
        rf"\b(?:jailbreak|jailbroken|dan|unrestricted|unfiltered){_GAP}mode\b",
        # Fake delimiters and chat-template tokens
        r"</?[^\S\n]*(?:system|assistant|user|developer|tool_result|tool_call|untrusted[\w-]*|input|memory|instructions?|result)\b[^>\n]{0,80}>",
        r"<\|[\w\s-]{1,30}\|>",
        r"\[/?(?:inst|sys|system)\]|<</?sys>>",
        rf"^{_TO_EOL}#{{1,6}}{_TO_EOL}(?:system|system{_GAP}prompt|new{_GAP}instructions?){_TO_EOL}:?{_TO_EOL}$",
        # "Call send_email with ...", "use the `export_crm` tool to send"
        rf"\b(?:call|use|invoke|run|trigger|execute){_GAP}(?:the{_GAP})?(?:tool{_GAP})?`?[a-z]+_[a-z_]+`?{_GAP}(?:tool{_GAP})?(?:with|to{_GAP}(?:send|email|forward|export)|and{_GAP}send|now)\b",
    ]


@functools.lru_cache(maxsize=64)
def _compiled(agents: tuple[str, ...]) -> re.Pattern[str]:
    # A card name may be written with spaces, hyphens or underscores between its parts.
    names = (
        "|".join(
            _GAP.join(re.escape(part) for part in re.split(r"[\W_]+", fold(n).text) if part)
            for n in sorted(set(agents), key=len, reverse=True)
            if n.strip()
        )
        or "agent"
    )
    explicit = (
        rf"(?:(?:{_SELECTOR}{_GAP})?(?:{names})[\W_]{{0,12}}(?:{_AGENTISH}|models?)\b"
        rf"|{_SELECTOR}{_GAP}(?:(?:{names}){_GAP})?{_AGENTISH}\b)"
    )
    bare = rf"(?:{names}|{_ROLES})\b"
    line_bare = rf"(?:{names}|{_LINE_ROLES})\b"
    joined = "|".join(f"(?:{p})" for p in _patterns(names, explicit, bare, line_bare))
    return re.compile(joined, re.MULTILINE)


def find_directives(text: str, agents: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Spans of `text` that give orders to agents, to the runtime or to the model: whole lines,
    from the line an order begins on to the line it ends on (an order may go on past a line
    break, or be a list: "New task for the writer agent:" then what to do).
    `agents`: the names an output may address (cards, runtime roles)."""
    folded = fold(text)
    spans = []
    for match in _compiled(tuple(agents)).finditer(folded.text):
        start, end = folded.span(match.start(), max(match.end(), match.start() + 1))
        spans.append((text.rfind("\n", 0, start) + 1, _order_end(text, end)))
    return spans


_SENTENCE_END = re.compile(r"[.!?][\"')\]*_]*\s*$")
_LIST_ITEM = re.compile(r"\s*(?:[-*\u2022]|\d{1,2}[.)])\s")


def _order_end(text: str, end: int) -> int:
    """The end of the line where the order that reaches `end` stops, never past a blank line. An
    address or override that ends its line ("Ignore previous instructions.", "Writer agent:")
    has its order on the lines after it: to the paragraph's end. Otherwise the order goes on to
    the next line while its sentence is unfinished or a list follows."""
    line_end = text.find("\n", max(end - 1, 0))
    if line_end == -1:
        return len(text)
    rest_of_line = text[end:line_end]
    whole_paragraph = not re.search(r"\w", rest_of_line)
    while line_end != -1:
        line = text[text.rfind("\n", 0, line_end) + 1 : line_end]
        following_end = text.find("\n", line_end + 1)
        following = text[line_end + 1 : len(text) if following_end == -1 else following_end]
        if not following.strip():
            break
        finished = _SENTENCE_END.search(line) and not _LIST_ITEM.match(following)
        if finished and not whole_paragraph:
            break
        line_end = following_end
    return len(text) if line_end == -1 else line_end
