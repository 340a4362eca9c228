"""``sdar/WebShop-v0``: contract, pages and navigation, both transports, the oracle, the server and its failures."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import gymnasium as gym
import pytest
import requests
from env_contract import assert_env_contract, assert_invalid_actions_are_harmless, assert_vector_envs_work
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sdar_envs  # noqa: F401  (registers the ids)
from sdar_envs.webshop import transport as transport_module
from sdar_envs.webshop.catalog import catalog_cli_args, open_catalog
from sdar_envs.webshop.engine import ActionTarget, Shop, admissible_actions, parse_action
from sdar_envs.webshop.pages import Page, State, page_signature, parse_html, render_html
from sdar_envs.webshop.reward import Purchase
from sdar_envs.webshop.server import ShopServer, bind_warning
from sdar_envs.webshop.transport import LocalServer, WebShopServerError, local_server

ENV_ID = "sdar/WebShop-v0"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "webshop-cache"


@pytest.fixture(scope="module")
def catalog(cache_dir):
    return open_catalog(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def shop(catalog):
    return Shop(catalog)


@pytest.fixture(scope="module")
def server_url(cache_dir, catalog):
    return local_server([*catalog_cli_args(cache_dir=cache_dir), "--search-backend", "default"]).url


@pytest.fixture
def env(cache_dir):
    environment = gym.make(ENV_ID, split="test", transport="inproc", cache_dir=cache_dir)
    yield environment
    environment.close()


def run_oracle(env, index: int, limit: int = 15):
    _, info = env.reset(options={"index": index})
    steps, reward = 0, 0.0
    while info.get("expert_action") and steps < limit:
        _, reward, _, _, info = env.step(info["expert_action"])
        steps += 1
    return reward, info, steps


# ---- contract -------------------------------------------------------------------------------------------------------
def test_inproc_env_passes_the_env_contract(cache_dir):
    assert_env_contract(ENV_ID, split="test", transport="inproc", cache_dir=cache_dir)


def test_http_env_passes_the_env_contract(cache_dir, server_url):
    assert_env_contract(ENV_ID, split="test", cache_dir=cache_dir)  # locally hosted by default


def test_first_observation_is_webshops_search_page(env, catalog):
    obs, info = env.reset(options={"index": 0})
    goal = catalog.goals[0]["instruction_text"]
    assert obs == f"WebShop [SEP] Instruction: [SEP] {goal} [SEP] Search"
    assert info["admissible_actions"] == ["search[<query>]"]
    assert info["task"].id == "fixed_0" and info["task"].instruction == goal
    assert info["score"] == 0.0 and info["won"] is False


def test_the_registered_step_limit_is_15(cache_dir):
    environment = gym.make(ENV_ID, transport="inproc", cache_dir=cache_dir)
    assert environment.spec.max_episode_steps == 15
    environment.reset(seed=0)
    truncated = False
    for _ in range(15):
        _, _, terminated, truncated, _ = environment.step("click[nothing]")
    assert truncated and not terminated
    environment.close()


# ---- pages and navigation -------------------------------------------------------------------------------------------
def test_results_pages_show_ten_rows_with_prev_from_page_two_and_next_everywhere(env):
    env.reset(options={"index": 1})
    obs, _, _, _, info = env.step("search[black white brown gray]")
    assert "Back to Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP]" in obs
    assert "< Prev" not in obs
    assert sum(a.startswith("click[b0") for a in info["admissible_actions"]) == 10
    for page in range(2, 6):
        obs, _, _, _, info = env.step("click[Next >]")
        assert f"Page {page} (Total results: 50) [SEP] < Prev [SEP] Next >" in obs
    obs, _, _, _, info = env.step("click[next >]")  # past the last result: an empty page, still with Next >
    assert obs.endswith("Page 6 (Total results: 50) [SEP] < Prev [SEP] Next >")
    assert info["admissible_actions"] == ["click[back to search]", "click[< prev]", "click[next >]"]
    obs, _, _, _, _ = env.step("click[< prev]")
    assert "Page 5 (Total results: 50)" in obs


def test_item_page_lists_options_title_price_and_buttons(env, catalog):
    env.reset(options={"index": 2})
    _, _, _, _, info = env.step("search[coffee table]")
    asin_action = next(a for a in info["admissible_actions"] if a.startswith("click[b0"))
    obs, _, _, _, info = env.step(asin_action)
    product = catalog.products[asin_action[6:-1].upper()]
    parts = obs.split(" [SEP] ")
    assert parts[2:4] == ["Back to Search", "< Prev"]
    assert parts[-7:] == [
        product["Title"],
        f"Price: {product['Price']}",
        "Rating: N.A.",
        "Description",
        "Features",
        "Reviews",
        "Buy Now",
    ]
    for name, values in product["options"].items():
        assert " [SEP] ".join([name, *values]) in obs
        assert all(f"click[{v}]" in info["admissible_actions"] for v in values)


def test_sub_pages_show_description_and_features_and_prev_keeps_chosen_options(env, catalog):
    env.reset(options={"index": 3})
    target = catalog.goals[3]
    env.step(f"search[{target['name']}]")
    env.step(f"click[{target['asin'].lower()}]")
    value = target["goal_options"][0]
    env.step(f"click[{value}]")
    obs, _, _, _, _ = env.step("click[description]")
    assert obs.endswith(catalog.products[target["asin"]]["Description"])
    obs, _, _, _, info = env.step("click[< prev]")
    assert info["page"] == "item"
    page = env.unwrapped.page
    assert value in page.selected.values()
    obs, _, _, _, _ = env.step("click[features]")
    assert obs.endswith(" [SEP] ".join(catalog.products[target["asin"]]["BulletPoints"]))
    env.step("click[< prev]")
    obs, _, _, _, _ = env.step("click[reviews]")
    assert obs.endswith("Back to Search [SEP] < Prev")  # reviews are empty, as upstream


def test_click_search_and_search_off_the_search_page_are_refused(env):
    obs, _ = env.reset(options={"index": 4})
    same, reward, _, _, info = env.step("click[search]")
    assert same == obs and reward == 0.0 and info["action_valid"] is False
    env.step("search[pasta]")
    results, _, _, _, _ = env.step("click[next >]")
    again, _, _, _, info = env.step("search[pasta]")
    assert again == results and info["action_valid"] is False


def test_buying_ends_the_episode_with_the_reward_and_purchase_info(env, catalog):
    reward, info, _ = run_oracle(env, 5)
    assert reward == 1.0 and info["won"] is True and info["score"] == 1.0
    assert info["purchased_asin"] == catalog.goals[5]["asin"]
    assert sorted(info["purchased_options"].values()) == sorted(catalog.goals[5]["goal_options"])
    assert info["reward_details"]["r_type"] == 1.0
    assert info["admissible_actions"] == [] and info["expert_action"] is None
    obs = env.unwrapped.page.observation
    assert obs.startswith("Thank you for shopping with us! [SEP] Purchased")
    after, reward_after, terminated, _, info_after = env.unwrapped.step("click[buy now]")
    assert after == obs and reward_after == 0.0 and terminated and info_after["action_valid"] is False


def test_buying_without_options_scores_less_than_one(env, catalog):
    index = next(i for i in range(500) if catalog.goals[i]["goal_options"])
    goal = catalog.goals[index]
    env.reset(options={"index": index})
    env.step(f"search[{goal['name']}]")
    env.step(f"click[{goal['asin']}]")  # labels are case-insensitive
    _, reward, terminated, _, info = env.step("click[Buy Now]")
    assert terminated and 0.0 < reward < 1.0 and info["won"] is False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.text(max_size=80) | st.sampled_from(["search[]", "click[]", "click[ ]", "search [x", "[click]"]))
def test_arbitrary_action_strings_never_raise(env, action):
    assert_invalid_actions_are_harmless(env, [action])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=60))
def test_any_search_query_gives_a_results_page(env, query):
    env.reset(options={"index": 0})
    obs, reward, _, _, info = env.step(f"search[{query}]")
    if info["action_valid"]:
        assert info["page"] == "results" and "(Total results: " in obs
    assert reward == 0.0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=40))
@example(query="\ud800 lone surrogate")
@example(query="a\x00b\x0c c")
@example(query='<b>&amp; "quotes" + plus %20 /slash ?q=1#frag')
def test_any_search_query_gives_the_same_page_over_http_and_in_process(cache_dir, server_url, query):
    inproc = gym.make(ENV_ID, transport="inproc", cache_dir=cache_dir).unwrapped
    http = gym.make(ENV_ID, base_url=server_url, cache_dir=cache_dir).unwrapped
    inproc.reset(options={"index": 1})
    http.reset(options={"index": 1})
    _, _, _, _, info_a = inproc.step(f"search[{query}]")
    _, _, _, _, info_b = http.step(f"search[{query}]")
    assert info_a["action_valid"] == info_b["action_valid"]
    assert page_signature(inproc.page) == page_signature(http.page)
    http.close()


def test_parse_action_accepts_upstreams_forms_only():
    assert parse_action("search[red shoes]") == ("search", "red shoes")
    assert parse_action(" Click[ Buy Now ] ") == ("click", "Buy Now")
    assert parse_action("click[a[b]c]") == ("click", "a[b]c")
    for bad in ("search[]", "buy", "click buy now", "think[x]", "search[x] extra"):
        assert parse_action(bad) is None


def test_resolve_says_whether_an_action_follows_a_link_or_submits_a_search(shop, catalog):
    task = catalog.task(0)
    search_page = shop.render(State("search"), task)
    assert Shop.resolve(search_page, "search[  Red   SHOES ]") == ActionTarget("search", query="red shoes")
    assert Shop.resolve(search_page, "click[search]") is None  # refused, as upstream does
    assert Shop.resolve(search_page, "search[ \t ]") is None
    results = shop.render(State("results", "red shoes", 1), task)
    assert Shop.resolve(results, "click[Next >]") == ActionTarget("link", link=State("results", "red shoes", 2))
    assert Shop.resolve(results, "search[more]") is None  # no search bar here
    parsed = parse_html(render_html(results, "sid-1"))
    url = "/search_results/sid-1?keywords=red+shoes&page=2"
    assert Shop.resolve(parsed, "click[next >]") == ActionTarget("link", link=url)  # a URL after parsing HTML


# ---- HTML and transports --------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(instruction=st.text(min_size=1, max_size=80))
def test_html_round_trips_to_the_same_page_for_any_instruction(shop, catalog, instruction):
    task = catalog.task(0)
    task = type(task)(task.id, task.env, task.split, instruction, task.task_type, task.data_source, task.metadata)
    asin = catalog.goals[0]["asin"]
    states = [
        State("search"),
        State("results", "coffee table", 2),
        State("item", "x", 1, asin, (("color", "black"),)),
        State("sub", "x", 1, asin, (), "Features"),
        State("done", asin=asin),
    ]
    for state in states:
        page = shop.render(state, task)
        parsed = parse_html(render_html(page, "sid-1"))
        assert page_signature(parsed) == page_signature(page)


def _scripted_actions(rng: random.Random, page: Page, expert: str | None) -> str:
    if expert is not None and rng.random() < 0.6:
        return expert
    choices = [*admissible_actions(page), "search[red]", "click[nope]", "garbage"]
    action = rng.choice(choices)
    return "search[black chair]" if action == "search[<query>]" else action


def test_http_and_inproc_transports_give_identical_episodes(cache_dir, server_url):
    inproc = gym.make(ENV_ID, transport="inproc", cache_dir=cache_dir).unwrapped
    http = gym.make(ENV_ID, base_url=server_url, cache_dir=cache_dir).unwrapped
    try:
        for episode in range(6):
            rng = random.Random(episode)
            obs_a, info_a = inproc.reset(options={"index": episode * 37})
            obs_b, info_b = http.reset(options={"index": episode * 37})
            assert obs_a == obs_b
            for _ in range(15):
                assert page_signature(inproc.page) == page_signature(http.page)
                assert info_a["admissible_actions"] == info_b["admissible_actions"]
                assert info_a["expert_action"] == info_b["expert_action"]
                action = _scripted_actions(rng, inproc.page, info_a["expert_action"])
                obs_a, r_a, term_a, _, info_a = inproc.step(action)
                obs_b, r_b, term_b, _, info_b = http.step(action)
                assert (obs_a, r_a, term_a, info_a["action_valid"]) == (obs_b, r_b, term_b, info_b["action_valid"])
                if term_a:
                    assert info_a["reward_details"] == info_b["reward_details"]
                    break
    finally:
        inproc.close()
        http.close()


# ---- the oracle -----------------------------------------------------------------------------------------------------
def test_oracle_solves_every_test_goal(cache_dir):
    environment = gym.make(ENV_ID, split="test", transport="inproc", cache_dir=cache_dir)
    failures = []
    for index in range(environment.unwrapped.num_tasks):
        reward, _, steps = run_oracle(environment, index)
        if reward != 1.0:
            failures.append((index, reward, steps))
    environment.close()
    assert failures == []


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, 1599))
def test_the_oracles_purchase_always_scores_one(shop, catalog, index):
    goal = catalog.goals[index]
    product = catalog.products[goal["asin"]]
    wanted = goal["goal_options"]
    options = {name: next(v for v in values if v in wanted) for name, values in product["options"].items()}
    verdict = shop.verifier.verify(catalog.task(index), Purchase(goal["asin"], options))
    assert verdict.score == 1.0 and verdict.success


# ---- the server -----------------------------------------------------------------------------------------------------
def test_server_sessions_are_isolated(server_url, catalog):
    http = requests.Session()
    a = parse_html(http.get(f"{server_url}/alice?goal=10").text)
    b = parse_html(http.get(f"{server_url}/bob?goal=11").text)
    assert catalog.goals[10]["instruction_text"] in a.texts and catalog.goals[11]["instruction_text"] in b.texts
    a = parse_html(http.get(server_url + a.links["search"], params={"keywords": "tea", "page": 1}).text)
    b_again = parse_html(http.get(f"{server_url}/bob").text)
    assert b_again.texts == b.texts
    assert catalog.goals[10]["instruction_text"] in a.texts
    fixed = parse_html(http.get(f"{server_url}/fixed_12").text)
    assert catalog.goals[12]["instruction_text"] in fixed.texts
    missing = http.get(f"{server_url}/search_results/nobody?keywords=tea")
    assert missing.status_code == 404 and "goal=" in missing.text
    info = http.get(f"{server_url}/api/info").json()
    assert info["fingerprint"] == catalog.fingerprint and info["products"] == 1000
    assert server_url.startswith("http://127.0.0.1:")


def test_vector_envs_run_async_against_one_server(cache_dir, server_url):
    assert_vector_envs_work(
        ENV_ID, num_envs=8, mode="async", steps=4, base_url=server_url, cache_dir=str(cache_dir), split="test_128"
    )


def test_a_killed_server_gives_an_error_naming_its_url_and_reset_restarts_it(cache_dir):
    environment = gym.make(ENV_ID, cache_dir=cache_dir, noun_method="lexicon")  # other options: its own server
    try:
        _, info = environment.reset(options={"index": 0})
        server = environment.unwrapped.local_server
        server.process.kill()
        server.process.wait()
        with pytest.raises(WebShopServerError, match=server.url.replace(".", r"\.")):
            environment.step(info["expert_action"])
        _, info = environment.reset(options={"index": 0})
        restarted = environment.unwrapped.local_server
        assert restarted is not server and restarted.alive()
        _, _, _, _, info = environment.step(info["expert_action"])
        assert info["action_valid"] and info["page"] == "results"
    finally:
        environment.close()


def test_a_server_with_another_catalog_is_refused(cache_dir, server_url):
    environment = gym.make(ENV_ID, base_url=server_url, cache_dir=cache_dir, products=200, goals=150)
    with pytest.raises(ValueError, match="serves catalog"):
        environment.reset(seed=0)
    environment.close()


# ---- the server under hostile clients -------------------------------------------------------------------------------
@pytest.fixture
def own_server(shop):
    """A ShopServer in this process with small limits, stopped after the test; yields a function making one."""
    servers = []

    def start(**limits):
        server = ShopServer(shop, port=0, **limits)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_sessions_goal_is_set_once_and_a_stranger_cannot_rebind_a_live_env(cache_dir, server_url, catalog):
    http = requests.Session()
    conflict = http.get(f"{server_url}/fixed_1?goal=5")
    assert conflict.status_code == 409 and "always plays goal 1" in conflict.text
    assert parse_html(http.get(f"{server_url}/fixed_1?goal=1").text).goal == 1
    environment = gym.make(ENV_ID, base_url=server_url, cache_dir=cache_dir)
    try:
        _, info = environment.reset(options={"index": 7})
        session = environment.unwrapped.transport.session_id
        stolen = http.get(f"{server_url}/{session}?goal=5")  # a stranger tries to rebind the env's own session
        assert stolen.status_code == 409 and "already plays goal 7" in stolen.text
        reward = 0.0
        while info["expert_action"]:
            _, reward, _, _, info = environment.step(info["expert_action"])
        assert reward == 1.0 and info["task"].id == "fixed_7"
        assert info["task"].instruction == catalog.goals[7]["instruction_text"]
    finally:
        environment.close()


def test_the_env_refuses_a_page_played_for_another_goal(cache_dir, server_url):
    environment = gym.make(ENV_ID, base_url=server_url, cache_dir=cache_dir)
    try:
        environment.reset(options={"index": 3})
        environment.unwrapped.transport.goal = 4  # as if the server had rebound the session to goal 3
        with pytest.raises(WebShopServerError, match="for goal 3, not goal 4 as this env asked"):
            environment.step("search[red]")
    finally:
        environment.close()


def test_a_flood_of_new_sessions_never_evicts_a_live_env_session(cache_dir, own_server):
    server = own_server(max_sessions=20, idle_timeout=60.0)
    environment = gym.make(ENV_ID, base_url=server.url, cache_dir=cache_dir)
    http = requests.Session()
    try:
        _, info = environment.reset(options={"index": 0})
        answers = [http.get(f"{server.url}/flood-{i}?goal=1") for i in range(60)]
        codes = [a.status_code for a in answers]
        assert codes.count(200) == 19 and codes.count(503) == 41  # the env's session holds the 20th place
        assert answers[-1].headers["Retry-After"] == "5" and "holds 20 sessions" in answers[-1].text
        while info["expert_action"]:
            _, reward, _, _, info = environment.step(info["expert_action"])
        assert reward == 1.0
    finally:
        environment.close()


def test_an_env_whose_idle_session_was_dropped_recreates_it_and_sees_the_same_page(cache_dir, own_server):
    server = own_server(max_sessions=5, idle_timeout=0.0)  # every session counts as idle: any flood drops it
    http_env = gym.make(ENV_ID, base_url=server.url, cache_dir=cache_dir).unwrapped
    inproc = gym.make(ENV_ID, transport="inproc", cache_dir=cache_dir).unwrapped
    http = requests.Session()
    try:
        http_env.reset(options={"index": 9})
        inproc.reset(options={"index": 9})
        for action in ("search[table]", "click[next >]"):
            for i in range(10):
                assert http.get(f"{server.url}/stranger-{action}-{i}?goal=2").status_code == 200
            assert http_env.transport.session_id not in server.sessions
            assert http_env.step(action)[:4] == inproc.step(action)[:4]
            assert page_signature(http_env.page) == page_signature(inproc.page)
    finally:
        http_env.close()
        inproc.close()


def test_every_server_response_says_nosniff(server_url):
    http = requests.Session()
    for path in ("/fixed_0", "/nobody", "/fixed_0?goal=3", "/api/info", "/a/b/c/d", "/search_results/x?keywords=a"):
        response = http.get(server_url + path, allow_redirects=False)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert http.get(server_url + "/", allow_redirects=False).headers["X-Content-Type-Options"] == "nosniff"


def test_absurdly_nested_option_json_in_a_url_gets_a_page_not_a_dropped_connection(server_url, catalog):
    asin = catalog.goals[0]["asin"]
    response = requests.get(f"{server_url}/item_page/fixed_0", params={"asin": asin, "options": "[" * 5_000})
    assert response.status_code == 200 and parse_html(response.text).selected == {}


def test_binding_every_interface_warns_that_the_shop_has_no_authentication():
    assert bind_warning("127.0.0.1") is None and bind_warning("::1") is None
    warning = bind_warning("0.0.0.0")
    assert warning.startswith("WARNING: the WebShop server binds 0.0.0.0") and "no authentication" in warning


def test_a_server_that_cannot_start_reports_its_own_error():
    with pytest.raises(RuntimeError, match=r"did not start[\s\S]*argument --noun-method: invalid choice: 'x'"):
        LocalServer(["--noun-method", "x"])


def test_env_arguments_are_checked_before_any_server_starts(cache_dir):
    with pytest.raises(ValueError, match=r"noun_method='x': use one of spacy, lexicon or None"):
        gym.make(ENV_ID, noun_method="x", cache_dir=cache_dir)
    with pytest.raises(
        ValueError, match=r"products=3: an integer of at least 10\n  search_backend=.elastic.: use one of default"
    ):
        gym.make(ENV_ID, search_backend="elastic", products=3, cache_dir=cache_dir)
    with pytest.raises(ValueError, match=r"timeout=0: seconds"):
        gym.make(ENV_ID, timeout=0, cache_dir=cache_dir)


def _stop(process) -> None:
    """SIGSTOP ``process`` and wait until the kernel shows it stopped (delivery is asynchronous)."""
    os.kill(process.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{process.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.01)


def test_a_stopped_local_server_is_restarted_on_the_next_reset(cache_dir):
    environment = gym.make(ENV_ID, cache_dir=cache_dir, upstream_option_quirk=True, timeout=2.0)  # its own server
    try:
        _, info = environment.reset(options={"index": 0})
        server = environment.unwrapped.local_server
        _stop(server.process)
        started = time.monotonic()
        with pytest.raises(WebShopServerError, match="is not reachable"):
            environment.step(info["expert_action"])
        assert time.monotonic() - started < 10
        _, info = environment.reset(options={"index": 0})
        restarted = environment.unwrapped.local_server
        assert restarted is not server and restarted.alive() and server.process.poll() is not None
        _, _, _, _, info = environment.step(info["expert_action"])
        assert info["action_valid"] and info["page"] == "results"
        _stop(restarted.process)  # stopped between episodes: no step has to time out first
        _, info = environment.reset(options={"index": 1})
        assert environment.unwrapped.local_server is not restarted and restarted.process.poll() is not None
        assert info["task"].id == "fixed_1"
    finally:
        environment.close()


def test_a_local_server_that_stops_answering_during_a_reset_is_restarted_and_the_reset_retried(cache_dir, monkeypatch):
    environment = gym.make(ENV_ID, cache_dir=cache_dir, upstream_option_quirk=True, timeout=1.0)
    try:
        environment.reset(options={"index": 0})
        server = environment.unwrapped.local_server
        _stop(server.process)
        # as where /proc is missing, or the stop lands between the check and the request: it looks alive
        monkeypatch.setattr(LocalServer, "alive", lambda self: self.process.poll() is None)
        monkeypatch.setattr(transport_module, "PROBE_TIMEOUT", 1.0)
        _, info = environment.reset(options={"index": 2})
        assert environment.unwrapped.local_server is not server and info["task"].id == "fixed_2"
        assert server.process.poll() is not None
    finally:
        environment.close()
