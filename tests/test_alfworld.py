"""sdar/ALFWorld-v0 on the real engine: generator, grammars, expert, verifier, env contract, official data."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from env_contract import assert_env_contract, assert_invalid_actions_are_harmless, assert_vector_envs_work
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdar_envs  # noqa: F401
from sdar_envs.alfworld.cache import ensure_game
from sdar_envs.alfworld.engine import TextWorldEngine
from sdar_envs.alfworld.env import NOTHING_HAPPENS
from sdar_envs.alfworld.games import TASK_TYPES, domain_text, grammar_template, mangle, sample_game, write_game
from sdar_envs.alfworld.grammar import to_grammar
from sdar_envs.alfworld.manifest import load_manifest
from sdar_envs.alfworld.verifier import ALFWorldVerifier, goal_holds
from sdar_envs.core import Task

ENV_ID = "sdar/ALFWorld-v0"
OOD = "eval_out_of_distribution"
EPISODES = json.loads((Path(__file__).parent / "data" / "alfworld_episodes.json").read_text())
#: Bedroom and living-room games: the smallest problems, so the engine's reset (a PDDL translation) is cheapest.
SMALL = {"task_types": ["look_at_obj_in_light"]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alfworld-cache")


def _make(cache: Path, **kwargs):
    # source="generated": a machine with official data under $ALFWORLD_DATA must still test the generated games.
    # This file tests the env on the reference engine (TextWorld + alfworld's wrappers and expert); the native engine,
    # the default, is tested against it in test_alfworld_native*.py.
    kwargs.setdefault("engine", "textworld")
    return gym.make(ENV_ID, split=kwargs.pop("split", OOD), cache_dir=str(cache), source="generated", **kwargs)


# ---- generator ---------------------------------------------------------------------------------------------------
def test_a_seed_always_writes_byte_identical_game_files(tmp_path: Path) -> None:
    spec = sample_game("train", "pick_heat_then_place_in_recep", 7)
    first = write_game(spec, tmp_path / "a", walkthrough=["look"], solvable=True)
    second = write_game(
        sample_game("train", "pick_heat_then_place_in_recep", 7), tmp_path / "b", walkthrough=["look"], solvable=True
    )
    assert first.read_bytes() == second.read_bytes()
    assert (first.parent / "traj_data.json").read_bytes() == (second.parent / "traj_data.json").read_bytes()
    assert sample_game("train", "pick_heat_then_place_in_recep", 8).problem != spec.problem


def test_generated_games_use_alfworld_folder_layout_and_mangled_ids(tmp_path: Path) -> None:
    spec = sample_game(OOD, "pick_clean_then_place_in_recep", 3)
    path = write_game(spec, tmp_path)
    rel = path.relative_to(tmp_path).as_posix()
    folder = f"pick_clean_then_place_in_recep-{spec.object_target}-None-{spec.parent_target}-{spec.scene}"
    assert rel == f"{OOD}/{folder}/trial_S000003/game.tw-pddl"
    game = json.loads(path.read_text())
    assert set(game) == {"pddl_domain", "grammar", "pddl_problem", "solvable", "walkthrough"}
    assert "Your task is to: " + spec.instruction + "." in game["grammar"]
    problem = game["pddl_problem"]
    for constant in (
        "SinkBasinType - rtype",
        "MicrowaveType - rtype",
        "FridgeType - rtype",
        "KnifeType - otype",
        "ButterKnifeType - otype",
    ):
        assert constant in problem
    assert "|" not in problem and "_bar_" in problem
    assert mangle("Sink|+01.10|-00.91|SinkBasin") == "Sink_bar__plus_01_dot_10_bar__minus_00_dot_91_bar_SinkBasin"
    traj = json.loads((path.parent / "traj_data.json").read_text())
    assert traj["task_type"] == "pick_clean_then_place_in_recep"
    assert traj["pddl_params"]["object_target"] == spec.object_target


def test_task_sentences_come_from_the_goal_library_templates() -> None:
    expected = {
        "pick_and_place_simple": ("put a {o} in {r}", "put some {o} on {r}"),
        "look_at_obj_in_light": ("look at {o} under the desklamp", "examine the {o} with the desklamp"),
        "pick_clean_then_place_in_recep": ("put a clean {o} in {r}", "clean some {o} and put it in {r}"),
        "pick_heat_then_place_in_recep": ("put a hot {o} in {r}", "heat some {o} and put it in {r}"),
        "pick_cool_then_place_in_recep": ("put a cool {o} in {r}", "cool some {o} and put it in {r}"),
        "pick_two_obj_and_place": ("put two {o} in {r}", "find two {o} and put them in {r}"),
    }
    for task_type in TASK_TYPES:
        for seed in range(6):
            spec = sample_game("train", task_type, seed)
            o, r = spec.object_target.lower(), spec.parent_target.lower()
            assert spec.instruction in {t.format(o=o, r=r) for t in expected[task_type]}


def test_upstream_alfworld_collects_a_written_split(tmp_path: Path) -> None:
    from alfworld.agents.environment.alfred_tw_env import AlfredTWEnv

    entries = load_manifest(OOD)[:6]
    for entry in entries:
        ensure_game(tmp_path, OOD, entry)
    config = {
        "env": {"goal_desc_human_anns_prob": 0, "task_types": [1, 2, 3, 4, 5, 6]},
        "dataset": {"eval_ood_data_path": str(tmp_path / OOD), "num_eval_games": -1},
    }
    upstream = AlfredTWEnv(config, train_eval=OOD)
    assert sorted(Path(p).parent.relative_to(tmp_path / OOD).as_posix() for p in upstream.game_files) == sorted(
        e.id for e in entries
    )


def test_eval_manifests_hold_the_official_split_sizes_per_task_type() -> None:
    from sdar_envs.alfworld.games import TASK_SHARES

    for split in ("eval_in_distribution", "eval_out_of_distribution"):
        entries = load_manifest(split)
        counts = {t: sum(e.task_type == t for e in entries) for t in TASK_TYPES}
        assert counts == dict(TASK_SHARES[split]), split
        assert len({e.id for e in entries}) == len(entries)
        assert all(0 < len(e.walkthrough) <= 50 for e in entries)


def test_train_manifest_holds_at_least_3000_games_at_the_official_task_type_shares() -> None:
    from sdar_envs.alfworld.games import TASK_SHARES

    entries = load_manifest("train")
    official = TASK_SHARES["train"]
    assert len(entries) >= 3000
    assert len({e.id for e in entries}) == len(entries)
    assert all(0 < len(e.walkthrough) <= 50 for e in entries)
    for task_type in TASK_TYPES:
        share = sum(e.task_type == task_type for e in entries) / len(entries)
        assert abs(share - official[task_type] / sum(official.values())) < 0.01, task_type


@pytest.mark.slow
def test_the_manifest_builder_resumes_stops_at_a_fraction_merges_and_rebuilds_the_committed_entries(
    tmp_path: Path,
) -> None:
    from sdar_envs.alfworld.manifest import build_manifest, merge_manifests

    quota = {"look_at_obj_in_light": 2, "pick_and_place_simple": 1}
    quiet = lambda _message: None  # noqa: E731
    first = tmp_path / "look.json.gz"
    # fraction 0.5 stops each type at ceil(0.5 * quota) games; a later call resumes where it stopped
    data = build_manifest(OOD, path=first, quota=quota, task_types=["look_at_obj_in_light"], fraction=0.5, log=quiet)
    assert [g["task_type"] for g in data["games"]] == ["look_at_obj_in_light"]
    data = build_manifest(OOD, path=first, quota=quota, task_types=["look_at_obj_in_light"], log=quiet)
    assert len(data["games"]) == 2
    second = tmp_path / "place.json.gz"
    build_manifest(OOD, path=second, quota=quota, task_types=["pick_and_place_simple"], log=quiet)
    merged = merge_manifests([first, second], tmp_path / "merged.json.gz")
    built = [(g["id"], tuple(g["walkthrough"])) for g in merged["games"]]
    assert len(built) == 3
    # the same seeds give the same games and walkthroughs as the committed manifest
    committed = {(e.id, e.walkthrough) for e in load_manifest(OOD)}
    assert set(built) <= committed
    drawn = sum(merged["next_seed"].values())
    assert drawn == 3 + sum(len(v) for v in merged["rejected"].values())


def test_eval_splits_keep_their_floorplans_apart() -> None:
    from alfworld.gen import constants

    ood = {int(e.id.split("/")[0].rsplit("-", 1)[1]) for e in load_manifest(OOD)}
    assert ood <= set(constants.TEST_SCENE_NUMBERS)
    ind = {int(e.id.split("/")[0].rsplit("-", 1)[1]) for e in load_manifest("eval_in_distribution")}
    assert ind <= set(constants.TRAIN_SCENE_NUMBERS)


# ---- grammars and engine -----------------------------------------------------------------------------------------
def test_old_grammar_swaps_put_and_arrival_and_drops_help() -> None:
    domain, grammar = to_grammar(domain_text(), grammar_template(), "old")
    assert 'template :: "put {o} in/on {r}";' in grammar and "move {o} to {r}" not in grammar
    assert "You arrive at {lend.name}." in grammar and "action help" not in grammar
    assert "(:action help" not in domain and "(:action PutObject" in domain
    _back_domain, back_grammar = to_grammar(domain, grammar, "new")
    assert 'template :: "move {o} to {r}";' in back_grammar and "You arrive at {r.name}." in back_grammar
    with pytest.raises(ValueError, match="grammar must be one of"):
        to_grammar(domain, grammar, "ancient")


def test_demangled_names_number_each_class_in_reverse_id_order(cache: Path) -> None:
    entry = next(e for e in load_manifest(OOD) if e.task_type == "pick_heat_then_place_in_recep")
    gamefile = ensure_game(cache, OOD, entry)
    engine = TextWorldEngine()
    engine.load(gamefile)
    infos = engine._env._entity_infos  # the names AlfredDemangler gave
    by_class: dict[str, list[str]] = {}
    for thor_id in sorted(infos):
        head = thor_id.split("_bar_", 1)[0]
        if head != thor_id:
            by_class.setdefault(head + ("basin" if "basin" in thor_id else ""), []).append(thor_id)
    assert len(by_class["cabinet"]) > 1 and len(by_class["loc"]) > 1
    for cls, ids in by_class.items():
        # ALFWorld's Demangler: the smallest id gets the highest number ("a cabinet 4, ..., a cabinet 1").
        assert [infos[i].name for i in ids] == [f"{cls} {n}" for n in range(len(ids), 0, -1)], cls
    state = engine.reset()
    assert "a cabinet 2, a cabinet 1," in state["feedback"]
    engine.close()


def test_the_engine_leaves_sys_argv_alone(cache: Path) -> None:
    before = list(sys.argv)
    engine = TextWorldEngine()
    engine.load(ensure_game(cache, OOD, load_manifest(OOD)[0]))
    engine.reset()
    assert sys.argv == before
    engine.close()


# ---- verifier ----------------------------------------------------------------------------------------------------
def _task(task_type: str, **params: str) -> Task:
    return Task(id="t", env="alfworld", split=OOD, instruction="", task_type=task_type, metadata=params)


def test_goal_facts_decide_each_task_type() -> None:
    put = [("inreceptacle", ("apple 1", "countertop 2"))]
    assert goal_holds("pick_and_place_simple", {"object_target": "Apple", "parent_target": "CounterTop"}, put)
    assert not goal_holds("pick_and_place_simple", {"object_target": "Apple", "parent_target": "Fridge"}, put)
    hot = [*put, ("ishot", ("apple 1",))]
    params = {"object_target": "Apple", "parent_target": "CounterTop"}
    assert goal_holds("pick_heat_then_place_in_recep", params, hot)
    assert not goal_holds("pick_heat_then_place_in_recep", params, put)
    assert not goal_holds("pick_cool_then_place_in_recep", params, hot)
    assert goal_holds("pick_clean_then_place_in_recep", params, [*put, ("isclean", ("apple 1",))])
    two = [*put, ("inreceptacle", ("apple 2", "countertop 1"))]
    assert not goal_holds("pick_two_obj_and_place", params, two)
    assert goal_holds("pick_two_obj_and_place", params, [*two, ("inreceptacle", ("apple 3", "countertop 2"))])
    look = {"object_target": "Book", "toggle_target": "DeskLamp"}
    lit = [
        ("holds", ("agent1", "book 2")),
        ("atlocation", ("agent1", "loc 3")),
        ("receptacleatlocation", ("desk 1", "loc 3")),
        ("inreceptacle", ("desklamp 1", "desk 1")),
        ("istoggled", ("desklamp 1",)),
    ]
    assert goal_holds("look_at_obj_in_light", look, lit)
    assert not goal_holds("look_at_obj_in_light", look, [f for f in lit if f[0] != "istoggled"])
    assert not goal_holds("look_at_obj_in_light", look, [f for f in lit if f[0] != "holds"])


def test_verifier_scores_one_on_success_and_needs_an_outcome() -> None:
    verifier = ALFWorldVerifier()
    task = _task("pick_and_place_simple", object_target="Apple", parent_target="CounterTop")
    assert verifier.verify(task, {"won": True}).score == 1.0
    assert verifier.verify(task, {"facts": []}).score == 0.0
    assert verifier.verify(task, {"facts": [("inreceptacle", ("apple 1", "countertop 1"))]}).success
    with pytest.raises(ValueError, match="needs 'won'"):
        verifier.verify(task, {})


# ---- env ---------------------------------------------------------------------------------------------------------
def test_alfworld_passes_the_env_contract(cache: Path) -> None:
    assert_env_contract(ENV_ID, split=OOD, cache_dir=str(cache), source="generated", **SMALL)


def _episode_param(key: str):
    # Default run: a place, a look and a pick-two episode in both grammars; the state-change types run with -m slow.
    light = key.startswith(("new:pick_and_place", "new:look_at", "new:pick_two", "old:"))
    return pytest.param(key, marks=() if light else pytest.mark.slow, id=key.split("/")[0])


@pytest.mark.parametrize("key", [_episode_param(k) for k in sorted(EPISODES)])
def test_scripted_episode_gives_alfworld_text_exactly(cache: Path, key: str) -> None:
    grammar, task_id = key.split(":", 1)
    env = _make(cache, grammar=grammar)
    obs, info = env.reset(options={"task_id": task_id})
    steps = EPISODES[key]
    assert obs == steps[0][1]
    assert info["task"].task_type == task_id.split("-", 1)[0]
    for i, (action, expected) in enumerate(steps[1:], start=1):
        obs, reward, terminated, _truncated, info = env.step(action)
        assert obs == expected, (i, action)
        assert info["action_valid"] is True
        last = i == len(steps) - 1
        assert terminated is last and info["won"] is last and reward == (1.0 if last else 0.0)
    assert info["score"] == 1.0
    env.close()


def test_following_the_expert_replays_the_stored_walkthrough_and_wins(cache: Path) -> None:
    env = _make(cache, **SMALL)
    _, info = env.reset(options={"task_id": "look_at_obj_in_light-CD-None-DeskLamp-305/trial_S000002"})
    walkthrough = info["task"].metadata["walkthrough"]
    played = []
    while not info["won"] and len(played) < 50:
        played.append(info["expert_action"])
        _, reward, terminated, _, info = env.step(played[-1])
    assert played == walkthrough and terminated and reward == 1.0
    assert "help" not in info["admissible_actions"]
    env.close()


def test_non_admissible_text_gets_nothing_happens_and_changes_nothing(cache: Path) -> None:
    env = _make(cache, **SMALL)
    obs, info = env.reset(options={"index": 0})
    admissible = info["admissible_actions"]
    for junk in ("", "   ", "fly to the moon", "go to cabinet 99", "\x00\n\t", "é" * 10_000, "GO TO SHELF 1"):
        obs, reward, terminated, _truncated, info = env.step(junk)
        assert (obs, reward, terminated, info["action_valid"]) == (NOTHING_HAPPENS, 0.0, False, False)
        assert info["admissible_actions"] == admissible
    obs, *_ = env.step("  inventory \n")
    assert obs == "You are not carrying anything."
    assert_invalid_actions_are_harmless(env, ["take nothing from nowhere"])
    env.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_action_text_is_answered_without_raising(cache: Path, text: str) -> None:
    env = _FUZZ_ENV.get("env")
    if env is None:
        env = _FUZZ_ENV["env"] = _make(cache, **SMALL)
        env.reset(options={"index": 2})
    obs, reward, _terminated, _truncated, info = env.step(text)
    assert isinstance(obs, str) and reward in (0.0, 1.0)
    if not info["action_valid"]:
        assert obs == NOTHING_HAPPENS


_FUZZ_ENV: dict[str, gym.Env] = {}


def test_two_envs_in_one_process_stay_independent(cache: Path) -> None:
    a, b = _make(cache), _make(cache, grammar="old")
    key = next(k for k in EPISODES if k.startswith("old:"))
    old_steps = EPISODES[key]
    new_steps = EPISODES["new:" + key.split(":", 1)[1]]
    a.reset(options={"task_id": key.split(":", 1)[1]})
    b.reset(options={"task_id": key.split(":", 1)[1]})
    for (new_action, new_obs), (old_action, old_obs) in zip(new_steps[1:], old_steps[1:], strict=True):
        assert a.step(new_action)[0] == new_obs
        assert b.step(old_action)[0] == old_obs
    a.close()
    b.close()


def test_unknown_arguments_get_actionable_errors(cache: Path) -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        _make(cache, split="valid_seen")
    with pytest.raises(ValueError, match="engine must be one of"):
        _make(cache, engine="fast")
    with pytest.raises(ValueError, match="unknown task types"):
        _make(cache, task_types=["pick_three"])
    env = _make(cache)
    with pytest.raises(KeyError, match="no ALFWorld task"):
        env.reset(options={"task_id": "nope"})
    env.close()


# ---- official data -----------------------------------------------------------------------------------------------
_OFFICIAL_PROBLEM = """(define (problem plan_trial)
(:domain alfred)
(:objects
  agent1 - agent
  AppleType - otype
  ButterKnifeType - otype
  KnifeType - otype
  CounterTopType - rtype
  FridgeType - rtype
  MicrowaveType - rtype
  SinkBasinType - rtype
  CounterTop_bar__plus_00_dot_50_bar__minus_01_dot_00 - receptacle
  Fridge_bar__minus_01_dot_00_bar__plus_01_dot_00 - receptacle
  Apple_bar__plus_00_dot_40_bar__minus_01_dot_10 - object
  loc_bar_2_bar__minus_3_bar_2_bar_30 - location
  loc_bar__minus_3_bar_4_bar_3_bar_0 - location
  loc_bar_0_bar_0_bar_0_bar_30 - location
)
(:init
  (atLocation agent1 loc_bar_0_bar_0_bar_0_bar_30)
  (receptacleType CounterTop_bar__plus_00_dot_50_bar__minus_01_dot_00 CounterTopType)
  (receptacleAtLocation CounterTop_bar__plus_00_dot_50_bar__minus_01_dot_00 loc_bar_2_bar__minus_3_bar_2_bar_30)
  (receptacleType Fridge_bar__minus_01_dot_00_bar__plus_01_dot_00 FridgeType)
  (receptacleAtLocation Fridge_bar__minus_01_dot_00_bar__plus_01_dot_00 loc_bar__minus_3_bar_4_bar_3_bar_0)
  (openable Fridge_bar__minus_01_dot_00_bar__plus_01_dot_00)
  (objectType Apple_bar__plus_00_dot_40_bar__minus_01_dot_10 AppleType)
  (inReceptacle Apple_bar__plus_00_dot_40_bar__minus_01_dot_10 CounterTop_bar__plus_00_dot_50_bar__minus_01_dot_00)
  (objectAtLocation Apple_bar__plus_00_dot_40_bar__minus_01_dot_10 loc_bar_2_bar__minus_3_bar_2_bar_30)
  (pickupable Apple_bar__plus_00_dot_40_bar__minus_01_dot_10)
  (coolable Apple_bar__plus_00_dot_40_bar__minus_01_dot_10)
  (canContain CounterTopType AppleType)
  (canContain FridgeType AppleType)
)
(:goal (and (exists (?r - receptacle) (exists (?o - object) (and (coolable ?o) (objectType ?o AppleType)
  (receptacleType ?r CounterTopType) (isCool ?o) (inReceptacle ?o ?r))))))
)
"""


def _write_official_game(root: Path) -> Path:
    """A json_2.1.1-style game in the old grammar, as alfworld-download ships them."""
    trial = root / "json_2.1.1" / "valid_unseen" / "pick_cool_then_place_in_recep-Apple-None-CounterTop-7" / "trial_T1"
    trial.mkdir(parents=True)
    traj = {
        "task_type": "pick_cool_then_place_in_recep",
        "pddl_params": {
            "object_target": "Apple",
            "parent_target": "CounterTop",
            "toggle_target": "",
            "mrecep_target": "",
            "object_sliced": False,
        },
    }
    (trial / "traj_data.json").write_text(json.dumps(traj))
    domain, grammar = to_grammar(domain_text(), grammar_template(), "old")
    grammar = grammar.replace("UNKNOWN GOAL", "cool some apple and put it in countertop")
    game = {
        "pddl_domain": domain,
        "grammar": grammar,
        "pddl_problem": _OFFICIAL_PROBLEM,
        "solvable": True,
        "walkthrough": [],
    }
    (trial / "game.tw-pddl").write_text(json.dumps(game))
    skipped = root / "json_2.1.1" / "valid_unseen" / "pick_cool_then_place_in_recep-AppleSliced-None-Fridge-7" / "t"
    skipped.mkdir(parents=True)
    (skipped / "traj_data.json").write_text(json.dumps(traj))
    return root


@pytest.mark.parametrize("engine", ["textworld", "native"])
def test_official_game_files_play_through_the_same_env(tmp_path: Path, engine: str) -> None:
    root = _write_official_game(tmp_path)
    env = gym.make(ENV_ID, split=OOD, data_path=str(root), grammar="old", engine=engine)
    obs, info = env.reset(seed=0)
    task = info["task"]
    assert (task.id, task.data_source, task.instruction) == (
        "pick_cool_then_place_in_recep-Apple-None-CounterTop-7/trial_T1",
        "official",
        "cool some apple and put it in countertop",
    )
    assert obs == (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, you see "
        "a countertop 1, and a fridge 1.\n\nYour task is to: cool some apple and put it in countertop."
    )
    script = [
        ("go to countertop 1", "You arrive at loc 2. On the countertop 1, you see a apple 1."),
        ("take apple 1 from countertop 1", "You pick up the apple 1 from the countertop 1."),
        ("go to fridge 1", "You arrive at loc 1. The fridge 1 is closed."),
        ("cool apple 1 with fridge 1", "You cool the apple 1 using the fridge 1."),
        ("examine apple 1", "This is a cold apple 1."),
        ("go to countertop 1", "You arrive at loc 2. On the countertop 1, you see nothing."),
        ("put apple 1 in/on countertop 1", "You put the apple 1 in/on the countertop 1."),
    ]
    for action, expected in script:
        obs, reward, terminated, _truncated, info = env.step(action)
        assert obs == expected
    assert terminated and reward == 1.0 and info["won"]
    env.close()


def test_alfworld_data_variable_selects_the_official_games(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALFWORLD_DATA", str(_write_official_game(tmp_path)))
    env = gym.make(ENV_ID, split=OOD)
    assert env.unwrapped.data_source == "official"
    assert list(env.unwrapped.task_ids()) == ["pick_cool_then_place_in_recep-Apple-None-CounterTop-7/trial_T1"]
    env.close()
    env = gym.make(ENV_ID, split=OOD, source="generated")
    assert env.unwrapped.data_source == "generated" and len(env.unwrapped.task_ids()) == 134
    env.close()
    with pytest.raises(FileNotFoundError, match="no official ALFWorld games for split 'train'"):
        gym.make(ENV_ID, split="train", source="official")


@pytest.mark.parametrize("grammar", ["new", "old"])
def test_the_expert_solves_an_official_game_in_either_grammar(tmp_path: Path, grammar: str) -> None:
    env = gym.make(
        ENV_ID, split=OOD, data_path=str(_write_official_game(tmp_path)), grammar=grammar, engine="textworld"
    )
    _, info = env.reset(seed=0)
    for _ in range(30):
        if info["won"] or info["expert_action"] is None:
            break
        info = env.step(info["expert_action"])[-1]
    assert info["won"] and info["score"] == 1.0
    env.close()


# ---- heavier checks (CI) -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_alfworld_runs_in_async_vector_envs(cache: Path) -> None:
    assert_vector_envs_work(
        ENV_ID, num_envs=4, mode="async", steps=3, split=OOD, cache_dir=str(cache), source="generated"
    )


@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", "eval_in_distribution", OOD])
def test_the_expert_solves_a_sample_of_every_task_type(cache: Path, split: str) -> None:
    env = _make(cache, split=split)
    ids = env.unwrapped.task_ids()
    for task_type in TASK_TYPES:
        # The game of this type with the shortest stored walkthrough, to keep the check bounded.
        task_id = min(
            (i for i in ids if i.startswith(task_type + "-")),
            key=lambda i: len(env.unwrapped.get_task(i).metadata["walkthrough"]),
        )
        _, info = env.reset(options={"task_id": task_id})
        steps = 0
        while not info["won"] and info["expert_action"] is not None and steps < 50:
            info = env.step(info["expert_action"])[-1]
            steps += 1
        assert info["won"], task_id
        goal = ALFWorldVerifier().verify(info["task"], {"facts": env.unwrapped._state["facts"]})
        assert goal.success, task_id  # the verifier's goal check agrees with the engine's
    env.close()


def test_invalid_commands_leave_the_experts_next_command_unchanged_and_it_still_wins(cache: Path) -> None:
    # Index 81 of eval_out_of_distribution (heat a potato, put it in the fridge): fed the invalid commands, alfworld's
    # hand-coded expert used to drift off its plan and never solve it.
    env = _make(cache, max_episode_steps=200)
    _, info = env.reset(options={"index": 81})
    assert info["task"].id == "pick_heat_then_place_in_recep-Potato-None-Fridge-4/trial_S000008"
    junk = ["jump", "take the moon", "go to fridge 99", "", "look around", "\x00"]
    steps = 0
    while not info["won"] and steps < 40:
        expected = info["expert_action"]
        for text in junk[steps % len(junk) : steps % len(junk) + 2]:
            _, reward, _, _, info = env.step(text)
            assert info["action_valid"] is False and reward == 0.0
            assert info["expert_action"] == expected, f"{text!r} moved the expert off {expected!r}"
        _, reward, _, _, info = env.step(expected)
        steps += 1
    assert info["won"] and reward == 1.0 and steps == len(info["task"].metadata["walkthrough"])
    env.close()


# ---- caches and data files ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "flip", "no_checksums"])
def test_a_damaged_cached_game_is_rewritten_before_it_is_played(tmp_path: Path, damage: str) -> None:
    env = gym.make(ENV_ID, split=OOD, cache_dir=str(tmp_path), source="generated")  # the native engine
    first, _ = env.reset(options={"index": 5})
    gamefile = Path(env.unwrapped._loaded)
    good = gamefile.read_bytes()
    if damage == "truncate":
        gamefile.write_bytes(good[: len(good) // 2])
    elif damage == "flip":
        data = bytearray(good)
        data[good.index(b"(:init") + 10] ^= 0x01  # still valid JSON: another fact in the problem
        gamefile.write_bytes(bytes(data))
    else:
        (gamefile.parent / ".sha256.json").unlink()  # a cache written before checksums existed
    env.unwrapped._loaded = None  # a new process: nothing loaded yet
    again, _ = env.reset(options={"index": 5})
    assert again == first and gamefile.read_bytes() == good and (gamefile.parent / ".sha256.json").is_file()
    env.close()


def test_a_truncated_official_game_is_named_in_the_error(tmp_path: Path) -> None:
    root = _write_official_game(tmp_path)
    trial = root / "json_2.1.1" / "valid_unseen" / "pick_cool_then_place_in_recep-Apple-None-CounterTop-7" / "trial_T1"
    (trial / "game.tw-pddl").write_text((trial / "game.tw-pddl").read_text()[:200])
    with pytest.raises(ValueError, match=r"game\.tw-pddl is not a valid game\.tw-pddl file .*truncated or corrupt"):
        gym.make(ENV_ID, split=OOD, data_path=str(root), grammar="old")
    (trial / "traj_data.json").write_text("{")
    with pytest.raises(ValueError, match=r"traj_data\.json is not valid JSON .*alfworld-download"):
        gym.make(ENV_ID, split=OOD, data_path=str(root), grammar="old")


def test_an_unwritable_game_cache_names_the_directory_and_sdar_cache(tmp_path: Path, monkeypatch) -> None:
    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    env = gym.make(ENV_ID, split=OOD, cache_dir=str(tmp_path), source="generated")
    with pytest.raises(OSError, match=r"cannot write the generated ALFWorld game under .*No space left.*SDAR_CACHE"):
        env.reset(options={"index": 0})
    env.close()


def test_task_types_given_as_one_string_get_a_clear_error(cache: Path) -> None:
    with pytest.raises(ValueError, match=r"task_types must be a list of task types, e\.g\. \['look_at_obj_in_light'\]"):
        _make(cache, task_types="look_at_obj_in_light")
