"""``sdar/SearchQA-v0``: retrieval-augmented question answering in the Search-R1 protocol."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sdar_envs.core import Task, TextEnv, Verdict, lookup_task, make_info
from sdar_envs.retrieval import BACKENDS
from sdar_envs.searchqa.answer import normalize_answer
from sdar_envs.searchqa.context import adversarial_context, informative_context
from sdar_envs.searchqa.dataset import DatasetSpec, SearchQADataset, load_dataset
from sdar_envs.searchqa.generator import DEFAULT_NUM_PASSAGES, DEFAULT_SEED, SPLITS
from sdar_envs.searchqa.loaders import QARecord
from sdar_envs.searchqa.oracle import SearchQAOracle
from sdar_envs.searchqa.protocol import INVALID_ACTION_MESSAGE, format_information, parse_action, question_prompt
from sdar_envs.searchqa.verifier import SearchQAVerifier

__all__ = ["SearchQAEnv"]


class SearchQAEnv(TextEnv):
    """Answer a question by searching an encyclopedia, in the Search-R1 / verl-agent protocol.

    ## Description

    Each episode is one question. The agent searches a passage corpus with BM25 and finally answers; the reward is
    the exact match of the answer with the gold answers after Search-R1's ``normalize_answer``. By default the
    corpus (~50k passages) and questions are generated deterministically about fictional entities (see
    ``docs/searchqa.md``), so answers cannot come from pretraining; real Search-R1 data (wiki-18 + NQ/HotpotQA...)
    loads through ``corpus_path``/``qa_path`` or ``retriever_url``.

    ## Action Space

    Free text (``FreeText``, up to 8192 characters). The text is cut at the first ``</search>`` or ``</answer>``;
    what is kept must hold exactly one ``<search>query</search>`` or ``<answer>text</answer>`` block (neither, both
    or a repeated tag is invalid; rule in :mod:`sdar_envs.searchqa.protocol`). ``<think>`` text is ignored.

    ## Observation Space

    Free text. ``reset`` gives the question prompt (Search-R1's instruction structure ending ``Question: ...\\n``).
    A search gives ``"\\n\\n<information>Doc 1(Title: \\"T\\") text\\nDoc 2(...) ...</information>\\n\\n"`` with the
    top ``topk`` passages; an invalid action gives Search-R1's ``"\\nMy previous action is invalid. ..."`` message;
    an answer gives ``""``.

    ## Rewards

    Exact match (1.0 or 0.0) at the answer; 0 for searches and invalid actions. ``info`` then also carries ``f1``
    (token F1), ``substring_em`` and ``answer``.

    ## Starting State

    A question of the split: ``options={"task_id": ...}``, ``options={"index": i}``, or drawn with the env's seed.

    ## Episode End

    Terminated by an answer. Truncated by the registration's ``TimeLimit`` (``max_episode_steps=4``: with three
    searches the fourth action must answer; ``gym.make(..., max_episode_steps=n)`` changes it).

    After the end (a step returned ``terminated=True``), every step until the next ``reset`` returns the final
    observation again (``""`` after an answer), reward 0, ``terminated=True``, ``truncated=False`` and
    ``action_valid=False`` (the rule of :mod:`sdar_envs.core`, the same for every env): a second answer is never
    scored.

    ## Info

    The contract keys (``task``, ``won``, ``score``, ``action_valid``, ``admissible_actions=[]``,
    ``expert_action``: the oracle's next action for this episode, ``None`` once it ended), plus ``searches`` (count
    so far), after a search ``query`` and ``retrieved`` (doc ids shown), after the answer ``answer``, ``em``,
    ``f1`` and ``substring_em``. ``task.metadata`` holds ``golden_answers`` and ``support`` (gold passage ids); it
    is never part of an observation.

    ## Privileged Context

    ``env.get_wrapper_attr("privileged_context")(task_id, quality)`` (:meth:`~sdar_envs.core.TextEnv
    .privileged_context`) gives what the env knows and the agent does not, rendered as search results render
    passages (``Doc 1(Title: "T") text``): ``"informative"`` the question's gold evidence passages (its ``support``,
    in hop order); ``"random"`` another question's; ``"adversarial"`` one retrieved distractor per gold passage, titled
    differently and holding no gold answer (a namesake or a company named after one). Rules in
    :mod:`sdar_envs.searchqa.context`.

    ## Arguments

    * ``split``: ``"train"`` (in-domain families), ``"validation"`` or ``"test"`` (in-domain + out-of-domain); with
      ``qa_path`` just the label of the loaded questions.
    * ``data_sources``: keep only these ``data_source`` values (e.g. ``["three_hop"]`` or ``["nq"]``).
    * ``seed``, ``num_passages``, ``data_dir``: which generated set and where it is cached.
    * ``corpus_path``, ``qa_path``, ``index_path``, ``retriever_url``: real data (see
      :mod:`sdar_envs.searchqa.dataset`).
    * ``backend``: retrieval engine for local corpora (``"default"``, ``"tantivy"``, ``"bm25s"``, ``"lucene"``).
      These eight are a :class:`~sdar_envs.searchqa.dataset.DatasetSpec` (``env.dataset_spec``).
    * ``topk``: passages per search (3, as Search-R1).

    ## Version History

    * v0: Search-R1 protocol, generated corpus version ``sqa-2``.

    ## Example

    >>> import gymnasium as gym, sdar_envs
    >>> env = gym.make("sdar/SearchQA-v0", split="test")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(info["expert_action"])
    >>> obs.startswith("\\n\\n<information>Doc 1(Title: ")
    True
    """

    env_name = "searchqa"

    def __init__(
        self,
        split: str = "train",
        *,
        data_sources: Sequence[str] | None = None,
        seed: int = DEFAULT_SEED,
        num_passages: int = DEFAULT_NUM_PASSAGES,
        data_dir: str | os.PathLike[str] | None = None,
        corpus_path: str | os.PathLike[str] | None = None,
        qa_path: str | os.PathLike[str] | None = None,
        index_path: str | os.PathLike[str] | None = None,
        retriever_url: str | None = None,
        backend: str = "default",
        topk: int = 3,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode=render_mode)
        _check_arguments(
            split=split,
            data_sources=data_sources,
            seed=seed,
            num_passages=num_passages,
            generated=corpus_path is None and qa_path is None and retriever_url is None,
            backend=backend,
            topk=topk,
        )
        self.split = split
        self.topk = topk
        self.dataset_spec = DatasetSpec(
            seed=seed,
            num_passages=num_passages,
            data_dir=data_dir,
            corpus_path=corpus_path,
            qa_path=qa_path,
            index_path=index_path,
            retriever_url=retriever_url,
            backend=backend,
        )
        self.dataset: SearchQADataset = load_dataset(self.dataset_spec, split=split)
        if split not in self.dataset.splits:
            raise ValueError(f"unknown split {split!r}; this data has {sorted(self.dataset.splits)}")
        records = self.dataset.splits[split]
        if data_sources is not None:
            wanted = set(data_sources)
            records = [r for r in records if r["data_source"] in wanted]
            if not records:
                raise ValueError(f"no {split} questions have data_source in {sorted(wanted)}")
        self._tasks: dict[str, Task] = {r["id"]: self._task(r) for r in records}
        self._ids: list[str] = list(self._tasks)
        self.verifier = SearchQAVerifier()
        self.oracle = SearchQAOracle(lambda q, k: [doc_id for doc_id, _ in self.dataset.search(q, k)], topk)
        self._seen: set[str] = set()
        self._searches = 0
        self._verdict: Verdict | None = None

    def _task(self, record: QARecord) -> Task:
        metadata = {"golden_answers": list(record["golden_answers"]), "support": list(record.get("support") or [])}
        for key in ("oracle_queries", "template"):
            if key in record:
                metadata[key] = record[key]
        return Task(
            id=record["id"],
            env=self.env_name,
            split=self.split,
            instruction=record["question"],
            task_type=record["data_source"],
            data_source=record["data_source"],
            metadata=metadata,
        )

    # ---- TextEnv -------------------------------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        return self._ids

    def get_task(self, task_id: str) -> Task:
        return lookup_task(self._tasks, task_id, env="Search-QA", split=self.split)

    def _gold_passages(self, task: Task) -> list[str | None]:
        """The contents of the task's support passages (None where a ``/retrieve`` server does not return one for
        the oracle's query that should reach it)."""
        out: list[str | None] = []
        for position, doc_id in enumerate(task.metadata.get("support") or []):
            if self.dataset.documents is not None:
                out.append(self.dataset.documents.get(doc_id))
                continue
            hits = self.dataset.search(self.oracle.query_for(task, position), self.topk)
            out.append(next((contents for hit, contents in hits if hit == doc_id), None))
        return out

    def _informative_context(self, task: Task) -> str:
        return informative_context(task, self._gold_passages(task), self.dataset.search)

    def _same_answer(self, task: Task, other: Task) -> bool:
        golden = {normalize_answer(g) for g in task.metadata["golden_answers"]}
        return bool(golden & {normalize_answer(g) for g in other.metadata["golden_answers"]})

    def _adversarial_context(self, task: Task) -> str:
        return adversarial_context(task, self._gold_passages(task), self.dataset.search)

    def _info(self, *, action_valid: bool, **extra: Any) -> dict[str, Any]:
        assert self.task is not None
        verdict = self._verdict
        expert = None if verdict is not None else self.oracle.next_action(self.task, self._seen)
        return make_info(
            self.task,
            won=verdict is not None and verdict.success,
            score=verdict.score if verdict is not None else 0.0,
            action_valid=action_valid,
            admissible_actions=[],
            expert_action=expert,
            searches=self._searches,
            **extra,
        )

    def _reset_task(self, task: Task) -> tuple[str, dict[str, Any]]:
        self._seen = set()
        self._searches = 0
        self._verdict = None
        return question_prompt(task.instruction), self._info(action_valid=True)

    def _step_text(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert self.task is not None
        parsed = parse_action(action)
        if parsed.kind == "search":
            results = self.dataset.search(parsed.content, self.topk)
            self._searches += 1
            self._seen.update(doc_id for doc_id, _ in results)
            observation = format_information([contents for _, contents in results])
            info = self._info(action_valid=True, query=parsed.content, retrieved=[doc_id for doc_id, _ in results])
            return observation, 0.0, False, False, info
        if parsed.kind == "answer":
            self._verdict = self.verifier.verify(self.task, parsed.content)
            info = self._info(action_valid=True, **self._verdict.details)
            return "", self._verdict.score, True, False, info
        return INVALID_ACTION_MESSAGE, 0.0, False, False, self._info(action_valid=False)


#: Largest ``topk``: more passages than this would not fit the observation space (131,072 characters).
MAX_TOPK = 100


def _check_arguments(
    *,
    split: str,
    data_sources: Sequence[str] | None,
    seed: int,
    num_passages: int,
    generated: bool,
    backend: str,
    topk: int,
) -> None:
    """``ValueError`` naming every bad :class:`SearchQAEnv` argument and its valid values, before any data is
    generated, read or indexed."""
    problems = []
    if not isinstance(split, str) or (generated and split not in SPLITS):
        problems.append(f"split={split!r}: the generated data has the splits {', '.join(SPLITS)}")
    if data_sources is not None and (
        isinstance(data_sources, str) or not all(isinstance(source, str) for source in data_sources)
    ):
        problems.append(f"data_sources={data_sources!r}: a list of data_source names, e.g. ['three_hop']")
    if isinstance(seed, bool) or not isinstance(seed, int):
        problems.append(f"seed={seed!r}: an integer")
    if isinstance(num_passages, bool) or not isinstance(num_passages, int) or num_passages < 500:
        problems.append(f"num_passages={num_passages!r}: an integer of at least 500")
    if backend not in ("default", *BACKENDS):
        problems.append(f"backend={backend!r}: use one of {', '.join(('default', *BACKENDS))}")
    if isinstance(topk, bool) or not isinstance(topk, int) or not 1 <= topk <= MAX_TOPK:
        problems.append(f"topk={topk!r}: an integer from 1 to {MAX_TOPK} (Search-R1 uses 3)")
    if problems:
        raise ValueError("bad SearchQAEnv argument(s):\n  " + "\n  ".join(problems))
