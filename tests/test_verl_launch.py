"""The verl engine's launcher parts that need no verl: the allocation's shape, where sidecars listen, the
agent-loop registry, metrics across a resumed run, checkpoint-merge failures, and the CLI's refusal to start
verl without GPUs."""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from s3core import config
from s3core.cli import main
from s3core.errors import ConfigError, S3Error
from s3core.jsonl import write_jsonl
from s3core.verl_engine.launch import (GpuPlan, gpu_plan, merge_searcher, metric_rows, reachable_generators,
                                       reachable_host, write_agent_loops)

TRAIN = config.section("train", {})
ROOT = Path(__file__).resolve().parents[1]


def train_with(batch_size: int = 120, mini_batch_size: int = 30, **verl) -> dict:
    return {**TRAIN, "batch_size": batch_size, "mini_batch_size": mini_batch_size, "verl": {**TRAIN["verl"], **verl}}


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
    assert entry == {"name": "s3_searcher", "_target_": "s3core.verl_engine.agent_loop.S3AgentLoop",
                     "services_path": str(tmp_path / "services.json")}


def test_metrics_of_a_resumed_run_keep_every_step_once_the_newest_winning(tmp_path):
    first, second = tmp_path / "metrics.1.jsonl", tmp_path / "metrics.2.jsonl"
    write_jsonl(first, [{"step": 1, "data": {"critic/score/mean": 0.1}},
                        {"step": 2, "data": {"critic/score/mean": 0.2, "actor/entropy": 0.9}}])
    write_jsonl(second, [{"step": 2, "data": {"critic/score/mean": 0.25}}, {"step": 3, "data": {}}])
    rows = metric_rows([first, second])
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[1] == {"step": 2, "reward": 0.25, "critic/score/mean": 0.25}
    assert rows[2]["reward"] is None


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


def test_train_with_verl_and_no_gpus_fails_before_starting_anything(tmp_path, small_corpus, bm25_index,
                                                                     retriever_settings, caplog, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    caplog.set_level(logging.ERROR)
    cache = tmp_path / "cache.jsonl"
    write_jsonl(cache, [{"id": "q", "question": "q?", "golden_answers": ["a"], "data_source": "nq", "docs": [],
                         "genacc": 0.0}])
    train = json.dumps({"engine": "verl"})
    generators = json.dumps({"g": {"backend": "hf", "model": "unused"}})
    code = main(["train", "--cache", str(cache), "--out", str(tmp_path / "run"), "--index", str(bm25_index),
                 "--corpus", str(small_corpus), "--retriever", json.dumps(retriever_settings), "--train", train,
                 "--generator", "g", "--generators", generators, "--server-log", str(tmp_path / "server.log")])
    assert code == 2 and "needs GPUs" in caplog.text
    assert not (tmp_path / "server.log").exists() and not (tmp_path / "run").exists()


def test_workers_get_the_answering_generator_and_its_judge_once():
    generators = {"a": {"backend": "hf", "model": "x"}, "b": {"backend": "openai", "model": "y"}, "c": {}}
    judge = config.section("judge", {})
    with ExitStack() as stack:
        assert reachable_generators(stack, generators, "a", judge, "127.0.0.1", None) == {"a": generators["a"]}
        other = {**judge, "generator": "b"}
        assert reachable_generators(stack, generators, "a", other, "127.0.0.1", None) == {
            "a": generators["a"], "b": generators["b"]}
        off = {**other, "enabled": False}
        assert reachable_generators(stack, generators, "a", off, "127.0.0.1", None) == {"a": generators["a"]}
