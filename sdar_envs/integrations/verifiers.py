"""The envs as a verifiers v1 environment (tested with verifiers 0.4, whose wheel holds only ``verifiers.v1``).

verifiers v1 loads an environment by id: ``vf-eval <id>`` imports the module named by the id (dashes become
underscores) and takes from its ``__all__`` one ``Taskset`` subclass (the tasks), optionally one ``Env`` subclass
(how a task becomes an episode) and one ``Harness`` subclass (the default program that calls the model). The id of
this package's environment is ``sdar-verifiers``: the top-level module ``sdar_verifiers`` re-exports the three
classes defined here, because the loader imports the id as a top-level name.

* :class:`SdarTaskset`: the tasks of one env and split (``--env.taskset.env sdar/WebShop-v0 --env.taskset.split
  test``), one ``SdarTask`` per task id, in the env's order.
* :class:`SdarEnv`: one episode = one env episode, the pattern of verifiers' own TextArena env: the env is reset
  to the task, its observation is the user turn, the model's reply is the action, the next observation the next
  user turn, until the env terminates or truncates (its registered step limit). The env's ``info["score"]`` (its
  verifier's score) is recorded as the reward ``score``; ``won``, ``turns`` and ``invalid_actions`` as metrics.
* :class:`SdarChatHarness`: one chat completion per turn, made in-process through the rollout's interception
  endpoint (so the trace records every call), with no tools and no program to install: verifiers' ``null`` and
  ``bash`` harnesses install their chat program with ``uv`` and need the network.

The model is any OpenAI-compatible chat endpoint (``--client.base-url``, e.g. ``vllm serve``): verifiers v1 has no
in-process model, so an evaluation always talks to a server; the agent's runtime defaults to ``subprocess`` (a
local temporary directory; nothing runs in it).

Reply -> action (:func:`reply_action`): Search-QA reads the reply itself (its ``<search>``/``<answer>`` protocol);
WebShop takes the last ``search[...]`` or ``click[...]`` in the reply; ALFWorld the text of the last
``<action>...</action>`` block, else the reply's last non-empty line. Anything else reaches the env as is and is
an invalid action there (the env's own "nothing happens" answer, reward 0).

::

    vf-eval sdar-verifiers --env.taskset.env sdar/SearchQA-v0 --env.taskset.split test -n 10 \\
        -m Qwen/Qwen3-0.6B --client.base-url http://localhost:8000/v1 --no-push
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import verifiers.v1 as vf
from openai import APIConnectionError, APIError, AsyncOpenAI
from pydantic import Field
from verifiers.v1.dialects.chat import message_to_wire
from verifiers.v1.errors import MODEL_TRANSPORT_ERROR_EXIT_CODE

from sdar_envs.integrations import env_name, resolve_env_id

__all__ = [
    "TASKSET_ID",
    "SdarChatHarness",
    "SdarChatHarnessConfig",
    "SdarEnv",
    "SdarEnvConfig",
    "SdarTask",
    "SdarTaskData",
    "SdarTaskset",
    "SdarTasksetConfig",
    "load_environment",
    "reply_action",
]

#: The environment id ``vf-eval`` takes (module ``sdar_verifiers``).
TASKSET_ID = "sdar-verifiers"

#: The system prompt per env (Search-QA's first observation carries its own instructions: Search-R1's prompt).
SYSTEM_PROMPTS: dict[str, str | None] = {
    "webshop": (
        "You are shopping in a web store that you browse only through text. Each message shows the current page "
        "(its strings separated by [SEP]) and the actions possible on it. Reply with exactly one action: "
        "search[keywords] on a page with a search bar, or click[label] for a product id, option or button shown "
        "on the page. Buy the product the instruction describes, with the options it asks for, by clicking Buy Now."
    ),
    "alfworld": (
        "You are in a household that you perceive and change only through text. Each message shows what you "
        "observe and the commands admissible now. Reply with exactly one admissible command, e.g. go to cabinet 1."
    ),
    "searchqa": None,
}

_WEBSHOP_ACTION = re.compile(r"(?:search|click)\[[^\]\n]*\]")
_ACTION_BLOCK = re.compile(r"<action>(.*?)</action>", flags=re.DOTALL)


def reply_action(env: str, reply: str) -> str:
    """The env action a model reply stands for (the rule in the module docstring)."""
    name = env_name(env)
    if name == "searchqa":
        return reply
    blocks = _ACTION_BLOCK.findall(reply)
    if blocks:
        return blocks[-1].strip()
    if name == "webshop":
        found = _WEBSHOP_ACTION.findall(reply)
        return found[-1] if found else reply.strip()
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _message(observation: str, info: Mapping[str, Any]) -> str:
    """The user turn for an observation: the text, then the admissible actions where the env lists them."""
    actions = info.get("admissible_actions") or []
    if not actions:
        return observation
    return f"{observation}\n\nAdmissible actions: {', '.join(actions)}"


class SdarTaskData(vf.TaskData):
    """One task: the verifiers row of a ``sdar_envs`` task (``id`` is ``Task.id``; ``prompt`` stays unset because
    the env opens the conversation with its first observation)."""

    env_id: str
    split: str
    instruction: str
    task_type: str = ""
    data_source: str = ""


class SdarTask(vf.Task[SdarTaskData]):
    """A task of :class:`SdarTaskset`; the reward is recorded by :class:`SdarEnv` from the env's score."""

    @property
    def key(self) -> str:
        """``env_id:split:task_id``: durable across tasksets (the default content hash includes the position)."""
        return f"{self.data.env_id}:{self.data.split}:{self.data.id}"


class SdarTasksetConfig(vf.TasksetConfig):
    """``--env.taskset.*``: which env and split, and the env's ``gymnasium.make`` arguments."""

    env: str = "sdar/SearchQA-v0"
    """An env id (``sdar/SearchQA-v0``, ``sdar/WebShop-v0``, ``sdar/ALFWorld-v0``) or short name."""
    split: str = "test"
    """The task split (Search-QA train/validation/test, WebShop train/test/test_128, ALFWorld
    train/eval_in_distribution/eval_out_of_distribution)."""
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further ``gymnasium.make`` arguments, e.g. ``{"transport": "inproc"}`` or real-data paths."""


class SdarTaskset(vf.Taskset[SdarTask, SdarTasksetConfig]):
    """The tasks of one ``sdar/*`` env split, in the env's ``task_ids()`` order."""

    def load(self) -> Iterator[SdarTask]:
        import gymnasium as gym

        import sdar_envs  # noqa: F401  (registers the ids)

        env_id = resolve_env_id(self.config.env)
        env = gym.make(env_id, split=self.config.split, **self.config.env_kwargs)
        try:
            unwrapped = env.unwrapped
            tasks = [unwrapped.get_task(task_id) for task_id in unwrapped.task_ids()]
        finally:
            env.close()
        system_prompt = SYSTEM_PROMPTS[env_name(env_id)]
        for task in tasks:
            yield SdarTask(
                SdarTaskData(
                    id=task.id,
                    name=task.id,
                    description=task.instruction,
                    system_prompt=system_prompt,
                    env_id=env_id,
                    split=self.config.split,
                    instruction=task.instruction,
                    task_type=task.task_type,
                    data_source=task.data_source,
                ),
                self.config.task,
            )


class SdarEnvConfig(vf.EnvConfig):
    """``--env.*``: the one seat, ``agent``, defaulting to the local ``subprocess`` runtime (the harness runs
    in-process; verifiers' default runtime is a remote Prime sandbox)."""

    agent: vf.AgentConfig = vf.AgentConfig(runtime=vf.SubprocessConfig())
    """The policy under evaluation (``--env.agent.*``)."""


class SdarEnv(vf.Env[SdarEnvConfig]):
    """Plays each task as one env episode, observation in, reply out (see the module docstring)."""

    def __init__(self, config: SdarEnvConfig) -> None:
        super().__init__(config)
        # Envs are reused across episodes (making one loads its data); episodes in flight each hold their own.
        self._free: list[Any] = []

    def _acquire(self, data: SdarTaskData) -> Any:
        import gymnasium as gym

        import sdar_envs  # noqa: F401  (registers the ids)

        if self._free:
            return self._free.pop()
        return gym.make(data.env_id, split=data.split, **self.taskset.config.env_kwargs)

    async def run(self, task: SdarTask, agents: vf.Agents) -> None:
        # Env calls run on the event loop: a step takes milliseconds, and envs share in-process state (the WebShop
        # shop, the Search-QA index) that is not made for threads.
        env = self._acquire(task.data)
        try:
            observation, info = env.reset(options={"task_id": task.data.id})
            turns = invalid = 0
            async with agents.agent.interaction(task) as interaction:
                segment = await interaction.turn(_message(observation, info))
                while not segment.terminated:
                    observation, _, terminated, truncated, info = env.step(
                        reply_action(task.data.env_id, segment.last_reply)
                    )
                    turns += 1
                    invalid += not info["action_valid"]
                    if terminated or truncated:
                        break
                    segment = await interaction.turn(_message(observation, info))
                # Recorded before the interaction closes, so the rollout's own summary already shows them.
                interaction.trace.record_reward("score", info["score"], 1.0)
                interaction.trace.record_metrics(
                    {"won": float(info["won"]), "turns": turns, "invalid_actions": invalid}
                )
        finally:
            self._free.append(env)

    async def stop(self) -> None:
        while self._free:
            self._free.pop().close()


class SdarChatHarnessConfig(vf.HarnessConfig):
    """``--env.agent.harness.*`` (no knobs of its own)."""


class SdarChatHarness(vf.Harness[SdarChatHarnessConfig]):
    """One chat completion per turn, in-process, through the rollout's interception endpoint; no tools."""

    APPENDS_SYSTEM_PROMPT = True
    SUPPORTS_RESUME = True
    EXECUTES_CODE = False
    NEEDS_CONTAINER = False

    async def launch(
        self,
        ctx: vf.ModelContext,
        trace: vf.Trace,
        runtime: vf.Runtime,
        endpoint: str,
        secret: str,
        mcp_urls: dict[str, str],
        data: vf.TaskData,
        tool_interception_url: str | None = None,
    ) -> vf.ProgramResult:
        system_prompt, prompt = self.resolve_prompt(data)
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        if isinstance(prompt, str):
            messages.append({"role": "user", "content": prompt})
        elif prompt:
            messages.extend(message_to_wire(message) for message in prompt)
        client = AsyncOpenAI(base_url=endpoint, api_key=secret, max_retries=0)
        try:
            completion = await client.chat.completions.create(model=ctx.model, messages=messages)
        except APIConnectionError as error:
            return vf.ProgramResult(MODEL_TRANSPORT_ERROR_EXIT_CODE, "", f"model endpoint unreachable: {error}")
        except APIError as error:
            return vf.ProgramResult(1, "", f"model call failed: {error}")
        finally:
            await client.close()
        return vf.ProgramResult(0, completion.choices[0].message.content or "", "")


def load_environment(
    env: str = "sdar/SearchQA-v0", split: str = "test", *, env_kwargs: Mapping[str, Any] | None = None
) -> SdarEnv:
    """The verifiers ``Env`` for one env split, built the way ``vf-eval sdar-verifiers`` builds it.

    Args:
        env: env id or short name.
        split: the task split.
        env_kwargs: further ``gymnasium.make`` arguments.
    """
    taskset = {"id": TASKSET_ID, "env": resolve_env_id(env), "split": split, "env_kwargs": dict(env_kwargs or {})}
    return vf.load_environment(vf.resolve_env_config({"taskset": taskset}))
