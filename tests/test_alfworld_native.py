"""The native ALFWorld engine on hand-written problems in the upstream format: exact text, commands, quirks, goal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_envs.alfworld.games import SPLITS, TASK_TYPES, domain_text, grammar_template, mangle, sample_game, write_game
from sdar_envs.alfworld.native.engine import NativeEngine
from sdar_envs.alfworld.native.expert import NativeExpert, task_spec
from sdar_envs.alfworld.native.names import demangle_names
from sdar_envs.alfworld.native.pddl import PddlError, parse_problem, parse_sexpr

START = "loc|0|0|0|30"
RECEPTACLES = {  # THOR id -> location
    "CounterTop|+00.50|+00.90|-01.00": "loc|1|-2|0|30",
    "Fridge|-01.00|+00.00|+01.50": "loc|2|1|3|30",
    "Microwave|+01.20|+00.90|-02.00": "loc|3|-3|2|0",
    "Sink|+00.80|+00.90|+00.20|SinkBasin": "loc|4|0|1|60",
    "Cabinet|+00.10|+01.80|-00.50": "loc|5|-1|2|0",
    "Cabinet|-00.40|+01.80|-00.50": "loc|5|-1|2|0",  # shares its location with the cabinet above
    "SideTable|+02.00|+00.60|+02.00": "loc|6|2|1|30",
}
OPENABLE = {"Fridge", "Microwave", "Cabinet"}
OBJECTS = {  # THOR id -> receptacle
    "Apple|+00.40|+00.95|-01.10": "CounterTop|+00.50|+00.90|-01.00",
    "Apple|-00.90|+00.50|+01.40": "Fridge|-01.00|+00.00|+01.50",
    "Knife|+00.60|+00.95|-00.90": "CounterTop|+00.50|+00.90|-01.00",
    "Mug|+00.20|+01.85|-00.50": "Cabinet|+00.10|+01.80|-00.50",
    "DeskLamp|+02.00|+00.65|+02.00": "SideTable|+02.00|+00.60|+02.00",
}
PROPS = {
    "Apple": ["pickupable", "heatable", "coolable", "cleanable", "sliceable"],
    "Knife": ["pickupable", "cleanable"],
    "Mug": ["pickupable", "heatable", "coolable", "cleanable", "isReceptacleObject"],
    "DeskLamp": ["toggleable"],
}
CAN_CONTAIN = {
    "CounterTop": ["Apple", "Knife", "Mug"],
    "Fridge": ["Apple", "Mug"],
    "Microwave": ["Apple", "Mug"],
    "SinkBasin": ["Apple", "Knife", "Mug"],
    "Cabinet": ["Mug", "Knife"],
    "SideTable": ["Apple", "Knife", "Mug"],
}
HEAT_GOAL = """(:goal (and (exists (?r - receptacle) (exists (?o - object) (and (heatable ?o) (objectType ?o AppleType)
  (receptacleType ?r CounterTopType) (isHot ?o) (inReceptacle ?o ?r))))))"""


def _class(thor_id: str) -> str:
    return "SinkBasin" if thor_id.endswith("SinkBasin") else thor_id.split("|")[0]


def problem_text(goal: str = HEAT_GOAL) -> str:
    """A small kitchen written the way ALFWorld's problem files are."""
    otypes = sorted({f"{_class(o)}Type" for o in OBJECTS} | {"KnifeType", "ButterKnifeType"})
    rtypes = sorted({f"{_class(r)}Type" for r in RECEPTACLES} | {"MicrowaveType", "FridgeType", "SinkBasinType"})
    objects = ["agent1 - agent"] + [f"{t} - otype" for t in otypes] + [f"{t} - rtype" for t in rtypes]
    objects += [f"{mangle(r)} - receptacle" for r in RECEPTACLES] + [f"{mangle(o)} - object" for o in OBJECTS]
    objects += [f"{mangle(loc)} - location" for loc in sorted(set(RECEPTACLES.values()) | {START})]
    init = [f"(atLocation agent1 {mangle(START)})"]
    for r, loc in RECEPTACLES.items():
        init += [f"(receptacleType {mangle(r)} {_class(r)}Type)", f"(receptacleAtLocation {mangle(r)} {mangle(loc)})"]
        if _class(r) in OPENABLE:
            init.append(f"(openable {mangle(r)})")
    for o, r in OBJECTS.items():
        init += [f"(objectType {mangle(o)} {_class(o)}Type)", f"(inReceptacle {mangle(o)} {mangle(r)})"]
        init.append(f"(objectAtLocation {mangle(o)} {mangle(RECEPTACLES[r])})")
        init += [f"({p} {mangle(o)})" for p in PROPS[_class(o)]]
    init += [f"(canContain {r}Type {o}Type)" for r, objs in CAN_CONTAIN.items() for o in objs]
    return (
        "(define (problem plan_trial)\n(:domain alfred)\n(:objects\n  "
        + "\n  ".join(objects)
        + "\n)\n(:init\n  "
        + "\n  ".join(init)
        + "\n)\n"
        + goal
        + "\n)\n"
    )


def write_problem(
    tmp_path: Path, task: str = "heat some apple and put it in countertop", goal: str = HEAT_GOAL
) -> Path:
    path = tmp_path / "game.tw-pddl"
    data = {
        "pddl_domain": domain_text(),
        "grammar": grammar_template().replace("UNKNOWN GOAL", task),
        "pddl_problem": problem_text(goal),
        "solvable": True,
        "walkthrough": [],
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture()
def kitchen(tmp_path: Path) -> Path:
    return write_problem(tmp_path)


def play(gamefile: Path, commands: list[str], grammar: str = "new") -> tuple[list[str], dict]:
    engine = NativeEngine(grammar)
    engine.load(gamefile)
    state = engine.reset()
    texts = [state["feedback"]]
    for command in commands:
        state = engine.step(command)
        texts.append(state["feedback"])
    return texts, state


def test_reset_lists_every_receptacle_by_id_with_reverse_numbering_and_the_task(kitchen: Path) -> None:
    (text,), state = play(kitchen, [])
    assert text == (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, you see "
        "a cabinet 2, a cabinet 1, a countertop 1, a fridge 1, a microwave 1, a sidetable 1, and a sinkbasin 1.\n\n"
        "Your task is to: heat some apple and put it in countertop."
    )
    assert state["admissible_commands"] == [
        "go to cabinet 1",
        "go to cabinet 2",
        "go to countertop 1",
        "go to fridge 1",
        "go to microwave 1",
        "go to sidetable 1",
        "go to sinkbasin 1",
        "help",
        "inventory",
        "look",
    ]
    assert state["won"] is False


def test_heat_task_transcript_is_exact_and_ends_won(kitchen: Path) -> None:
    commands = [
        "look",
        "go to countertop 1",
        "take apple 1 from countertop 1",
        "examine apple 1",
        "go to microwave 1",
        "heat apple 1 with microwave 1",
        "examine apple 1",
        "inventory",
        "go to countertop 1",
        "move apple 1 to countertop 1",
    ]
    texts, state = play(kitchen, commands)
    assert texts[1:] == [
        "You are in the middle of a room. Looking quickly around you, you see nothing.",
        "You arrive at countertop 1. On the countertop 1, you see a apple 1, and a knife 1.",
        "You pick up the apple 1 from the countertop 1.",
        "There's nothing special about apple 1.",
        "You arrive at microwave 1. The microwave 1 is closed.",
        "You heat the apple 1 using the microwave 1.",
        "This is a hot apple 1.",
        "You are carrying: a apple 1.",
        "You arrive at countertop 1. On the countertop 1, you see a knife 1.",
        "You move the apple 1 to the countertop 1.",
    ]
    assert state["won"] is True


def test_old_grammar_arrives_at_the_location_and_puts_in_on(kitchen: Path) -> None:
    texts, state = play(
        kitchen, ["go to countertop 1", "take knife 1 from countertop 1", "put knife 1 in/on countertop 1"], "old"
    )
    assert texts[1] == "You arrive at loc 6. On the countertop 1, you see a apple 1, and a knife 1."
    assert texts[3] == "You put the knife 1 in/on the countertop 1."
    assert "help" not in state["admissible_commands"]
    assert play(kitchen, ["help"], "old")[0][1] == "Nothing happens."


def test_openable_receptacles_describe_their_state_and_gate_take_and_put(kitchen: Path) -> None:
    texts, state = play(kitchen, ["go to fridge 1", "take apple 2 from fridge 1", "open fridge 1", "close fridge 1"])
    assert texts[1:] == [
        "You arrive at fridge 1. The fridge 1 is closed.",
        "Nothing happens.",
        "You open the fridge 1. The fridge 1 is open. In it, you see a apple 2.",
        "You close the fridge 1.",
    ]
    assert "open fridge 1" in state["admissible_commands"]
    assert "take apple 2 from fridge 1" not in state["admissible_commands"]


def test_receptacles_sharing_a_location_cannot_be_reached_from_each_other(kitchen: Path) -> None:
    texts, state = play(kitchen, ["go to cabinet 2", "go to cabinet 1", "open cabinet 1", "look"])
    assert texts[1] == "You arrive at cabinet 2. The cabinet 2 is closed."
    assert texts[2] == "Nothing happens."
    assert texts[3] == "You open the cabinet 1. The cabinet 1 is open. In it, you see a mug 1."
    assert texts[4] == "You are facing the cabinet 2, and cabinet 1. Next to it, you see nothing."
    assert {"examine cabinet 1", "examine cabinet 2", "close cabinet 1", "open cabinet 2"} <= set(
        state["admissible_commands"]
    )


def test_an_object_moved_between_receptacles_of_one_location_is_seen_next_to_the_agent(kitchen: Path) -> None:
    commands = ["go to cabinet 1", "open cabinet 1", "open cabinet 2", "take mug 1 from cabinet 1"]
    texts, _ = play(kitchen, [*commands, "move mug 1 to cabinet 2", "look"])
    assert texts[-1] == "You are facing the cabinet 2, and cabinet 1. Next to it, you see a mug 1."


def test_a_held_receptacle_object_is_normal_even_when_hot(kitchen: Path) -> None:
    commands = ["go to cabinet 1", "open cabinet 1", "take mug 1 from cabinet 1", "go to microwave 1"]
    texts, _ = play(kitchen, [*commands, "heat mug 1 with microwave 1", "examine mug 1"])
    assert texts[-2] == "You heat the mug 1 using the microwave 1."
    assert texts[-1] == "This is a normal mug 1. In it, you see nothing."


def test_desklamp_turns_on_every_time_and_slicing_needs_a_held_knife(kitchen: Path) -> None:
    texts, _ = play(kitchen, ["go to sidetable 1", "use desklamp 1", "use desklamp 1"])
    assert texts[2:] == ["You turn on the desklamp 1.", "You turn on the desklamp 1."]
    texts, state = play(kitchen, ["go to countertop 1", "take knife 1 from countertop 1", "slice apple 1 with knife 1"])
    assert texts[-1] == "You sliced the apple 1 with the knife 1."
    _, state = play(kitchen, ["go to countertop 1", "take apple 1 from countertop 1"])
    assert not any(c.startswith("slice") for c in state["admissible_commands"])


def test_commands_match_exactly_after_stripping(kitchen: Path) -> None:
    texts, _ = play(kitchen, ["  look  ", "LOOK", "look.", "go to countertop 2"])
    assert texts[1] == "You are in the middle of a room. Looking quickly around you, you see nothing."
    assert texts[2:] == ["Nothing happens."] * 3


@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_step_never_raises_and_unknown_text_changes_nothing(command: str) -> None:
    engine = NativeEngine("new")
    engine.load(_KITCHEN_DATA)
    before = engine.reset()
    after = engine.step(command)
    if command.strip() not in before["admissible_commands"]:
        assert after == {**before, "feedback": "Nothing happens."}


_KITCHEN_DATA = {
    "pddl_domain": "",
    "grammar": grammar_template().replace("UNKNOWN GOAL", "heat some apple and put it in countertop"),
    "pddl_problem": problem_text(),
}


def test_demangled_numbers_count_down_over_sorted_ids() -> None:
    ids = ["cabinet_bar__plus_01", "cabinet_bar__minus_01", "sink_bar__plus_00_bar_sinkbasin", "agent1", "loc_bar_3"]
    assert demangle_names(ids) == {
        "cabinet_bar__minus_01": "cabinet 2",
        "cabinet_bar__plus_01": "cabinet 1",
        "sink_bar__plus_00_bar_sinkbasin": "sinkbasin 1",
        "agent1": "agent1 ",
        "loc_bar_3": "loc 1",
    }


def test_parser_reads_objects_init_and_goal_lower_cased() -> None:
    problem = parse_problem(problem_text())
    assert problem.objects["agent1"] == "agent"
    assert problem.objects[mangle("Apple|+00.40|+00.95|-01.10").lower()] == "object"
    assert ("atlocation", "agent1", mangle(START).lower()) in problem.init
    assert problem.goal[0] == "and"
    assert task_spec(problem.goal).flag == "ishot"


@given(st.recursive(st.sampled_from(["a", "b", "x1"]), lambda sub: st.lists(sub, max_size=4), max_leaves=20))
def test_sexpr_parser_round_trips_nested_lists(tree: object) -> None:
    def show(node: object) -> str:
        return node if isinstance(node, str) else "(" + " ".join(show(n) for n in node) + ")"  # type: ignore[union-attr]

    assert parse_sexpr(show(tree)) == [tree]


@pytest.mark.parametrize("text", ["(define (problem p)", "(define (problem p)))", "(foo)", "(define (problem p))"])
def test_malformed_problems_raise_a_clear_error(text: str) -> None:
    with pytest.raises(PddlError):
        parse_problem(text)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_native_expert_wins_generated_games_of_every_type_and_split(tmp_path: Path, split: str, task_type: str) -> None:
    for seed in range(3):
        gamefile = write_game(sample_game(split, task_type, seed), tmp_path)
        for grammar in ("new", "old"):
            engine = NativeEngine(grammar)
            engine.load(gamefile)
            state = engine.reset()
            expert = NativeExpert(engine)
            for _ in range(50):
                command = expert.next_command()
                assert command is not None and command in state["admissible_commands"]
                state = engine.step(command)
                if state["won"]:
                    break
            assert state["won"], (split, task_type, seed, grammar)


def test_alfworld_env_runs_on_the_native_engine_with_its_expert(tmp_path: Path) -> None:
    import gymnasium as gym

    import sdar_envs  # noqa: F401

    trial = tmp_path / "json_2.1.1" / "valid_unseen" / "pick_heat_then_place_in_recep-Apple-None-CounterTop-7" / "t1"
    trial.mkdir(parents=True)
    traj = {"task_type": "pick_heat_then_place_in_recep", "pddl_params": {"object_target": "Apple"}}
    (trial / "traj_data.json").write_text(json.dumps(traj))
    write_problem(trial)
    env = gym.make("sdar/ALFWorld-v0", split="eval_out_of_distribution", data_path=str(tmp_path), engine="native")
    obs, info = env.reset(seed=0)
    assert obs.endswith("Your task is to: heat some apple and put it in countertop.")
    assert info["admissible_actions"][0] == "go to cabinet 1" and "help" not in info["admissible_actions"]
    obs, reward, terminated, _, info = env.step("go to countertop 1")
    assert obs == "You arrive at countertop 1. On the countertop 1, you see a apple 1, and a knife 1."
    assert env.step("fly away")[0] == "Nothing happens."
    for _ in range(20):
        if terminated:
            break
        obs, reward, terminated, _, info = env.step(info["expert_action"])
    assert terminated and reward == 1.0 and info["won"] and info["score"] == 1.0
    env.close()


def _shipped(split: str, limit: int | None = None) -> list:
    from sdar_envs.alfworld.manifest import load_manifest, manifest_path

    if not manifest_path(split).exists():
        pytest.skip(f"no committed manifest for {split} yet (python -m sdar_envs.alfworld.manifest --split {split})")
    return load_manifest(split)[:limit]


@pytest.mark.parametrize(
    ("split", "limit"),
    [
        ("eval_in_distribution", None),
        ("eval_out_of_distribution", None),
        ("train", 300),
        pytest.param("train", None, marks=pytest.mark.slow, id="train-all"),
    ],
)
def test_every_shipped_walkthrough_wins_on_the_native_engine_and_so_does_the_native_expert(
    tmp_path: Path, split: str, limit: int | None
) -> None:
    from sdar_envs.alfworld.cache import ensure_game

    for entry in _shipped(split, limit):
        gamefile = ensure_game(tmp_path, split, entry)
        grammar = "old" if any(" in/on " in c for c in entry.walkthrough) else "new"
        engine = NativeEngine(grammar)
        engine.load(gamefile)
        state = engine.reset()
        for i, command in enumerate(entry.walkthrough):
            assert command in state["admissible_commands"], (entry.id, i, command)
            assert not state["won"], (entry.id, i)
            state = engine.step(command)
        assert state["won"], entry.id  # the TextWorld engine won exactly at the walkthrough's last command
        state = engine.reset()
        expert = NativeExpert(engine)
        for _ in range(50):
            state = engine.step(expert.next_command() or "")
            if state["won"]:
                break
        assert state["won"], entry.id


PICK_TWO_GOAL = """(:goal (and (exists (?r - receptacle) (exists (?o1 - object) (and (objectType ?o1 AppleType)
  (receptacleType ?r SideTableType) (inReceptacle ?o1 ?r) (exists (?o2 - object) (and (not (= ?o1 ?o2))
  (objectType ?o2 AppleType) (receptacleType ?r SideTableType) (inReceptacle ?o2 ?r))))))))"""


def test_pick_two_goal_needs_two_distinct_objects_in_one_receptacle(tmp_path: Path) -> None:
    gamefile = write_problem(tmp_path, "put two apple in sidetable", PICK_TWO_GOAL)
    first = ["go to countertop 1", "take apple 1 from countertop 1", "go to sidetable 1", "move apple 1 to sidetable 1"]
    second = ["go to fridge 1", "open fridge 1", "take apple 2 from fridge 1", "go to sidetable 1"]
    engine = NativeEngine("new")
    engine.load(gamefile)
    engine.reset()
    wins = [engine.step(command)["won"] for command in [*first, *second, "move apple 2 to sidetable 1"]]
    assert wins == [False] * 8 + [True]
    assert engine.step("take apple 2 from sidetable 1")["won"] is False


def test_native_alfworld_env_passes_the_env_contract_and_vector_envs(tmp_path: Path) -> None:
    from env_contract import assert_env_contract, assert_invalid_actions_are_harmless, assert_vector_envs_work

    _shipped("eval_out_of_distribution", 1)
    kwargs = {"split": "eval_out_of_distribution", "engine": "native", "cache_dir": str(tmp_path)}
    assert_env_contract("sdar/ALFWorld-v0", **kwargs)
    assert_vector_envs_work("sdar/ALFWorld-v0", num_envs=4, mode="async", steps=3, **kwargs)
    import gymnasium as gym

    env = gym.make("sdar/ALFWorld-v0", **kwargs)
    assert_invalid_actions_are_harmless(env, ["", "go to moon 1", "\x00" * 5, "look" * 5000, "TAKE ALL"])
    env.close()


def test_native_env_expert_solves_every_out_of_distribution_game_within_the_step_limit(tmp_path: Path) -> None:
    import gymnasium as gym

    entries = _shipped("eval_out_of_distribution")
    env = gym.make("sdar/ALFWorld-v0", split="eval_out_of_distribution", engine="native", cache_dir=str(tmp_path))
    for i in range(len(entries)):
        _, info = env.reset(options={"index": i})
        terminated = truncated = False
        while not (terminated or truncated):
            _, reward, terminated, truncated, info = env.step(info["expert_action"])
        assert terminated and reward == 1.0 and info["won"], info["task"].id
    env.close()


def test_the_native_engine_is_the_default_and_textworld_stays_one_argument_away(tmp_path: Path) -> None:
    import gymnasium as gym

    default = gym.make("sdar/ALFWorld-v0", split="eval_out_of_distribution", cache_dir=str(tmp_path))
    assert default.unwrapped.engine_name == "native"
    obs, info = default.reset(seed=5)
    reference = gym.make(
        "sdar/ALFWorld-v0", split="eval_out_of_distribution", cache_dir=str(tmp_path), engine="textworld"
    )
    assert reference.unwrapped.engine_name == "textworld"
    ref_obs, ref_info = reference.reset(seed=5)
    assert (obs, info["admissible_actions"]) == (ref_obs, ref_info["admissible_actions"])
    default.close()
    reference.close()
