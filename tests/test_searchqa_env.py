"""sdar/SearchQA-v0: the env contract, vector envs, invalid and arbitrary actions, a scripted episode, the oracle."""

import errno
import json
import tempfile
from collections import Counter

import gymnasium as gym
import pytest
from env_contract import assert_env_contract, assert_invalid_actions_are_harmless, assert_vector_envs_work
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdar_envs  # noqa: F401
from sdar_envs.core import check_info
from sdar_envs.searchqa.generator import dataset_intact, ensure_dataset
from sdar_envs.searchqa.protocol import INVALID_ACTION_MESSAGE

SMALL = {"num_passages": 3000}


@pytest.fixture(scope="module")
def small_kwargs(tmp_path_factory):
    return {**SMALL, "data_dir": str(tmp_path_factory.mktemp("sqa-cache"))}


@pytest.fixture(scope="module")
def env(small_kwargs):
    env = gym.make("sdar/SearchQA-v0", split="test", **small_kwargs)
    yield env
    env.close()


def test_searchqa_passes_the_env_contract(small_kwargs):
    assert_env_contract("sdar/SearchQA-v0", split="test", **small_kwargs)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_run_the_expert(small_kwargs, mode):
    assert_vector_envs_work("sdar/SearchQA-v0", mode=mode, num_envs=2, split="test", **small_kwargs)


def test_the_envs_data_keywords_are_the_dataset_spec_and_envs_share_its_dataset(env, small_kwargs):
    import dataclasses
    import inspect

    from sdar_envs.searchqa.dataset import DatasetSpec, load_dataset
    from sdar_envs.searchqa.env import SearchQAEnv

    names = [f.name for f in dataclasses.fields(DatasetSpec)]
    parameters = inspect.signature(SearchQAEnv).parameters
    assert all(parameters[name].default == getattr(DatasetSpec(), name) for name in names)
    spec = DatasetSpec(**small_kwargs)
    assert env.unwrapped.dataset_spec == spec
    assert load_dataset(spec, split="test") is env.unwrapped.dataset  # one corpus and index per process


def test_invalid_actions_are_harmless(env):
    actions = ["", "look", "<search>unclosed", "<search>a</search><answer>b</answer>"[:-9], "<answer>x</search>"]
    actions += ["<search><search>q</search>", "<search>a<answer>b</answer>", "\x00\ud800", "<" * 10_000]
    assert_invalid_actions_are_harmless(env, actions)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300) | st.builds("<{0}>{1}</{0}>".format, st.sampled_from(["search", "answer"]), st.text()))
def test_arbitrary_action_text_never_raises(env, action):
    env.reset(seed=1)
    obs, reward, terminated, _, info = env.step(action)
    check_info(info)
    assert isinstance(obs, str) and reward in (0.0, 1.0)
    if not info["action_valid"]:
        assert (obs, reward, terminated) == (INVALID_ACTION_MESSAGE, 0.0, False)


def test_an_invalid_action_leaves_the_episode_unchanged(env):
    _, first = env.reset(options={"index": 3})
    obs, reward, terminated, truncated, info = env.step("I think the answer is Tarsk.")
    assert (obs, reward, terminated, truncated) == (INVALID_ACTION_MESSAGE, 0.0, False, False)
    assert info["action_valid"] is False
    assert info["searches"] == 0 and info["expert_action"] == first["expert_action"]


def test_the_step_limit_truncates_after_four_actions(env):
    env.reset(options={"index": 0})
    outcomes = [env.step("<search> anything at all </search>")[2:4] for _ in range(4)]
    assert outcomes == [(False, False)] * 3 + [(False, True)]


def test_steps_after_the_answer_are_inert(env):
    _, info = env.reset(options={"index": 0})
    gold = info["task"].metadata["golden_answers"][0]
    obs, reward, terminated, _, info = env.step(f"<think>sure</think><answer>{gold}</answer>")
    assert (obs, reward, terminated, info["won"], info["em"], info["answer"]) == ("", 1.0, True, True, 1.0, gold)
    assert info["expert_action"] is None
    obs, reward, terminated, _, info = env.step("<answer>again</answer>")
    assert (obs, reward, terminated, info["action_valid"], info["score"]) == ("", 0.0, True, False, 1.0)


def test_a_wrong_answer_scores_zero_with_partial_f1(env):
    _, info = env.reset(options={"index": 0})
    gold = info["task"].metadata["golden_answers"][0]
    _, reward, terminated, _, info = env.step(f"<answer>{gold} perhaps</answer>")
    assert (reward, terminated, info["won"], info["substring_em"]) == (0.0, True, False, 1.0)
    assert 0.0 < info["f1"] < 1.0


def test_data_sources_select_families(small_kwargs):
    env = gym.make("sdar/SearchQA-v0", split="test", data_sources=["three_hop"], **small_kwargs)
    u = env.unwrapped
    assert u.num_tasks > 0 and {u.get_task(i).data_source for i in u.task_ids()} == {"three_hop"}
    with pytest.raises(ValueError, match="no test questions"):
        gym.make("sdar/SearchQA-v0", split="test", data_sources=["nq"], **small_kwargs)


def test_bad_arguments_get_actionable_errors(small_kwargs, env):
    with pytest.raises(ValueError, match="split='dev': the generated data has the splits train, validation, test"):
        gym.make("sdar/SearchQA-v0", split="dev", **small_kwargs)
    with pytest.raises(ValueError, match=r"data_sources='nq': a list[\s\S]*backend='elastic'[\s\S]*topk=0: an integer"):
        gym.make("sdar/SearchQA-v0", data_sources="nq", backend="elastic", topk=0, **small_kwargs)
    with pytest.raises(ValueError, match=r"num_passages=10: an integer of at least 500[\s\S]*topk='3'"):
        gym.make("sdar/SearchQA-v0", num_passages=10, topk="3")
    with pytest.raises(ValueError, match="corpus_path"):
        gym.make("sdar/SearchQA-v0", qa_path="questions.jsonl")
    with pytest.raises(KeyError, match="no Search-QA task"):
        env.reset(options={"task_id": "nope"})


def _scripted_files(tmp_path):
    corpus = [
        {"id": "d0", "contents": '"Velmoria"\nVelmoria is a country. Its capital is Tarsk.'},
        {"id": "d1", "contents": '"Tarsk"\nTarsk is a city on the Oun river.'},
        {"id": "d2", "contents": '"Alden Varro"\nAlden Varro is a painter.'},
    ]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    qa = {"id": "q0", "question": "What is the capital of Velmoria?", "golden_answers": ["Tarsk"], "support": ["d0"]}
    (tmp_path / "qa.jsonl").write_text(json.dumps(qa) + "\n")
    return tmp_path / "corpus.jsonl", tmp_path / "qa.jsonl"


def test_scripted_episode_gives_the_exact_search_r1_observations(tmp_path):
    corpus, qa = _scripted_files(tmp_path)
    env = gym.make("sdar/SearchQA-v0", split="test", corpus_path=corpus, qa_path=qa)
    obs, info = env.reset(options={"task_id": "q0"})
    assert obs.endswith("For example, <answer> Beijing </answer>. Question: What is the capital of Velmoria?\n")
    assert info["expert_action"] == "<search> What is the capital of Velmoria? </search>"
    obs, reward, terminated, _, info = env.step("<think>look it up</think><search> Velmoria </search>")
    assert obs == (
        '\n\n<information>Doc 1(Title: "Velmoria") Velmoria is a country. Its capital is Tarsk.</information>\n\n'
    )
    assert (reward, terminated, info["retrieved"], info["searches"]) == (0.0, False, ["d0"], 1)
    assert info["expert_action"] == "<answer> Tarsk </answer>"
    obs, reward, terminated, _, info = env.step("Not an action")
    assert (obs, reward, info["action_valid"]) == (INVALID_ACTION_MESSAGE, 0.0, False)
    obs, reward, terminated, _, info = env.step("<answer> the tarsk </answer> ignored")
    assert (obs, reward, terminated, info["won"], info["score"]) == ("", 1.0, True, True, 1.0)


def test_the_oracle_solves_every_shipped_test_question():
    """The default generated test split (50k passages, cached on first use) is solved by the oracle within the
    registered step limit."""
    env = gym.make("sdar/SearchQA-v0", split="test")
    u = env.unwrapped
    assert u.num_tasks >= 512
    solved, steps = Counter(), Counter()
    for index in range(u.num_tasks):
        _, info = env.reset(options={"index": index})
        while True:
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            steps[info["task"].data_source] += 1
            if terminated or truncated:
                break
        solved[info["task"].data_source] += info["won"]
    assert sum(solved.values()) == u.num_tasks, solved
    assert set(solved) == {"single_hop", "bridge", "comparison", "three_hop", "paraphrase"}
    # a single-hop question takes one search and the answer; three-hop questions need about three searches
    assert steps["single_hop"] == 2 * solved["single_hop"]
    assert steps["three_hop"] > 3.5 * solved["three_hop"]


def test_a_stale_cached_index_is_rebuilt(small_kwargs):
    from pathlib import Path

    from sdar_envs.searchqa import dataset
    from sdar_envs.searchqa.generator import dataset_dir

    manifest = dataset_dir(0, 3000, Path(small_kwargs["data_dir"])) / "index-default" / "manifest.json"
    settings = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**settings, "format_version": -1}))  # as if written by another version
    dataset._CACHE.clear()
    env = gym.make("sdar/SearchQA-v0", split="test", **small_kwargs)
    _, info = env.reset(options={"index": 0})
    obs, *_ = env.step(info["expert_action"])
    assert obs.startswith("\n\n<information>Doc 1(Title: ")
    assert json.loads(manifest.read_text())["format_version"] != -1


# ---- the generated data's cache: corruption is detected and rebuilt ------------------------------------------------
@pytest.mark.parametrize("damage", ["delete_meta", "truncate", "flip"])
def test_a_damaged_generated_dataset_is_regenerated(tmp_path, damage):
    directory = ensure_dataset(0, 600, tmp_path)
    good = {p.name: p.read_bytes() for p in directory.glob("*.jsonl")}
    if damage == "delete_meta":
        (directory / "meta.json").unlink()  # used to leave the directory unusable: "Directory not empty" forever
    elif damage == "truncate":
        (directory / "test.jsonl").write_bytes(good["test.jsonl"][:100])
    else:
        data = bytearray(good["corpus.jsonl"])
        data[2000] ^= 0x01
        (directory / "corpus.jsonl").write_bytes(bytes(data))
    assert ensure_dataset(0, 600, tmp_path) == directory
    assert {p.name: p.read_bytes() for p in directory.glob("*.jsonl")} == good
    assert dataset_intact(directory) and not list(tmp_path.glob(".*"))  # no temporary directory left behind


def test_an_unwritable_dataset_cache_names_the_directory_and_sdar_cache(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", full_disk)
    with pytest.raises(OSError, match=r"cannot write the generated Search-QA data under .*sqa-.*SDAR_CACHE"):
        ensure_dataset(0, 600, tmp_path)


def test_an_unwritable_index_directory_names_it_and_sdar_cache(small_kwargs, tmp_path, monkeypatch):
    real = tempfile.mkdtemp

    def read_only(*args, **kwargs):
        if kwargs.get("prefix", "").startswith(".index"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    with pytest.raises(PermissionError, match=rf"cannot write the search index under {tmp_path} .*SDAR_CACHE"):
        gym.make("sdar/SearchQA-v0", split="test", index_path=str(tmp_path / "index"), **small_kwargs)
