"""The teacher's privileged prefix: skills rendered as text.

The released SDAR code prepends the raw string ``"[Privileged Skill Information]\\n{skill_text}\\n\\n"`` to the
student's chat-templated prompt to form the teacher's input. :func:`render` produces exactly that form
(:func:`render_body` the body alone, :func:`privileged_prefix` the form around any body), with this body per skill
(skills separated by a blank line)::

    ## Skill 1: <title>
    Principle: <principle>
    When to apply: <when_to_apply>
    Example (task: <example task>)
    > <action>
    <observation>
    > <action>
    <observation>
"""

from __future__ import annotations

from collections.abc import Sequence

from skillbank.skill import Skill

__all__ = ["PREFIX_HEADER", "privileged_prefix", "render", "render_body", "render_skill"]

#: The line that opens the privileged context (the released ``build_teacher_batch``'s header).
PREFIX_HEADER = "[Privileged Skill Information]\n"


def render_skill(skill: Skill, number: int) -> str:
    """One skill block (no trailing newline)."""
    lines = [
        f"## Skill {number}: {skill.title}",
        f"Principle: {skill.principle}",
        f"When to apply: {skill.when_to_apply}",
        f"Example (task: {skill.example.task})",
    ]
    for step in skill.example.steps:
        lines.append(f"> {step.action}")
        lines.append(step.observation)
    return "\n".join(lines)


def render_body(skills: Sequence[Skill]) -> str:
    """The skill blocks numbered from 1 in the given order, separated by a blank line (``""`` for no skills)."""
    return "\n\n".join(render_skill(skill, i) for i, skill in enumerate(skills, start=1))


def privileged_prefix(body: str) -> str:
    """``PREFIX_HEADER + body + "\\n\\n"``, or ``""`` when ``body`` is empty (no privileged context at all)."""
    return PREFIX_HEADER + body + "\n\n" if body else ""


def render(skills: Sequence[Skill]) -> str:
    """``"[Privileged Skill Information]\\n" + body + "\\n\\n"`` for the given skills, in the given order.

    An empty sequence renders as ``""``: without skills there is no privileged context, and the teacher's input
    equals the student's.
    """
    return privileged_prefix(render_body(skills))
