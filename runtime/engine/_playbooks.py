"""Playbooks: plan templates for known workflows, matched to a goal before the planner is asked.

A playbook is a YAML file: how people ask for the work (`goals`, templates with `{slot}`
placeholders), an example value per slot, and the tasks, whose instructions use the same slots.
Matching a goal, best first:

1. **filled**, by template: the goal reads as one of the templates with its slots filled in
   (case, spacing and end punctuation aside). The slots take the goal's words; no planner call.
2. **filled**, by meaning: the goal's embedding is close to a template's (filled with the
   example values; `planner.playbook_fill_similarity`), and the two differ only in names and
   small words: the plan-cache machinery (`substitute_plan`) puts the goal's names into the
   example plan. No planner call.
3. **adapted**: similar enough (`planner.playbook_adapt_similarity`) but worded otherwise: the
   planner gets the playbook's plan as a template to adapt, as with a cached plan.
4. no match: the planner plans from scratch (or from the plan cache).

Built-in playbooks ship in `podium/runtime/engine/playbooks/`; a team's own go in the folder named by
`[planner] playbooks_dir` and replace a built-in of the same name. A broken file of the team's
is reported (file and line) and skipped; the others still load.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podium.tools import ToolContext, dataset_choices

from .._errors import ConfigError, PlanValidationError
from ._plan import Plan, Task, validate_plan
from ._result import PlaybookUse

BUILTIN_DIR = Path(__file__).parent / "playbooks"
_SLOT_NAME = r"^[a-z][a-z0-9_]{0,31}$"
# A slot's value from a goal: a name, a role, a company; never half the goal.
_MAX_SLOT_WORDS = 8
_MAX_SLOT_CHARS = 120


class Playbook(BaseModel):
    """One workflow's plan template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    workflow: Literal["sales", "recruiting", "research", "support", "compliance", "other"] = "other"
    description: str = ""
    goals: tuple[str, ...] = Field(min_length=1)
    """How people ask for this work: templates with `{slot}` placeholders."""
    slots: dict[str, str] = {}
    """Slot name -> an example value (fills the templates for matching by meaning)."""
    tasks: tuple[Task, ...] = Field(min_length=1)
    """The plan's tasks; instructions may use `{slot}` placeholders."""
    source: str = ""
    """The file it was loaded from (set by the loader)."""

    def example_goals(self) -> list[str]:
        return [template.format_map(self.slots) for template in self.goals]

    def plan(self, values: dict[str, str]) -> Plan:
        """The plan with every slot filled from `values`."""
        return Plan.model_validate(self.plan_data(values))

    def plan_data(self, values: dict[str, str]) -> dict[str, Any]:
        """The plan as data, every slot filled from `values`, not yet validated."""
        return {
            "tasks": [
                {
                    **t.model_dump(mode="json", exclude_none=True),
                    "instruction": t.instruction.format_map(values),
                }
                for t in self.tasks
            ],
            "rationale": f"playbook {self.name}",
        }


@dataclass(frozen=True)
class PlaybookMatch:
    playbook: Playbook
    use: PlaybookUse
    plan: Plan
    """For `filled`, the plan to run; for `adapted`, the template given to the planner."""


@dataclass
class Playbooks:
    """The playbooks a Podium loaded, and the problems of the files it skipped."""

    playbooks: list[Playbook] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _example_vectors: list[list[float]] = field(default_factory=list, repr=False)
    _examples_embedded_by: Callable[[list[str]], list[list[float]]] | None = field(
        default=None, repr=False
    )

    def get(self, name: str) -> Playbook:
        for p in self.playbooks:
            if p.name == name:
                return p
        raise KeyError(name)

    def match(
        self,
        goal: str,
        *,
        embed: Callable[[list[str]], list[list[float]]] | None,
        agents: Iterable[str],
        max_tasks: int,
        fill_similarity: float,
        adapt_similarity: float,
        known_values: Callable[[str], Sequence[str]] | None = None,
    ) -> PlaybookMatch | None:
        """The best playbook for `goal` (see the module docstring), or None.

        `known_values(example)`: the values of the data column an example slot value belongs to
        (all lead names for "Maya Chen"). Given, a goal close in meaning but worded otherwise
        is filled from the values it names, one per slot, instead of handed to the planner."""
        for playbook in self.playbooks:
            for template in playbook.goals:
                values = _read_template(template, goal)
                if values is not None:
                    use = PlaybookUse(
                        name=playbook.name,
                        mode="filled",
                        reason=f"the goal reads as its template {template!r}",
                        slots=values,
                        source=playbook.source,
                    )
                    return PlaybookMatch(playbook, use, playbook.plan(values))
        if embed is None or not self.playbooks:
            return None
        if known_values is not None:
            by_data = self._by_data(
                goal, embed, list(agents), max_tasks, adapt_similarity, known_values
            )
            if by_data is not None:
                return by_data
        return self._by_meaning(
            goal, embed, list(agents), max_tasks, fill_similarity, adapt_similarity
        )

    def _by_data(
        self,
        goal: str,
        embed: Callable[[list[str]], list[list[float]]],
        agents: list[str],
        max_tasks: int,
        similarity_needed: float,
        known_values: Callable[[str], Sequence[str]],
    ) -> PlaybookMatch | None:
        """A playbook whose slots the goal names in the data (one lead, one company), whose
        templates, filled with those names, read like the goal: filled with them."""
        candidates = [
            (p, values, t)
            for p in self.playbooks
            if p.slots and (values := _slots_from_data(p, goal, known_values)) is not None
            for t in p.goals
        ]
        if not candidates:
            return None
        filled = [t.format_map(values) for _, values, t in candidates]
        masked = [_masked(goal, values) for _, values, _ in candidates]
        vectors = embed([goal, *filled, *masked, *(t for _, _, t in candidates)])
        query, rest = vectors[0], vectors[1:]
        n = len(candidates)

        def cosine(a: list[float], b: list[float]) -> float:
            return sum(x * y for x, y in zip(a, b, strict=True))

        scores = [cosine(query, rest[i]) for i in range(n)]
        best = max(range(n), key=scores.__getitem__)
        playbook, values, _ = candidates[best]
        example = filled[best]
        similarity = round(max(0.0, min(1.0, scores[best])), 4)
        # The same names in goal and template lift their similarity ("Send Maya Chen at
        # Brightforge Analytics a thank-you note" reads 0.77 like the sales template): the
        # request must also read alike with the names masked ({lead}, {company}). Measured on
        # the bench's goals: paraphrases 0.69-1.0 masked, other requests naming a lead 0.25-0.55.
        masked_similarity = cosine(rest[n + best], rest[2 * n + best])
        plan = _valid_plan(playbook, values, agents, max_tasks)
        if similarity < similarity_needed or masked_similarity < MIN_MASKED_SIMILARITY or not plan:
            return None
        named = ", ".join(f"{k}={v!r}" for k, v in values.items())
        use = PlaybookUse(
            name=playbook.name,
            mode="filled",
            reason=f"the goal names {named}, found in the data, and reads like {example!r} "
            f"(similarity {similarity})",
            slots=values,
            similarity=similarity,
            source=playbook.source,
        )
        return PlaybookMatch(playbook, use, plan)

    def _by_meaning(
        self,
        goal: str,
        embed: Callable[[list[str]], list[list[float]]],
        agents: list[str],
        max_tasks: int,
        fill_similarity: float,
        adapt_similarity: float,
    ) -> PlaybookMatch | None:
        from ._plan_cache import substitute_plan

        examples = [(p, e) for p in self.playbooks for e in p.example_goals()]
        if self._examples_embedded_by != embed:  # the example goals are embedded once
            self._example_vectors = embed([e for _, e in examples])
            self._examples_embedded_by = embed
        (query,) = embed([goal])
        scores = [sum(a * b for a, b in zip(query, v, strict=True)) for v in self._example_vectors]
        best = max(range(len(examples)), key=scores.__getitem__)
        playbook, example = examples[best]
        similarity = round(max(0.0, min(1.0, scores[best])), 4)
        if similarity < adapt_similarity:
            return None
        template = playbook.plan(playbook.slots)
        filled = (
            substitute_plan(example, goal, template, agents, max_tasks)
            if similarity >= fill_similarity
            else None
        )
        reason = (
            f"the goal is close to {example!r} (similarity {similarity}); its names were put "
            "into the plan"
            if filled is not None
            else f"the goal is like {example!r} (similarity {similarity}) but worded otherwise: "
            "the planner adapted the playbook's plan"
        )
        use = PlaybookUse(
            name=playbook.name,
            mode="filled" if filled is not None else "adapted",
            reason=reason,
            similarity=similarity,
            source=playbook.source,
        )
        return PlaybookMatch(playbook, use, filled or template)


MIN_MASKED_SIMILARITY = 0.65
"""How alike a goal and a playbook template must read with the slot values masked."""


def _masked(goal: str, values: dict[str, str]) -> str:
    for slot, value in values.items():
        goal = re.sub(re.escape(value), "{" + slot + "}", goal, flags=re.I)
    return goal


def data_columns(tool_context: ToolContext) -> Callable[[str], list[str]] | None:
    """The values of the dataset columns holding a value ("Maya Chen": every lead's name; a job
    title: the openings' titles and the candidates' current ones); None without datasets."""
    try:
        variants = dataset_choices(tool_context)
    except Exception:  # an unreadable dataset: match without the data
        return None

    def columns(example: str) -> list[str]:
        found: dict[str, None] = {}
        for variant in variants:
            for path, values in variant.items():
                if path.startswith("where.") and path != "where.*" and example in values:
                    found.update(dict.fromkeys(str(v) for v in values))
        return list(found)

    return columns


def _slots_from_data(
    playbook: Playbook, goal: str, known_values: Callable[[str], Sequence[str]]
) -> dict[str, str] | None:
    """Each slot's value: the one value of its example's data column the goal names; None when
    a slot's example is in no column, or the goal names none or several of its values."""
    folded = goal.casefold()
    values: dict[str, str] = {}
    for slot, example in playbook.slots.items():
        named = [
            v
            for v in known_values(example)
            if re.search(rf"(?<!\w){re.escape(v.casefold())}(?!\w)", folded)
        ]
        if len(named) != 1:
            return None
        values[slot] = named[0]
    return values


def _valid_plan(
    playbook: Playbook, values: dict[str, str], agents: list[str], max_tasks: int
) -> Plan | None:
    try:
        return validate_plan(playbook.plan_data(values), agents=agents, max_tasks=max_tasks)
    except PlanValidationError:
        return None


def template_message(match: PlaybookMatch) -> dict[str, Any]:
    """The planner's hint for an `adapted` match."""
    example = match.playbook.example_goals()[0]
    return {
        "role": "user",
        "content": (
            f"This team's playbook {match.playbook.name!r} plans goals like: {example}\n"
            f"Its plan: {match.plan.model_dump_json(exclude_none=True)}\nAdapt this plan to the "
            "goal above: keep its shape, change names and details, add or drop tasks only where "
            "the goal asks for other work."
        ),
    }


def load_playbooks(
    user_dir: Path | None, *, agents: Iterable[str], max_tasks: int, builtin: bool = True
) -> Playbooks:
    """Built-in playbooks, then the user's (same name: the user's wins).

    A broken built-in raises (a packaging bug); a broken user file is reported in `problems`
    and skipped. A missing `user_dir` is a ConfigError.
    """
    names = frozenset(agents)
    found: dict[str, Playbook] = {}
    problems: list[str] = []
    if builtin:
        for path in sorted(BUILTIN_DIR.glob("*.yaml")):
            found_one = _load_file(path, names, max_tasks)
            if isinstance(found_one, str):
                raise ConfigError(f"built-in playbook {found_one}")
            found[found_one.name] = found_one.model_copy(update={"source": f"built-in {path.name}"})
    if user_dir is not None:
        if not user_dir.is_dir():
            raise ConfigError(
                f"[planner] playbooks_dir = {str(user_dir)!r} is not a folder: create it or "
                "remove the setting"
            )
        for path in sorted([*user_dir.glob("*.yaml"), *user_dir.glob("*.yml")]):
            loaded = _load_file(path, names, max_tasks)
            if isinstance(loaded, str):
                problems.append(loaded)
            else:
                found[loaded.name] = loaded
    return Playbooks(list(found.values()), problems)


def _load_file(path: Path, agents: frozenset[str], max_tasks: int) -> Playbook | str:
    """The playbook in `path`, or a one-line problem naming the file and line."""
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()
            # Built from the same node tree the line numbers come from: the file is parsed once.
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return f"{path}:{line}: not valid YAML: {exc.problem}"
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"{path}: cannot be read: {exc}"
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        return f"{path}:1: a playbook is a mapping (name, goals, slots, tasks)"
    try:
        playbook = Playbook.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _line_of(root, err["loc"])
        field_path = ".".join(str(p) for p in err["loc"])
        return f"{path}:{where}: {field_path}: {err['msg']}"
    problem = _check(playbook, agents, max_tasks)
    if problem is not None:
        key, message = problem
        return f"{path}:{_line_of(root, key)}: {message}"
    return playbook


def _check(
    playbook: Playbook, agents: frozenset[str], max_tasks: int
) -> tuple[tuple[Any, ...], str] | None:
    """What makes a well-formed playbook unusable: the YAML path of the culprit and why."""
    for name in playbook.slots:
        if not re.match(_SLOT_NAME, name):
            return ("slots", name), f"slot name {name!r} must be lower case letters, digits, _"
    for i, template in enumerate(playbook.goals):
        used = _placeholders(template)
        if used is None:
            return ("goals", i), f"goal template {template!r} has a malformed {{placeholder}}"
        unknown = used - set(playbook.slots)
        if unknown:
            return ("goals", i), f"goal template uses slots {sorted(unknown)} not declared in slots"
    for i, t in enumerate(playbook.tasks):
        if t.agent not in agents:
            return ("tasks", i, "agent"), (
                f"task {t.id!r} names agent {t.agent!r}, which is not registered: "
                f"use one of {sorted(agents)}"
            )
        used = _placeholders(t.instruction)
        if used is None:
            return ("tasks", i, "instruction"), f"task {t.id!r} has a malformed {{placeholder}}"
        for j, template in enumerate(playbook.goals):
            missing = used - (_placeholders(template) or set())
            if missing:
                return ("tasks", i, "instruction"), (
                    f"task {t.id!r} uses slot(s) {sorted(missing)} that the goal template "
                    f"{j + 1} ({template!r}) cannot fill: add them to it, or drop them here"
                )
    try:
        validate_plan(playbook.plan_data(playbook.slots), agents=agents, max_tasks=max_tasks)
    except PlanValidationError as exc:
        mentioned = re.findall(r"(?:task '|tasks )([A-Za-z][\w\-]*)", exc.problems[0])
        culprit = next((i for i, t in enumerate(playbook.tasks) if t.id in mentioned), 0)
        return ("tasks", culprit), "; ".join(exc.problems)
    return None


def _placeholders(text: str) -> set[str] | None:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError:
        return None


def _line_of(root: yaml.Node, loc: Sequence[Any]) -> int:
    """The 1-based line of the node at `loc` (as deep as it exists) in a composed YAML tree."""
    node = root
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1


def _read_template(template: str, goal: str) -> dict[str, str] | None:
    """The slot values if `goal` reads as `template` (case, spacing and end punctuation aside)."""
    pattern = ""
    for literal, slot, _, _ in string.Formatter().parse(template.strip().rstrip(".!?")):
        pattern += r"\s+".join(re.escape(word) for word in literal.split(" ")) if literal else ""
        if slot:
            pattern += rf"(?P<{slot}>.+?)"
    found = re.fullmatch(pattern + r"[\s.!?]*", goal.strip(), re.IGNORECASE | re.DOTALL)
    if found is None:
        return None
    values = {k: " ".join(v.split()) for k, v in found.groupdict().items()}
    if any(
        not v or len(v) > _MAX_SLOT_CHARS or len(v.split()) > _MAX_SLOT_WORDS
        for v in values.values()
    ):
        return None
    return values
