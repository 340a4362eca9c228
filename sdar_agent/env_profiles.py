"""Per-env settings of the agent side: prompt wording, history length, reply format, return shaping, KL default.

One :class:`EnvProfile` per ``Task.env`` (:data:`PROFILES`): what :mod:`sdar_agent.prompts` renders and parses, the
training return of an episode (:func:`episode_return`: ``10 x won`` for ALFWorld and WebShop, exact match for
Search-QA, the sum of env rewards for other envs, minus the invalid-format penalty per invalid turn: 0.1, 0.01 for
Search-QA), the evaluation temperature and the default coefficient of the KL to the reference (0.01, 0.001 for
Search-QA). The values are the released SDAR code's settings: its ``examples/sdar_trainer/*.sh`` scripts (KL
coefficient, history length, penalty) and verl-agent's env packages (returns, e.g. ``env_package/alfworld/envs.py``).
Envs without a profile get :data:`GENERIC` settings (``<action>`` format, K = 2, penalty 0.1, return = sum of env
rewards); :func:`register_profile` adds new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["GENERIC", "PROFILES", "RETURN_KINDS", "EnvProfile", "episode_return", "profile_for", "register_profile"]


@dataclass(frozen=True)
class EnvProfile:
    """Env-specific prompt and reward settings.

    Attributes:
        name: ``Task.env`` value this profile serves (``"alfworld"``, ``"webshop"``, ``"searchqa"``...).
        intro: first sentence of every prompt (who the agent is, where it acts).
        history_length: how many past (observation, action) pairs later turns show.
        response_format: ``"action"`` (``<think>`` then ``<action>``) or ``"search"`` (``<search>``/``<answer>``).
        invalid_penalty: subtracted from the return once per invalid turn.
        win_reward: return for a won episode (return = ``win_reward * won``); ``None`` sums the env's rewards.
        lowercase_action: lower-case the projected action (ALFWorld and WebShop commands are lower-case).
        reject_cjk: a reply with CJK characters is invalid (the verl-agent ALFWorld/WebShop rule).
        eval_temperature: sampling temperature for evaluation (0 = greedy).
        kl_coef: default coefficient of the k3 KL to the reference policy.
        example_action: shown in the format instruction.
    """

    name: str
    intro: str
    history_length: int = 2
    response_format: str = "action"
    invalid_penalty: float = 0.1
    win_reward: float | None = None
    lowercase_action: bool = False
    reject_cjk: bool = False
    eval_temperature: float = 0.4
    kl_coef: float = 0.01
    example_action: str = "..."


PROFILES: dict[str, EnvProfile] = {
    "alfworld": EnvProfile(
        name="alfworld",
        intro="You are an expert agent acting in a household that you perceive and change only through text.",
        history_length=2,
        win_reward=10.0,
        lowercase_action=True,
        reject_cjk=True,
        example_action="go to cabinet 1",
    ),
    "webshop": EnvProfile(
        name="webshop",
        intro="You are an expert shopping agent on a web store that you browse only through text.",
        history_length=2,
        win_reward=10.0,
        lowercase_action=True,
        reject_cjk=True,
        example_action="search[red cotton t-shirt]",
    ),
    "searchqa": EnvProfile(
        name="searchqa",
        intro="You are an expert agent who answers questions, using a search engine when you need facts.",
        history_length=4,
        response_format="search",
        invalid_penalty=0.01,
        win_reward=None,
        eval_temperature=0.0,
        kl_coef=0.001,
    ),
}

#: Settings for an env this module has no profile for (the name is filled in by :func:`profile_for`).
GENERIC = EnvProfile(name="", intro="You are an expert agent acting in an environment through text.")


def register_profile(profile: EnvProfile) -> None:
    """Add or replace the profile of ``profile.name`` (for new envs)."""
    PROFILES[profile.name] = profile


def profile_for(env_name: str) -> EnvProfile:
    """The profile of ``env_name``; :data:`GENERIC` settings for unknown names."""
    return PROFILES.get(env_name) or replace(GENERIC, name=env_name)


#: What an episode's return is made of (``kind`` of :func:`episode_return`).
RETURN_KINDS: tuple[str, ...] = ("won", "score", "reward")


def episode_return(
    profile: EnvProfile,
    *,
    won: bool,
    env_reward: float,
    invalid_turns: int,
    score: float | None = None,
    kind: str | None = None,
) -> float:
    """Training return minus ``invalid_penalty`` per invalid turn.

    ``kind`` (default: ``"won"`` where the profile has a ``win_reward``, else ``"reward"``):
    ``"won"`` = ``win_reward * won`` (the paper's 10 x won for ALFWorld and WebShop); ``"score"`` =
    ``win_reward * score`` (``win_reward`` 1 when unset), the env's task score in [0, 1], so a WebShop purchase that
    matches part of the goal pays part of the return (a dense signal long before full success); ``"reward"`` = the
    summed env reward.
    """
    kind = kind or ("won" if profile.win_reward is not None else "reward")
    scale = profile.win_reward if profile.win_reward is not None else 1.0
    if kind == "won":
        base = scale * float(won)
    elif kind == "score":
        if score is None:
            raise ValueError("kind='score' needs the episode's score")
        base = scale * float(score)
    elif kind == "reward":
        base = float(env_reward)
    else:
        raise ValueError(f"return kind must be one of {', '.join(RETURN_KINDS)}, got {kind!r}")
    return base - profile.invalid_penalty * invalid_turns
