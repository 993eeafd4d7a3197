"""Rule train_s3: the training pool from the naive-RAG cache, then PPO on the engine `train.engine` names (the
local trainer, or verl with the retriever and vLLM generators served from this job)."""

from __future__ import annotations

import json
import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3core.config.sections import RewardConfig, SearchConfig, SearcherConfig, TrainConfig
from s3core.data.jsonl import read_jsonl
from s3core.stages.services import Answering, RetrieverAccess, retriever_client

log = logging.getLogger("s3core")


@dataclass(frozen=True)
class TrainingJob:
    """One training run: the naive-RAG `cache`, the run folder `out`, and the config sections it reads."""

    cache: Path
    out: Path
    access: RetrieverAccess
    answering: Answering
    search: SearchConfig
    searcher: SearcherConfig
    train: TrainConfig
    reward: RewardConfig


def train(job: TrainingJob) -> list[dict[str, Any]]:
    """Train the searcher; the logbook rows (one per PPO step)."""
    from s3core.search.reward import training_pool

    pool = training_pool(read_jsonl(job.cache), job.train.drop_rag_correct, job.train.drop_yes_no)
    log.info("training pool: %d of the cached questions", len(pool))
    rows = _train_verl(job, pool) if job.train.engine == "verl" else _train_local(job, pool)
    if rows:
        log.info("last step: %s", json.dumps(rows[-1]))
    return rows


def _train_local(job: TrainingJob, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The built-in trainer in this process."""
    from s3core.config.training_fingerprint import fingerprint
    from s3core.search.prompt import load_prompt
    from s3core.train.environment import S3Environment
    from s3core.train.loop import train

    generator, judge_model = job.answering.load()
    with ExitStack() as stack:
        client = retriever_client(stack, job.search.retriever, job.access)
        prompt = load_prompt(job.searcher.prompt_file)
        environment = S3Environment(client.search, generator, judge_model, job.search, job.reward, prompt)
        model = job.searcher.model
        shaping = fingerprint(job.train, job.search, job.reward, model, pool)
        return train(pool, environment, model, job.out, job.train, job.searcher, job.search.temperature, shaping)


def _train_verl(job: TrainingJob, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """verl's PPO (on the job's Ray cluster); the retriever and vLLM generators run here for its workers."""
    from s3core.verl_engine.launch import (
        answering,
        check_generator_gpus,
        gpu_plan,
        reachable_generators,
        reachable_host,
        train_with_verl,
    )

    who = job.answering
    who.check()
    plan = gpu_plan(dict(os.environ), job.train)
    check_generator_gpus(who.generators, answering(who.generator, who.judge), plan)
    host = reachable_host(plan.nodes)
    with ExitStack() as stack:
        client = retriever_client(stack, job.search.retriever, job.access, host)
        generators = reachable_generators(stack, who.generators, who.generator, who.judge, host, plan.generator_devices)
        spec = {
            "search": job.search,
            "reward": job.reward,
            "retriever_url": client.url,
            "retriever_client": job.access.retriever.client,
            "generator": who.generator,
            "prompt_file": job.searcher.prompt_file,
            "generators": generators,
            "judge": who.judge,
        }
        return train_with_verl(pool, spec, job.searcher.model, job.out, job.train, job.search, plan)
