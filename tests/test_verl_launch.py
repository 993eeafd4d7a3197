"""The verl engine's launcher parts that need no verl: the allocation's shape, where sidecars listen, the
agent-loop registry, metrics across a resumed run, checkpoint-merge failures, and the CLI's refusal to start
verl without GPUs."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from jobs import job_json

from s3core.cli import main
from s3core.config import schema as config
from s3core.config.sections import GeneratorConfig, SearchConfig, TrainConfig, parse, to_dict
from s3core.config.training_fingerprint import fingerprint, guard
from s3core.data.jsonl import write_jsonl
from s3core.errors import ConfigError, S3Error
from s3core.verl_engine.launch import (
    GpuPlan,
    check_failures,
    check_generator_gpus,
    check_pool,
    check_prompt_lengths,
    gpu_plan,
    merge_searcher,
    metric_rows,
    ray_init_overrides,
    reachable_generators,
    reachable_host,
    write_agent_loops,
)

TRAIN: TrainConfig = parse("train", {})
ROOT = Path(__file__).resolve().parents[1]


def train_with(batch_size: int = 120, mini_batch_size: int = 30, micro_batch_size: int = 1, **verl) -> TrainConfig:
    return replace(
        TRAIN,
        batch_size=batch_size,
        mini_batch_size=mini_batch_size,
        micro_batch_size=micro_batch_size,
        verl=replace(TRAIN.verl, **verl),
    )


def test_the_gpu_plan_reads_the_allocation_and_sets_gpus_aside_for_the_generator():
    env = {"SLURM_JOB_NUM_NODES": "2", "CUDA_VISIBLE_DEVICES": "0,1,2,3"}
    assert gpu_plan(env, train_with(mini_batch_size=40)) == GpuPlan(2, 4, None, None)
    assert gpu_plan({"CUDA_VISIBLE_DEVICES": "0"}, train_with(4, 2)) == GpuPlan(1, 1, None, None)
    assert gpu_plan(env, train_with(n_gpus_per_node=3)).gpus_per_node == 3
    eight = {"CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}
    assert gpu_plan(eight, train_with(generator_gpus=2)) == GpuPlan(1, 6, "2,3,4,5,6,7", "0,1")


def test_the_gpu_plan_refuses_what_verl_cannot_run_with_the_keys_to_change():
    with pytest.raises(S3Error, match="resources.train_s3.gpu"):
        gpu_plan({"CUDA_VISIBLE_DEVICES": ""}, train_with())
    with pytest.raises(S3Error, match="generator_gpus is 2, but the job sees 2"):
        gpu_plan({"CUDA_VISIBLE_DEVICES": "0,1"}, train_with(generator_gpus=2))
    eight = {"CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}
    with pytest.raises(S3Error, match=r"train.batch_size \(120\) evenly over its 7 GPU"):
        gpu_plan(eight, train_with(generator_gpus=1))
    with pytest.raises(S3Error, match=r"train.mini_batch_size \(30\) evenly over its 8 GPU"):
        gpu_plan(eight, train_with())


def test_each_gpus_share_of_a_mini_batch_splits_into_whole_micro_batches():
    """The paper's plan: 6 GPUs get 5 rows of each 30-row mini-batch, so 4 sequences per micro-batch cannot be."""
    eight = {"CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}
    with pytest.raises(
        S3Error,
        match=r"each of verl's 6 GPU\(s\) gets 5 rows of train.mini_batch_size \(30\), "
        r"which train.micro_batch_size \(4\) does not divide",
    ):
        gpu_plan(eight, train_with(micro_batch_size=4, generator_gpus=2))
    assert gpu_plan(eight, train_with(micro_batch_size=5, generator_gpus=2)).gpus_per_node == 6
    paper = config.load(ROOT / "config" / "paper.yaml")
    assert gpu_plan(eight, parse("train", paper["train"])).gpus_per_node == 6


def test_a_vllm_generator_never_shares_verls_gpus_and_a_pool_fills_a_batch():
    generators = parse("generators", {"g": {"backend": "vllm", "model": "m"}, "h": {"backend": "hf", "model": "m"}})
    with pytest.raises(S3Error, match="generator 'g' \\(backend vllm\\) would start on the GPUs verl trains on"):
        check_generator_gpus(generators, {"g"}, GpuPlan(1, 8, None, None))
    check_generator_gpus(generators, {"g"}, GpuPlan(1, 6, "2,3,4,5,6,7", "0,1"))
    check_generator_gpus(generators, {"h"}, GpuPlan(1, 8, None, None))
    with pytest.raises(S3Error, match="the training pool has 2 questions, fewer than one batch"):
        check_pool([{}, {}], train_with(batch_size=4))


def test_checkpoints_of_other_settings_are_refused_not_resumed(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    guard(checkpoints, {"train": {"actor_lr": 1e-6}}, "global_step_*")
    (checkpoints / "global_step_20").mkdir()
    guard(checkpoints, {"train": {"actor_lr": 1e-6}}, "global_step_*")  # same settings: resume
    with pytest.raises(S3Error, match="global_step_20\\) of other training settings .* delete .*checkpoints"):
        guard(checkpoints, {"train": {"actor_lr": 1e-5}}, "global_step_*")
    (checkpoints / "s3_settings.json").unlink()
    with pytest.raises(S3Error, match="of other training settings"):  # unknown provenance: refused too
        guard(checkpoints, {"train": {"actor_lr": 1e-6}}, "global_step_*")
    search, reward = parse("search", {}), parse("reward", {})
    assert fingerprint(replace(TRAIN, steps=20, actor_lr=1e-6), search, reward, "m", []) == fingerprint(
        replace(TRAIN, steps=30, actor_lr=1e-6), search, reward, "m", []
    )  # more steps continue a run


def test_failed_episodes_fail_the_job_with_the_first_error(tmp_path):
    check_failures(tmp_path / "none.jsonl")
    write_jsonl(tmp_path / "failures.jsonl", [{"id": "q1", "error": "S3Error: boom"}, {"id": "q2", "error": "x"}])
    with pytest.raises(S3Error, match="2 episode\\(s\\) failed .* question 'q1': S3Error: boom"):
        check_failures(tmp_path / "failures.jsonl")


def test_one_node_gets_a_ray_of_its_own_with_the_jobs_cpus():
    assert ray_init_overrides({"SLURM_CPUS_ON_NODE": "64", "RAY_ADDRESS": "x:1"}, 1) == [
        "+ray_kwargs.ray_init.address=local",
        "ray_kwargs.ray_init.num_cpus=64",
    ]
    assert ray_init_overrides({}, 1) == ["+ray_kwargs.ray_init.address=local"]
    assert ray_init_overrides({"SLURM_CPUS_ON_NODE": "64"}, 2) == []


def test_generator_gpus_are_refused_across_nodes():
    data = config.validate(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    data["train"].update(engine="verl", verl={**data["train"]["verl"], "generator_gpus": 1})
    data["resources"]["train_s3"] = {"nodes": 2}
    with pytest.raises(ConfigError, match="train.verl.generator_gpus"):
        config.check_across_keys(data)


def test_sidecars_listen_on_loopback_unless_other_nodes_call_them():
    assert reachable_host(1) == "127.0.0.1"
    assert reachable_host(2) not in ("127.0.0.1", "localhost", "")


def test_the_agent_loop_registry_names_s3s_loop_and_its_services(tmp_path):
    path = write_agent_loops(tmp_path / "agent_loops.yaml", tmp_path / "services.json")
    [entry] = yaml.safe_load(path.read_text())
    assert entry == {
        "name": "s3_searcher",
        "_target_": "s3core.verl_engine.agent_loop.S3AgentLoop",
        "services_path": str(tmp_path / "services.json"),
    }


def test_metrics_of_a_resumed_run_keep_every_step_once_the_newest_winning(tmp_path):
    first, second = tmp_path / "metrics.1.jsonl", tmp_path / "metrics.2.jsonl"
    write_jsonl(
        first,
        [
            {"step": 1, "data": {"critic/score/mean": 0.1}},
            {"step": 2, "data": {"critic/score/mean": 0.2, "actor/entropy": 0.9}},
        ],
    )
    write_jsonl(second, [{"step": 2, "data": {"critic/score/mean": 0.25}}, {"step": 3, "data": {}}])
    episodes = tmp_path / "episodes.1.jsonl", tmp_path / "episodes.2.jsonl"
    write_jsonl(
        episodes[0],
        [
            {"step": 1, "genacc": 1.0, "searches": 2.0},
            {"step": 1, "genacc": 0.0, "searches": 0.0},
            {"step": 2, "genacc": 0.0, "searches": 1.0},
        ],
    )
    write_jsonl(episodes[1], [{"step": 2, "genacc": 1.0, "searches": 3.0}])
    rows = metric_rows([first, second], list(episodes))
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[0] == {"step": 1, "reward": 0.1, "critic/score/mean": 0.1, "genacc": 0.5, "searches": 1.0}
    assert rows[1] == {"step": 2, "reward": 0.25, "critic/score/mean": 0.25, "genacc": 1.0, "searches": 3.0}
    assert rows[2]["reward"] is None
    write_jsonl(episodes[1], [{"step": 2, "gbr": g} for g in (1.0, 0.0, 0.0, -1.0)])  # the GBR distribution
    assert {k: v for k, v in metric_rows([second], [episodes[1]])[0].items() if k.startswith("gbr")} == {
        "gbr": 0.0,
        "gbr_below": 0.25,
        "gbr_zero": 0.5,
        "gbr_above": 0.25,
    }


def test_a_missing_checkpoint_names_the_step_and_path(tmp_path):
    with pytest.raises(S3Error, match="no actor checkpoint for step 3 at .*global_step_3/actor"):
        merge_searcher(tmp_path / "checkpoints", 3, tmp_path / "searcher", tmp_path / "verl.log")


def test_a_failed_merge_names_its_log_and_keeps_the_previous_searcher(tmp_path):
    (tmp_path / "checkpoints" / "global_step_2" / "actor").mkdir(parents=True)
    target = tmp_path / "searcher"
    target.mkdir()
    (target / "config.json").write_text("{}")
    log = tmp_path / "verl.log"
    with pytest.raises(S3Error, match=f"verl's model merger exited with code [1-9].*see {log}"):
        merge_searcher(tmp_path / "checkpoints", 2, target, log)
    assert log.read_text() and (target / "config.json").read_text() == "{}"


def test_train_with_verl_and_no_gpus_fails_before_starting_anything(
    tmp_path, small_corpus, bm25_index, retriever_config, caplog, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    caplog.set_level(logging.ERROR)
    cache = tmp_path / "cache.jsonl"
    write_jsonl(
        cache, [{"id": "q", "question": "q?", "golden_answers": ["a"], "data_source": "nq", "docs": [], "genacc": 0.0}]
    )
    job = job_json(
        "train",
        retriever=to_dict(retriever_config),
        train={"engine": "verl"},
        generators={"g": {"backend": "hf", "model": "unused"}},
    )
    code = main(
        [
            "train",
            "--cache",
            str(cache),
            "--out",
            str(tmp_path / "run"),
            "--index",
            str(bm25_index),
            "--corpus",
            str(small_corpus),
            "--config",
            job,
            "--generator",
            "g",
            "--server-log",
            str(tmp_path / "server.log"),
        ]
    )
    assert code == 2 and "needs GPUs" in caplog.text
    assert not (tmp_path / "server.log").exists() and not (tmp_path / "run").exists()


def test_workers_get_the_answering_generator_and_its_judge_once():
    generators: dict[str, GeneratorConfig] = parse(
        "generators",
        {
            "a": {"backend": "hf", "model": "x"},
            "b": {"backend": "openai", "model": "y"},
            "c": {"backend": "vllm", "model": "z"},
        },
    )
    judge = parse("judge", {})
    with ExitStack() as stack:
        assert reachable_generators(stack, generators, "a", judge, "127.0.0.1", None) == {"a": generators["a"]}
        other = replace(judge, generator="b")
        assert reachable_generators(stack, generators, "a", other, "127.0.0.1", None) == {
            "a": generators["a"],
            "b": generators["b"],
        }
        off = replace(other, enabled=False)
        assert reachable_generators(stack, generators, "a", off, "127.0.0.1", None) == {"a": generators["a"]}


def test_a_first_prompt_longer_than_verls_prompt_length_is_refused_before_verl_starts(demo_llm):
    search: SearchConfig = parse("search", {"initial_topk": 1})
    item = {
        "id": "q1",
        "question": "Who wrote Hamlet?",
        "golden_answers": ["Shakespeare"],
        "data_source": "nq",
        "docs": [{"id": "1", "title": "Hamlet", "text": "Hamlet is a tragedy. " * 40}],
        "genacc": 0.0,
    }
    check_prompt_lengths([item], str(demo_llm), search, None, 4096)
    with pytest.raises(
        S3Error,
        match="question 'q1': the searcher's first prompt has [0-9]+ tokens, more than "
        "train.verl.max_prompt_length \\(64\\)",
    ):
        check_prompt_lengths([item], str(demo_llm), search, None, 64)
