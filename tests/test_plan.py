"""The experiment plan without Snakemake: what the demo and the paper configs run, what each job loads and reads,
the caches runs share, the sections each verb is given, and the core policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from s3core.config import schema as config
from s3core.errors import ConfigError
from s3core.plan import scheduling
from s3core.plan.experiment import plan
from s3core.plan.job_sections import VERB_SECTIONS, check_given, content_file

ROOT = Path(__file__).resolve().parents[1]
DEMO = plan({**config.load(ROOT / "config" / "config.yaml"), "servers": "per_run"})  # as the local profile sets
PAPER = plan(config.load(ROOT / "config" / "paper.yaml"))


def test_the_paper_plan_counts_its_runs_methods_and_answers():
    assert len(PAPER.runs) == 18 * 3  # the base and 17 ablations, 3 seeds each
    assert len(PAPER.eval_methods) == len(PAPER.methods) - 1 + len(PAPER.runs)
    assert len(PAPER.all_answers()) == 2994  # the paper DAG's evaluate jobs
    assert PAPER.corpora == ["wiki", "medcorp"]


def test_runs_that_differ_only_in_a_metric_read_off_the_same_rows_share_one_naive_rag_cache():
    names = {cache.path for cache in PAPER.caches.values()}
    assert sorted(Path(p).name for p in names) == ["train.jsonl", "train.reward_judge.jsonl"]
    assert PAPER.caches["s3.reward_em"].name == PAPER.caches["s3.reward_span.seed43"].name == "train"
    judge = PAPER.caches["s3.reward_judge.seed44"]
    assert judge.run.label == "s3.reward_judge" and judge.run.sections["reward"]["metric"] == "judge"


def test_a_method_that_retrieves_nothing_loads_no_index_and_answers_only_on_wiki():
    inputs = PAPER.infer_inputs("direct", "nq")
    assert set(inputs) == {"qa", "models"} and PAPER.infer_args("direct", "nq") == []
    assert "medqa_medcorp" not in PAPER.answered_sets("direct") and "medqa_medcorp" in PAPER.answered_sets("rag_bm25")
    rag = PAPER.infer_inputs("rag_dense", "medqa_medcorp")
    assert rag["index"] == "results/paper/index/medcorp/dense" and rag["corpus"].endswith("corpora/medcorp.jsonl")


def test_an_s3_run_loads_its_own_trained_searcher_and_waits_for_the_hub_fetch():
    inputs = PAPER.infer_inputs("s3.no_selection.seed43", "nq")
    assert inputs["models"] == ["results/paper/train/s3.no_selection.seed43/searcher"]  # built here, not fetched
    assert PAPER.infer_inputs("s3_released", "nq")["models"] == ["results/paper/data/models.json"]
    assert PAPER.infer_args("s3_released", "nq")[-2:] == ["--searcher-model", "pat-jj/s3-8-3-3-20steps"]
    assert PAPER.settings("s3.no_selection").search.selection is False and PAPER.settings("s3").search.selection


def test_the_demo_builds_its_models_and_serves_them_from_the_run():
    assert DEMO.hub_models() == [] and not DEMO.fetches_models
    assert DEMO.generator_models("smollm2-135m") == [DEMO.paths.llm]
    served = DEMO.run_served_models()
    assert served is not None and DEMO.paths.llm in served and DEMO.paths.searcher("s3") in served
    assert DEMO.answering_cores("smollm2-135m") == 0  # the run's server answers; the job only waits


def test_the_run_servers_are_decided_once_by_the_plan():
    paper = plan({**PAPER.config, "servers": "per_run_slurm"})
    servers = {server.name: server for server in paper.run_servers()}
    assert servers["qwen2.5-14b-instruct-gptq-int4"].load.gpus == 2 and "claude-3-haiku" not in servers  # an API
    assert servers["searcher-s3.reward_em.seed43"].serves == paper.paths.searcher("s3.reward_em.seed43")
    assert servers["retriever-medcorp-dense"].load.indexes == (paper.paths.index("medcorp", "dense"),)
    assert paper.run_served_models() == {server.serves for server in servers.values() if server.vllm}
    baselines = paper.config["baselines"]
    assert servers["policy-search_r1"].serves == baselines["search_r1"]["model"]  # the baselines' own models
    assert servers["policy-deepretrieval"].serves == baselines["deepretrieval"]["model"]
    assert servers["searcher-s3_step0"].serves == paper.config["searcher"]["model"]  # the untrained searcher
    assert servers["policy-search_r1"].vllm == servers["searcher-s3_step0"].vllm  # the searcher's settings
    in_jobs = plan({**paper.config, "searcher": {**paper.config["searcher"], "inference": "hf"}})
    assert not [s for s in in_jobs.run_servers() if s.name.startswith("searcher-")]  # it runs in its jobs
    assert [server.name for server in DEMO.run_servers()] == [
        "smollm2-135m",  # the demo's every model: its generator's
        "searcher-s3",
        "retriever-wiki-bm25",
        "retriever-wiki-dense",
    ]
    assert PAPER.run_servers() == ()  # servers: per_job


def test_without_run_servers_every_job_holds_its_threads():
    assert PAPER.run_served_models() is None
    assert PAPER.answering_cores("claude-3-haiku") == PAPER.config["threads"]


def test_each_verb_gets_exactly_the_sections_it_reads_in_a_file_named_by_its_content(tmp_path):
    path = DEMO.verb_sections_file("evaluate")
    assert set(json.loads(Path(path).read_text())) == set(VERB_SECTIONS["evaluate"])
    first = content_file(tmp_path, {"b": 1, "a": [2]})
    assert content_file(tmp_path, {"a": [2], "b": 1}) == first and Path(first).name.endswith(".json")
    assert content_file(tmp_path, {"a": [3], "b": 1}) != first


def test_a_verb_given_sections_without_one_it_reads_names_the_missing_one():
    check_given("evaluate", dict.fromkeys(VERB_SECTIONS["evaluate"], {}))
    with pytest.raises(ConfigError, match="s3core evaluate reads .*; --config lacks judge"):
        check_given("evaluate", {"generators": {}, "baselines": {}})


def test_the_chain_goes_first_and_never_waits_for_a_core():
    assert scheduling.priority(True) > scheduling.priority(False) == 0
    assert scheduling.nice(True, 10) == 0 and scheduling.nice(False, 10) == 10
    assert scheduling.background_cores(2, None) == 1 and scheduling.background_cores(16, None) == 15
    assert scheduling.background_cores(8, 4) is None and scheduling.background_cores(None, None) is None
    assert scheduling.off_chain_slots(False, 0, 1) == {"server_clients": 1, "background_cores": 0}
    assert scheduling.off_chain_slots(False, 4, 1) == {"server_clients": 0, "background_cores": 1}
    assert scheduling.off_chain_slots(True, 4, 1) == {"server_clients": 0, "background_cores": 0}
    assert scheduling.job_cores(["m"], {"m", "n"}, 4) == 0 and scheduling.job_cores(["x"], {"m"}, 4) == 4
    assert scheduling.job_cores([], None, 4) == 4


def test_the_plan_loads_no_heavy_library():
    code = (
        "import sys; from s3core.config import schema; from s3core.plan.experiment import plan; "
        "p = plan(schema.load('config/paper.yaml')); p.all_answers(); p.infer_inputs('s3', 'nq'); "
        "print(sorted(m for m in ('torch', 'faiss', 'transformers', 'snakemake') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"
