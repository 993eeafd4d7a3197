"""The Snakemake workflow: lint, dry runs of the shipped configs, config errors (test_dag_runs.py runs the DAG)."""

import json
import re

import pytest
from workflow_run import ALL_METHODS, ROOT, planned_jobs, snakemake

pytestmark = pytest.mark.slow  # every test starts snakemake


def test_lint_is_clean():
    run = snakemake("--lint")
    assert run.returncode == 0 and "Congratulations" in run.stdout + run.stderr, run.stdout + run.stderr


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml"])
def test_dry_run_builds_the_dag(configfile):
    run = snakemake("--configfile", configfile, "--dry-run", "--forceall", "--cores", "2", "all")
    assert run.returncode == 0, run.stderr
    assert "table" in run.stdout and "evaluate" in run.stdout
    assert all(f"infer_{method}" in run.stdout for method in ALL_METHODS)


def test_a_configfile_replaces_the_demo_config_instead_of_merging_over_it():
    run = snakemake(
        "--configfile", "config/paper.yaml", "--dry-run", "--forceall", "--printshellcmds", "--cores", "2", "all"
    )
    assert run.returncode == 0, run.stderr
    assert "results/demo/" not in run.stdout and "smollm2-135m" not in run.stdout
    evaluate = next(line for line in run.stdout.splitlines() if " evaluate --contexts " in line)
    assert command_sections(evaluate)["generators"]["qwen2.5-7b-instruct"]["model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert "--searcher-model Qwen/Qwen2.5-7B-Instruct-1M" in run.stdout  # s3 (step 0)
    assert "cache/rag/qwen2.5-14b-instruct-gptq-int4/train.jsonl" in run.stdout  # the reward generator


def test_the_paper_imports_wiki18s_indexes_and_builds_medcorps():
    run = snakemake(
        "--configfile", "config/paper.yaml", "--dry-run", "--forceall", "--printshellcmds", "--cores", "2", "all"
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "s3core download-medcorp" in out and "index/medcorp/dense" in out and "index/medcorp/bm25" in out
    assert out.count("--parts") == out.count("--lucene") == 1  # only wiki-18's indexes are imported
    assert out.count(" encode-shard ") == 8  # MedCorp's e5 index, 8 shards
    assert "--shards results/paper/index/medcorp/dense.shards/0.npy" in out
    assert "--dense-index --bm25-index" in out  # ... from files the download rule fetched
    assert "--index results/paper/index/medcorp/dense --corpus results/paper/data/corpora/medcorp.jsonl" in out
    assert "contexts/rag_bm25/medqa_medcorp.jsonl" in out and "contexts/direct/medqa.jsonl" in out
    assert "contexts/direct/medqa_medcorp.jsonl" not in out  # no retrieval: the wiki copy's answers stand


def test_bad_config_value_fails_with_the_key():
    run = snakemake("--config", "suite=bad suite!", "--dry-run", "--cores", "1")
    assert run.returncode != 0 and "Failed validating" in run.stdout + run.stderr and "suite" in run.stdout


def test_the_released_checkpoint_runs_with_its_prompt_file(tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("{question} {initial_docs}")
    run = snakemake(
        "--configfile",
        "config/paper.yaml",
        "--config",
        "eval={'methods': ['s3_released']}",
        f"searcher={{'prompt_file': '{prompt}'}}",
        "--dry-run",
        "--forceall",
        "--printshellcmds",
        "--cores",
        "2",
        "all",
    )
    assert run.returncode == 0, run.stderr
    assert "infer_s3_released" in run.stdout and "--searcher-model pat-jj/s3-8-3-3-20steps" in run.stdout
    assert "train_s3" not in run.stdout  # nothing to train for it
    refused = snakemake(
        "--configfile",
        "config/paper.yaml",
        "--config",
        "eval={'methods': ['s3_released']}",
        "--dry-run",
        "--cores",
        "2",
        "all",
    )
    assert refused.returncode != 0 and "searcher.prompt_file" in refused.stdout + refused.stderr


def test_the_papers_variants_and_seeds_are_runs_of_their_own():
    """config/paper.yaml's ablations x seeds: one training per run, a naive-RAG cache per initial search and reward,
    each run's searcher answering every set with its own search settings, all through the same rules."""
    run = snakemake(
        "--configfile", "config/paper.yaml", "--dry-run", "--forceall", "--printshellcmds", "--cores", "2", "all"
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count(" train --cache ") == 18 * 3  # s3 and 17 variants, 3 seeds each
    caches = {line.split("--out ")[1].split()[0] for line in out.splitlines() if " precompute --qa " in line}
    # a naive-RAG cache per initial search, reward generator and judging: s3's serves every budget, ablation and
    # metric read off the same answers (Table 5's span and EM); the judge on every row needs its own
    cache = "results/paper/cache/rag/qwen2.5-14b-instruct-gptq-int4"
    assert caches == {f"{cache}/{name}.jsonl" for name in ("train", "train.reward_judge")}
    assert f"--cache {cache}/train.jsonl --out results/paper/train/s3.budget_5_3_4_steps_300.seed43" in out
    assert "train/s3.no_selection.seed43/searcher" in out and "contexts/s3.budget_5_3_4.seed44/nq.jsonl" in out
    long = next(
        line for line in out.splitlines() if " train --cache " in line and "train/s3.budget_5_3_4_steps_300 " in line
    )
    sections = command_sections(long)
    assert sections["train"]["steps"] == 300 and sections["train"]["seed"] == 42
    assert sections["search"]["topk"] == 5 and sections["search"]["max_turns"] == 4
    infer = next(line for line in out.splitlines() if "infer --method s3.no_selection.seed44 " in line)
    assert command_sections(infer)["search"]["selection"] is False


def command_sections(command: str) -> dict:
    """The config sections a job's command line names (`--config <file>`, written by the plan)."""
    return json.loads((ROOT / re.search(r"--config '?([^\s']+)", command)[1]).read_text())


def test_jobs_that_wait_on_the_run_servers_hold_no_core_and_the_long_chain_goes_first():
    """With the local profile (servers: per_run) the demo's inference and evaluation only wait on the run's servers:
    they hold no core, and take a `server_clients` slot unless they are on the long chain, while training keeps its
    core; the trained searcher's inference and evaluation share the cache's and training's priority, and the other
    methods' jobs run at the demo's background_nice. One job per run (servers: per_job) holds its cores, and the
    other methods' jobs hold at most one of the 2."""
    out = snakemake("--profile", "workflow/profiles/local", "--dry-run", "--forceall", "all").stdout
    local = planned_jobs(out)
    jobs = r"--nice (\d+) --provenance \S+ (?:infer --method (\S+)|evaluate --contexts \S+/contexts/([^/]+)/)"
    nice = {(verb_method or eval_method, int(value)) for value, verb_method, eval_method in re.findall(jobs, out)}
    assert nice == {(method, 0 if method == "s3" else 10) for method in ALL_METHODS}
    clients = [job for job in local if job["rule"].startswith(("infer_", "evaluate", "precompute"))]
    assert len(clients) == 1 + 2 * len(ALL_METHODS) * 2
    assert all(job["threads"] == "0" for job in clients)
    slots = {f"{job['rule']} {job['wildcards']}" for job in clients if "server_clients=1" in job["resources"]}
    assert slots == {f"{job['rule']} {job['wildcards']}" for job in clients if job.get("priority") != "10"}
    assert len(slots) == 2 * (len(ALL_METHODS) - 1) * 2  # every method's but s3's infer and evaluate jobs
    [training] = [job for job in local if job["rule"] == "train_s3"]
    assert training.get("threads", "1") == "1" and "server_clients=1" not in training["resources"]
    first = sorted(f"{job['rule']} {job['wildcards']}" for job in local if job.get("priority") == "10")
    assert first == [
        "evaluate method=s3, generator=smollm2-135m, dataset=nq",
        "evaluate method=s3, generator=smollm2-135m, dataset=triviaqa",
        "infer_s3 dataset=nq",
        "infer_s3 dataset=triviaqa",
        "precompute generator=smollm2-135m, cache=train",
        "train_s3 run=s3",
    ]
    per_job = planned_jobs(snakemake("--dry-run", "--forceall", "--cores", "2", "all").stdout)
    assert not [job for job in per_job if job.get("threads") == "0" or "server_clients=1" in job.get("resources", "")]
    # there, the other methods' jobs hold at most all cores but one at once: the chain never waits for a core
    methods = [job for job in per_job if job["rule"].startswith(("infer_", "evaluate"))]
    assert methods and all(
        ("background_cores=1" in job["resources"]) == (job.get("priority") != "10") for job in methods
    )
