"""A bounded load test of a WebShop server: concurrent env clients, each checking it only ever sees its own session.

    sdar-webshop load-test --clients 32 --steps 200 [--base-url http://127.0.0.1:3000] [catalog options]

Each client is a ``WebShopEnv`` (HTTP transport) in its own thread, on its own goals: it follows the oracle 70% of
the time and a random click otherwise (:class:`~sdar_envs.agents.NoisyExpertAgent`, seeded with the client's index;
a random search of ``tea``, ``black chair`` or ``lamp`` on the search page), resetting after each purchase. After
every step it checks isolation: a non-final page shows its own instruction, a results page its own last query, an
item page the product it opened, a done page the product it bought. Only loopback servers are meant as targets.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from sdar_envs.agents import NoisyExpertAgent
from sdar_envs.webshop.engine import canonical_query, parse_action

__all__ = ["LoadReport", "run_load"]

# The searches of a client's random steps on the search page (the random part clicks everywhere else).
_QUERIES = ("tea", "black chair", "lamp")


@dataclass
class LoadReport:
    """Outcome of :func:`run_load`: ``errors`` (exceptions) and ``isolation_violations`` must both be 0."""

    clients: int
    steps_per_client: int
    seconds: float
    steps: int = 0
    episodes: int = 0
    purchases: int = 0
    errors: list[str] = field(default_factory=list)
    isolation_violations: list[str] = field(default_factory=list)

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0


def _client(index: int, steps: int, make_env, report: LoadReport, lock: threading.Lock) -> None:
    rng = random.Random(index)  # the agent's draws and the next goal's index, in one reproducible stream
    agent = NoisyExpertAgent(0.7, rng=rng, exclude=("search[<query>]",), queries=_QUERIES)
    env = make_env()
    n_tasks = env.num_tasks
    done_steps = episodes = purchases = 0
    errors: list[str] = []
    violations: list[str] = []
    try:
        obs, info = env.reset(options={"index": (index * 7919) % n_tasks})
        agent.reset(obs, info)
        episodes += 1
        expected = {"query": "", "asin": ""}
        while done_steps < steps:
            page = env.page
            action = agent.act(obs, info)
            parsed = parse_action(action)
            if parsed and parsed[0] == "search":
                expected["query"] = canonical_query(parsed[1])
            elif (
                parsed
                and page is not None
                and page.kind == "results"
                and parsed[1] in [a.lower() for a in page.result_asins]
            ):
                expected["asin"] = parsed[1].upper()
            obs, _, terminated, _, info = env.step(action)
            done_steps += 1
            page = env.page
            task = info["task"]
            if page.kind != "done" and task.instruction not in page.texts:
                violations.append(f"client {index}: page without its own instruction: {obs[:120]!r}")
            if page.kind == "results" and page.keywords != expected["query"]:
                violations.append(f"client {index}: results for {page.keywords!r}, searched {expected['query']!r}")
            if page.kind in ("item", "sub") and expected["asin"] and page.asin != expected["asin"]:
                violations.append(f"client {index}: item {page.asin}, opened {expected['asin']}")
            if terminated:
                purchases += 1
                if info["purchased_asin"] != page.asin:
                    violations.append(f"client {index}: bought {page.asin}, info says {info['purchased_asin']}")
                obs, info = env.reset(options={"index": rng.randrange(n_tasks)})
                agent.reset(obs, info)
                episodes += 1
                expected = {"query": "", "asin": ""}
    except Exception as err:  # counted, reported by the caller
        errors.append(f"client {index}: {type(err).__name__}: {err}")
    finally:
        env.close()
        with lock:
            report.steps += done_steps
            report.episodes += episodes
            report.purchases += purchases
            report.errors.extend(errors)
            report.isolation_violations.extend(violations)


def run_load(make_env, *, clients: int = 32, steps: int = 200) -> LoadReport:
    """Run ``clients`` threads of ``steps`` env steps each; ``make_env()`` builds one HTTP ``WebShopEnv``."""
    report = LoadReport(clients, steps, 0.0)
    lock = threading.Lock()
    threads = [threading.Thread(target=_client, args=(i, steps, make_env, report, lock)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.seconds = time.perf_counter() - start
    return report
