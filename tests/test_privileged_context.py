"""Each env's privileged context (``privileged_context(task_id, quality)``): informative, random and adversarial
texts for Search-QA, WebShop and ALFWorld, determinism, and the live episode left untouched."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest
from context_helpers import context_of as _context
from context_helpers import task_ids_of as _ids
from context_helpers import task_of as _task

import sdar_envs  # noqa: F401  (registers sdar/*)
from sdar_envs.core import CONTEXT_QUALITIES
from sdar_envs.searchqa.answer import normalize_answer
from sdar_envs.webshop.context import buyer_options
from sdar_envs.webshop.oracle import goal_option_values
from sdar_envs.webshop.reward import webshop_reward

_SPLITS = {"searchqa": "test", "webshop": "test", "alfworld": "eval_out_of_distribution"}
_IDS = {"searchqa": "sdar/SearchQA-v0", "webshop": "sdar/WebShop-v0", "alfworld": "sdar/ALFWorld-v0"}
_KWARGS = {"webshop": {"transport": "inproc"}}


def _make(env: str):
    return gym.make(_IDS[env], split=_SPLITS[env], **_KWARGS.get(env, {}))


@pytest.fixture(scope="module")
def envs():
    made = {name: _make(name) for name in _IDS}
    yield made
    for env in made.values():
        env.close()


# ---- Search-QA -------------------------------------------------------------------------------------------------


def _titles(text: str) -> list[str]:
    return re.findall(r'Doc \d+\(Title: ("[^"]*")\)', text)


def test_searchqa_informative_context_is_the_gold_passages_as_search_results_render_them(envs):
    env = envs["searchqa"]
    documents = env.unwrapped.dataset.documents
    for task_id in _ids(env)[:40]:
        task = _task(env, task_id)
        text = _context(env, task_id)
        support = task.metadata["support"]
        assert text.startswith('Doc 1(Title: "') and len(_titles(text)) == len(support)
        for position, doc_id in enumerate(support, start=1):
            title, _, body = documents[doc_id].partition("\n")
            assert f"Doc {position}(Title: {title}) {body}" in text
        # the last hop's passage holds the answer
        assert any(normalize_answer(gold) in normalize_answer(text) for gold in task.metadata["golden_answers"])


def test_searchqa_adversarial_context_is_a_retrieved_namesake_passage_without_the_answer(envs):
    env = envs["searchqa"]
    documents = env.unwrapped.dataset.documents
    by_contents = {contents: doc_id for doc_id, contents in documents.items()}
    for task_id in _ids(env)[:40]:
        task = _task(env, task_id)
        text = _context(env, task_id, "adversarial")
        gold_titles = {documents[d].partition("\n")[0] for d in task.metadata["support"]}
        assert text and not any(
            normalize_answer(gold) in normalize_answer(text) for gold in task.metadata["golden_answers"]
        )
        titles = _titles(text)
        assert len(titles) == len(task.metadata["support"]) and not set(titles) & gold_titles
        for line in text.splitlines():  # each line is a corpus passage that is no gold passage
            title, body = re.fullmatch(r"Doc \d+\(Title: (\"[^\"]*\")\) (.*)", line, flags=re.DOTALL).groups()
            assert by_contents[f"{title}\n{body}"] not in task.metadata["support"]


def test_searchqa_adversarial_passage_shares_a_name_with_the_gold_one():
    # "Who founded Corgard Mills?": the gold passage is Corgard Mills's, the distractor a Corgard who founded nothing
    env = _make("searchqa")
    try:
        task = next(_task(env, i) for i in _ids(env) if _task(env, i).instruction == "Who founded Corgard Mills?")
        text = _context(env, task.id, "adversarial")
    finally:
        env.close()
    assert text.startswith('Doc 1(Title: "') and "Corgard" in _titles(text)[0] and "Quinette" not in text


# ---- WebShop ---------------------------------------------------------------------------------------------------


def test_webshop_informative_context_names_the_target_its_options_and_the_price_cap(envs):
    env = envs["webshop"]
    products = env.unwrapped.catalog.products
    for task_id in _ids(env)[:20]:
        goal = _task(env, task_id).metadata
        target = products[goal["asin"]]
        options = goal_option_values(goal)
        expected = f"Target product: {target['Title']} (asin {goal['asin']})"
        expected += f"; select: {', '.join(options)}" if options else ""
        expected += f"; price below ${goal['price_upper']:.2f}; then buy"
        assert _context(env, task_id) == expected


def test_webshop_adversarial_context_is_a_near_miss_of_the_same_product_type(envs):
    env = envs["webshop"]
    products = env.unwrapped.catalog.products
    for task_id in _ids(env)[:20]:
        goal = _task(env, task_id).metadata
        text = _context(env, task_id, "adversarial")
        asin = re.search(r"\(asin (\w+)\)", text).group(1)
        assert asin != goal["asin"] and goal["asin"] not in text
        near = products[asin]
        assert near["query"] == goal["query"] and text.startswith(f"Target product: {near['Title']} (asin {asin})")
        reward, _ = webshop_reward(near, goal, buyer_options(near, goal_option_values(goal)))
        assert reward < 1.0  # a wrong purchase, not another right answer
        assert f"price below ${goal['price_upper']:.2f}" in text


# ---- ALFWorld --------------------------------------------------------------------------------------------------


def _where(text: str) -> dict[str, str]:
    """Object -> receptacle of a context's first line."""
    line = text.splitlines()[0]
    return dict(re.findall(r"([a-z]+ \d+) is (?:in|on) ([a-z]+ \d+)", line))


def _plan(text: str) -> list[str]:
    return text.splitlines()[1].removeprefix("Expert plan: ").split("; ")


def _goal_objects(env, task_id: str) -> set[str]:
    """The names of the objects of the goal's type (``"Pot"`` in the task id -> ``"pot 1"``, ``"pot 2"``...)."""
    kind = task_id.split("-")[1].lower()
    return {name for name in _where(_context(env, task_id)) if name.rsplit(" ", 1)[0] == kind}


def test_alfworld_informative_context_says_where_the_object_is_and_the_plan_wins(envs):
    env = envs["alfworld"]
    for task_id in _ids(env)[:12]:
        text = _context(env, task_id)
        where = _where(text)
        obs, info = env.reset(options={"task_id": task_id})
        # each object named is where the room shows it: going to its receptacle (and opening it) reveals it
        first_object, receptacle = sorted(where.items())[0]
        assert f"go to {receptacle}" in info["admissible_actions"]
        obs, *_ = env.step(f"go to {receptacle}")
        if "is closed" in obs:
            obs, *_ = env.step(f"open {receptacle}")
        assert f"a {first_object}" in obs
        env.reset(options={"task_id": task_id})
        for command in _plan(text):
            obs, reward, terminated, _, info = env.step(command)
            assert info["action_valid"], command
        assert terminated and info["won"] and reward == 1.0


def test_alfworld_adversarial_context_names_a_receptacle_without_the_object_and_its_plan_fails(envs):
    env = envs["alfworld"]
    for task_id in _ids(env)[:12]:
        true = _where(_context(env, task_id))
        objects = _goal_objects(env, task_id)
        text = _context(env, task_id, "adversarial")
        claimed = {obj: r for obj, r in _where(text).items() if obj in objects}
        assert set(claimed) == objects
        assert not set(claimed.values()) & {true[o] for o in objects}  # no true location of a goal object
        env.reset(options={"task_id": task_id})
        valid = []
        for command in _plan(text):
            *_, info = env.step(command)
            valid.append(info["action_valid"])
            if command.startswith("take "):
                break
        assert valid[-1] is False and not info["won"]  # the object is not where the context sends the agent


def test_alfworld_context_is_computed_without_touching_the_live_episode():
    def play(with_contexts: bool) -> list[str]:
        env = _make("alfworld")
        try:
            ids = _ids(env)
            obs, info = env.reset(options={"task_id": ids[3]})
            seen = [obs]
            while not info.get("won") and info["expert_action"] and len(seen) < 40:
                if with_contexts:
                    for quality in CONTEXT_QUALITIES:
                        _context(env, ids[3], quality)
                        _context(env, ids[len(seen)], quality)
                obs, *_, info = env.step(info["expert_action"])
                seen.append(obs)
            assert info["won"]
            return seen
        finally:
            env.close()

    assert play(with_contexts=True) == play(with_contexts=False)


# ---- every env -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_IDS))
def test_random_context_is_the_next_tasks_informative_context(envs, name):
    env = envs[name]
    ids = _ids(env)
    for position in (0, 1, len(ids) - 1):  # the last task's partner wraps around to the first
        own = _context(env, ids[position])
        random_text = _context(env, ids[position], "random")
        assert random_text != own
        assert random_text == _context(env, ids[(position + 1) % len(ids)])
        if name == "webshop":
            assert _task(env, ids[position]).metadata["asin"] not in random_text


def test_random_context_skips_a_next_question_with_the_same_answer(envs):
    env = envs["searchqa"]
    ids = _ids(env)

    def answers(position: int) -> set[str]:
        return {normalize_answer(g) for g in _task(env, ids[position % len(ids)]).metadata["golden_answers"]}

    same = [i for i in range(len(ids)) if answers(i) & answers(i + 1)]
    assert same, "the test split has questions followed by one with the same answer"
    for position in same:
        partner = next(p for p in range(position + 1, position + len(ids)) if not answers(position) & answers(p))
        assert _context(env, ids[position], "random") == _context(env, ids[partner % len(ids)])
        assert _context(env, ids[position], "random") != _context(env, ids[(position + 1) % len(ids)])


@pytest.mark.parametrize("name", sorted(_IDS))
def test_contexts_are_deterministic_across_env_instances(envs, name):
    fresh = _make(name)
    try:
        for task_id in _ids(fresh)[:3]:
            for quality in CONTEXT_QUALITIES:
                assert _context(fresh, task_id, quality) == _context(envs[name], task_id, quality)
    finally:
        fresh.close()


@pytest.mark.parametrize("name", sorted(_IDS))
def test_an_unknown_quality_is_refused_naming_the_valid_ones(envs, name):
    env = envs[name]
    with pytest.raises(ValueError, match="choose one of informative, random, adversarial"):
        _context(env, _ids(env)[0], "helpful")
    with pytest.raises(KeyError, match=r"no .* task 'nope'"):
        _context(env, "nope")
