"""Expert demonstrations in the trainer's own prompt and reply format: data for supervised warm starts.

Every turn of an expert episode becomes one record whose prompt is EXACTLY what :func:`sdar_agent.rollout
.collect_rollouts` renders for that turn (same template, history window and admissible actions, built by
:func:`sdar_agent.prompts.build_messages` from the same observation and history) and whose target is a reply in the
trainer's format: a short ``<think>`` that says why, derived from what the expert knows (the object it will take,
the option the goal asks for, whether the passages it found hold the answer), then the action
(``<action>a</action>``, or Search-QA's ``<search>q</search>`` / ``<answer>a</answer>``). The env is stepped with
the projection of that reply (:func:`sdar_agent.prompts.project_action`), exactly as a rollout steps it, so
replaying the replies reproduces the expert's return. Episodes the expert does not win are dropped and counted.

::

    from sdar_agent.demos import expert_demos, write_demos

    demos = expert_demos("sdar/SearchQA-v0", split="train", episodes=100, seed=0)
    print(demos.episodes, demos.dropped, len(demos.turns))
    write_demos(demos, "sqa_train.jsonl")     # one JSON object per turn; .parquet writes parquet

A record (:class:`DemoTurn`, one per turn) holds the ``messages`` of the prompt, the target ``reply``, the ``action``
the env received, the ``observation`` the turn was prompted with, the step ``reward``, and the episode's ``won``,
``score`` and training ``episode_return`` (:func:`sdar_agent.env_profiles.episode_return`). ``chat`` gives the whole
exchange as chat messages (prompt plus the assistant reply), the layout TRL's ``SFTTrainer`` reads.
Deterministic: the same env data, split, episodes and seed give the same records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sdar_agent.env_profiles import EnvProfile, episode_return, profile_for
from sdar_agent.prompts import build_messages, history_entry, project_action

__all__ = [
    "CONTEXT_ANSWER_REASON",
    "DemoSet",
    "DemoTurn",
    "context_replies",
    "expert_demos",
    "expert_reply",
    "read_demos",
    "write_demos",
]


@dataclass(frozen=True)
class DemoTurn:
    """One turn of an expert episode, in the trainer's prompt/reply format.

    Attributes:
        env, split: the env name (``Task.env``) and split the episode was played on.
        task_id, task_type, data_source, instruction: the episode's task.
        episode: the episode's position in its :class:`DemoSet` (0-based, over kept episodes).
        task_index: the task's index in the split (``reset(options={"index": ...})``).
        turn: 0-based turn number within the episode.
        messages: the prompt's chat messages (one user message, as the trainer sends).
        reply: the target reply (``<think>why</think>`` then the action block).
        action: what the env received (the reply's projection).
        observation: the observation this turn was prompted with.
        reward: the env's reward for this step.
        won, score: the episode's outcome (``info["won"]``, ``info["score"]`` at its end).
        episode_return: the episode's training return (win reward or summed env reward, minus format penalties).
    """

    env: str
    split: str
    task_id: str
    task_type: str
    data_source: str
    instruction: str
    episode: int
    task_index: int
    turn: int
    messages: list[dict[str, str]]
    reply: str
    action: str
    observation: str
    reward: float
    won: bool
    score: float
    episode_return: float

    @property
    def chat(self) -> list[dict[str, str]]:
        """The prompt messages followed by the assistant's reply."""
        return [*self.messages, {"role": "assistant", "content": self.reply}]

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the fields, plus ``chat``)."""
        record = asdict(self)
        record["chat"] = self.chat
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DemoTurn:
        """Inverse of :meth:`to_record` (extra keys such as ``chat`` or ``prompt_text`` are ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in record.items() if k in names})


@dataclass
class DemoSet:
    """The turns of the kept (won) expert episodes, and how many episodes were played and dropped."""

    turns: list[DemoTurn] = field(default_factory=list)
    episodes: int = 0
    dropped: int = 0
    dropped_task_ids: list[str] = field(default_factory=list)


# ---- replies ---------------------------------------------------------------------------------------------------

_ALFWORLD_TAKE = re.compile(r"^take (.+?) from (.+)$")
_ALFWORLD_PLACE = re.compile(r"^(?:move (.+?) to (.+)|put (.+?) (?:in|on|in/on) (.+))$")
_ALFWORLD_TOOL = re.compile(r"^(heat|cool|clean) (.+?) with (.+)$")
_ALFWORLD_DONE = {"heat": "hot", "cool": "cold", "clean": "clean"}


def _object_name(entity: str) -> str:
    """``"apple 4"`` -> ``"apple"``."""
    return re.sub(r"\s+\d+$", "", entity.strip())


def _a(noun: str) -> str:
    """``"an apple"``, ``"a mug"``."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def _alfworld_reason(action: str, future: Sequence[str], holding: str | None) -> str:
    """Why the expert takes ``action``; ``future`` are its later actions, ``holding`` what it carries."""
    taken = next((m.group(1) for a in future if (m := _ALFWORLD_TAKE.match(a))), None)
    if action.startswith("go to "):
        place = action[len("go to ") :]
        if holding:
            return f"I carry the {holding} to the {place}."
        if taken:
            return f"I need {_a(_object_name(taken))}; I check the {place}."
        return f"I go to the {place}."
    if action.startswith("open "):
        return f"The {action[len('open ') :]} is closed; I open it to see inside."
    if match := _ALFWORLD_TAKE.match(action):
        return f"The {match.group(1)} is here and the task needs it; I take it."
    if match := _ALFWORLD_TOOL.match(action):
        verb, obj, tool = match.groups()
        return f"The task needs the {obj} {_ALFWORLD_DONE[verb]}; I use the {tool}."
    if match := _ALFWORLD_PLACE.match(action):
        obj = match.group(1) or match.group(3)
        place = match.group(2) or match.group(4)
        return f"I put the {obj} in the {place}, as the task asks."
    if action.startswith("use "):
        return f"I turn on the {action[len('use ') :]} to look at what I hold under its light."
    return "This is the next step of the task."


def _webshop_reason(action: str, observation: str) -> str:
    match = re.fullmatch(r"(search|click)\[(.*)\]", action, flags=re.DOTALL)
    kind, arg = (match.group(1), match.group(2)) if match else ("", action)
    if kind == "search":
        return "I search for the product the instruction describes."
    if arg == "buy now":
        return "The item and its options match the instruction; I buy it."
    if arg == "next >":
        return "No result on this page matches the instruction; I look at the next page."
    if arg in ("back to search", "< prev"):
        return "This is not the product I need; I go back."
    if re.fullmatch(r"[a-z0-9]{10}", arg) and arg.upper() in observation.upper():
        return "This result matches what the instruction asks for."
    return f"The instruction asks for {arg}; I select it."


def _searchqa_reason(tag: str, body: str, turn: int) -> str:
    if tag == "search":
        return "I search for what the question asks." if turn == 0 else "I still need one more fact; I search for it."
    return "The retrieved passages give the answer."


#: The reasoning of a Search-QA answer given from the teacher's privileged passages instead of a retrieval.
CONTEXT_ANSWER_REASON = "The passages I was given answer the question."


def context_replies(turns: Sequence[DemoTurn]) -> dict[tuple[str, int, int], str]:
    """The target reply of each demonstration turn when the task's informative privileged context is in front.

    Keyed by ``(split, episode, turn)``. With the gold passages in its prompt, a Search-QA agent knows the answer at
    once: every turn of an episode that ended in an answer gets that answer, said to come from the passages it was
    given (:data:`CONTEXT_ANSWER_REASON`), so a context-reading warm start answers from the context instead of
    repeating a search whose results only restate it. Other envs keep the expert's reply: their context (object
    locations and plan, target product) guides the same actions the expert takes.
    """
    episodes: dict[tuple[str, int], list[DemoTurn]] = {}
    for turn in turns:
        episodes.setdefault((turn.split, turn.episode), []).append(turn)
    out: dict[tuple[str, int, int], str] = {}
    for (split, episode), group in episodes.items():
        group = sorted(group, key=lambda t: t.turn)
        answer = None
        if profile_for(group[-1].env).response_format == "search":
            match = re.fullmatch(r"\s*<answer>\s*(.*?)\s*</answer>\s*", group[-1].action, flags=re.DOTALL)
            answer = match.group(1) if match else None
        for turn in group:
            reply = turn.reply
            if answer is not None:
                reply = f"<think>{CONTEXT_ANSWER_REASON}</think><answer>{answer}</answer>"
            out[(split, episode, turn.turn)] = reply
    return out


def expert_reply(profile: EnvProfile, action: str, observation: str, future: Sequence[str] = (), **state: Any) -> str:
    """The target reply for the expert's ``action`` in the trainer's format for ``profile``.

    Args:
        profile: the env's profile (its ``response_format`` decides the action block).
        action: the expert's action text (``info["expert_action"]``).
        observation: the observation the action answers (WebShop reasons read the product ids shown).
        future: the expert's later actions in the episode (ALFWorld reasons name the object it will take).
        state: ``holding`` (ALFWorld: the object carried, or None) and ``turn`` (Search-QA: 0-based turn).
    """
    if profile.response_format == "search":
        match = re.fullmatch(r"\s*<(search|answer)>\s*(.*?)\s*</\1>\s*", action, flags=re.DOTALL)
        if match is None:
            raise ValueError(f"expert action {action!r} is neither <search> nor <answer>")
        tag, body = match.groups()
        return f"<think>{_searchqa_reason(tag, body, int(state.get('turn', 0)))}</think><{tag}>{body}</{tag}>"
    if profile.name == "alfworld":
        why = _alfworld_reason(action, future, state.get("holding"))
    elif profile.name == "webshop":
        why = _webshop_reason(action, observation)
    else:
        why = "This action moves the task forward."
    return f"<think>{why}</think><action>{action}</action>"


# ---- episodes --------------------------------------------------------------------------------------------------


def _play_expert(env: Any, index: int, seed: int) -> tuple[list[tuple[str, dict, str, float]], dict]:
    """Play the expert on task ``index``: ``[(observation, info, action, reward)]`` per turn and the final info."""
    obs, info = env.reset(seed=seed, options={"index": index})
    profile = profile_for(info["task"].env)
    steps = []
    while True:
        expert = str(info.get("expert_action") or "")
        # The projection of a reply does not depend on its <think> text, so the env receives the same action as a
        # rollout would for the final reply (asserted when the replies are built).
        action = project_action(profile, expert_reply(profile, expert, obs, turn=len(steps))).action
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        steps.append((obs, info, expert, float(reward)))
        obs, info = next_obs, next_info
        if terminated or truncated:
            return steps, info


def _episode_turns(
    steps: list[tuple[str, dict, str, float]], final: dict, *, split: str, episode: int, index: int
) -> list[DemoTurn]:
    task = final["task"]
    profile = profile_for(task.env)
    replies: list[str] = []
    holding: str | None = None
    for turn, (obs, _, action, _) in enumerate(steps):
        future = [a for _, _, a, _ in steps[turn + 1 :]]
        replies.append(expert_reply(profile, action, obs, future, holding=holding, turn=turn))
        if match := _ALFWORLD_TAKE.match(action):
            holding = match.group(1)
        elif _ALFWORLD_PLACE.match(action):
            holding = None
    projections = [project_action(profile, reply) for reply in replies]
    invalid = sum(not p.valid for p in projections)
    return_ = episode_return(
        profile, won=bool(final["won"]), env_reward=sum(r for *_, r in steps), invalid_turns=invalid
    )
    turns: list[DemoTurn] = []
    history: list[tuple[str, str]] = []
    for turn, ((obs, info, _, reward), reply, projection) in enumerate(zip(steps, replies, projections, strict=True)):
        messages = build_messages(profile, task.instruction, obs, info["admissible_actions"], history, step=turn)
        turns.append(
            DemoTurn(
                env=task.env,
                split=split,
                task_id=task.id,
                task_type=task.task_type,
                data_source=task.data_source,
                instruction=task.instruction,
                episode=episode,
                task_index=index,
                turn=turn,
                messages=messages,
                reply=reply,
                action=projection.action,
                observation=obs,
                reward=reward,
                won=bool(final["won"]),
                score=float(final["score"]),
                episode_return=return_,
            )
        )
        history.append(history_entry(obs, projection, reply))
    return turns


def expert_demos(
    env_id: str,
    split: str = "train",
    *,
    episodes: int | None = None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    indices: Sequence[int] | None = None,
    progress: bool = False,
) -> DemoSet:
    """Play the env's expert on tasks of ``split`` and keep the turns of the episodes it wins.

    Args:
        env_id: a Gymnasium id (``"sdar/WebShop-v0"``...) or a short name (``"webshop"``).
        split: the task split.
        episodes: play the first N tasks of the split (default: every task); ignored when ``indices`` is given.
        seed: task ``i`` is reset with seed ``seed + i``.
        env_kwargs: extra ``gymnasium.make`` arguments (e.g. ``{"transport": "inproc"}``).
        indices: the task indices to play, in this order.
        progress: show a progress bar.

    Raises:
        ValueError: the env has no expert (``info["expert_action"]`` missing).
    """
    import gymnasium as gym

    import sdar_envs  # noqa: F401  (registers sdar/*)
    from sdar_agent.config import resolve_env_id

    env = gym.make(resolve_env_id(env_id), split=split, **(env_kwargs or {}))
    demos = DemoSet()
    try:
        total = len(env.get_wrapper_attr("task_ids")())
        chosen = (
            list(indices) if indices is not None else list(range(total if episodes is None else min(episodes, total)))
        )
        iterator: Iterable[int] = chosen
        if progress:
            from tqdm import tqdm

            iterator = tqdm(chosen, desc=f"expert demos {env_id}:{split}", unit="episode")
        for index in iterator:
            steps, final = _play_expert(env, index, seed + index)
            if not steps or "expert_action" not in steps[0][1]:
                raise ValueError(f"{env_id} gives no info['expert_action']: it has no expert to record")
            demos.episodes += 1
            if not final["won"]:
                demos.dropped += 1
                demos.dropped_task_ids.append(final["task"].id)
                continue
            kept = demos.episodes - demos.dropped - 1
            demos.turns.extend(_episode_turns(steps, final, split=split, episode=kept, index=index))
    finally:
        env.close()
    return demos


# ---- files -----------------------------------------------------------------------------------------------------


def write_demos(demos: DemoSet | Sequence[DemoTurn], path: str | Path, *, tokenizer: Any = None) -> Path:
    """Write the turns to ``path``: JSON lines, or parquet when the name ends in ``.parquet``.

    With ``tokenizer`` (anything with ``apply_chat_template``), each record also gets ``prompt_text``: the
    chat-templated prompt with the assistant header, exactly what the trainer encodes for that turn.
    """
    turns = demos.turns if isinstance(demos, DemoSet) else list(demos)
    records = []
    for turn in turns:
        record = turn.to_record()
        if tokenizer is not None:
            record["prompt_text"] = tokenizer.apply_chat_template(
                turn.messages, tokenize=False, add_generation_prompt=True
            )
        records.append(record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_demos(path: str | Path) -> list[DemoTurn]:
    """The turns of a file written by :func:`write_demos` (jsonl or parquet)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no demonstrations at {path}; write them with `sdar-data demos --out {path}`")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
    else:
        records = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{path}:{number}: not a JSON line ({error.msg})") from error
    required = list(DemoTurn.__dataclass_fields__)
    turns = []
    for number, record in enumerate(records, start=1):
        missing = [name for name in required if name not in record]
        if missing:
            raise ValueError(f"{path}: record {number} lacks {', '.join(missing)}; write demos with `sdar-data demos`")
        turns.append(DemoTurn.from_record(record))
    return turns
