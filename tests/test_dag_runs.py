"""Whole DAGs, started together (each spends most of its time on one serial chain of jobs with cores to spare) and
each test waiting for its own:
- `config/paper.yaml` on a stand-in of the hub (tests/paper_hub.py), with the local executor: every rule of the
  paper's DAG, from the downloads to the general and medical tables, staged online first as the README tells a
  cluster user, then run offline from the fetched files and the Hugging Face cache;
- the tiny demo through a SLURM controller (every rule but the local ones submitted by sbatch)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import faiss
import pandas as pd
import pytest
import yaml
from fake_hub import FakeHub
from paper_hub import corpus_docs, model_repo, paper_repos
from slurm_cluster import slurm_controller_up
from snakemake.utils import update_config
from workflow_run import ALL_METHODS, ROOT, BackgroundRun, snakemake, tiny_config

from s3core.assets.demo import resolve_path
from s3core.data.jsonl import read_jsonl

pytestmark = pytest.mark.slow  # runs whole DAGs

SLURM_METHODS = ["direct", "rag_bm25", "s3"]
#: Rules that run on the submit host (`localrules`: the cheap ones and the downloads); every other rule must be a
#: SLURM job.
LOCAL_RULES = {"all", "table", "plot_training", "report", "download", "download_medcorp", "fetch_models"}
SLURM_LOGS = ROOT / ".snakemake" / "slurm_logs"
TIMEOUT_S = 2400

PAPER, SLURM = "test-paper", "test-slurm"  # the two runs' suites: results/<suite>/
#: The stand-in's model repos: the demo LLM for every LLM of the paper, the demo encoder for e5-base-v2.
LLM_REPO, ENCODER_REPO = "standin/smollm2-135m-instruct", "standin/all-minilm-l6-v2"
#: The grid run: a general set, a MIRAGE set on wiki-18 and the same on MedCorp; the reward generator.
PAPER_SETS, PAPER_GENERATOR = ["nq", "medqa", "medqa_medcorp"], "qwen2.5-14b-instruct-gptq-int4"
ABLATION = "no_selection"


def paper_run_config(download_dir: Path) -> dict:
    """config/paper.yaml with only model ids, sizes and devices changed: the stand-in's models; 2-4 questions, one
    PPO step, short loops; a grid of 3 sets and 1 generator; the CPU (vLLM's CPU build, loading the stand-in's model
    from the Hugging Face cache, one server for the run; the local PPO trainer for verl, which needs CUDA GPUs; 2
    encoding shards, not 8; the jobs off the long chain at the demo's background_nice, as on a workstation)."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    paper["assets"]["eval"] = {name: paper["assets"]["eval"][name] for name in PAPER_SETS}
    paper["generators"] = {PAPER_GENERATOR: paper["generators"][PAPER_GENERATOR]}
    paper["ablations"] = {ABLATION: paper["ablations"][ABLATION]}  # one of the paper's variants, one seed
    paper["seeds"] = [42]
    tiny = tiny_config(PAPER, paper["eval"]["methods"])
    demo_generator = tiny["generators"]["smollm2-135m"]  # vLLM's CPU build, one process (the 14B's 2 GPUs: no)
    demo_generator["vllm"] = {**demo_generator["vllm"], "tensor_parallel_size": 1}
    update_config(
        paper,
        {
            "suite": PAPER,
            "threads": 1,
            "background_nice": tiny["background_nice"],
            "assets": {
                "download_dir": str(download_dir),
                "revisions": {"Teddy-XiongGZ/MIRAGE": "m1"},
                "train": {"size": 4},
                "eval": {name: {"size": 2} for name in PAPER_SETS},
            },
            "retriever": {
                "dense": {"encoder": ENCODER_REPO, "max_length": 128, "batch_size": 32, "device": "cpu", "shards": 2}
            },
            "generators": {PAPER_GENERATOR: {**demo_generator, "model": LLM_REPO, "device": "cpu"}},
            "searcher": {"model": LLM_REPO, "batch_size": 4, "vllm": demo_generator["vllm"]},  # its server: CPU
            "search": {**tiny["search"], "topk": 3},
            "train": {**tiny["train"], "engine": "local"},
            "baselines": {
                **tiny["baselines"],
                "search_r1": {**tiny["baselines"]["search_r1"], "model": LLM_REPO},
                "deepretrieval": {**tiny["baselines"]["deepretrieval"], "model": LLM_REPO},
            },
        },
    )
    return paper


def stage_and_start_paper_run(work: Path, hub_url: str, hf_home: Path) -> BackgroundRun:
    """The README's cluster steps: fetch the data and the models where snakemake runs, then run everything with
    HF_HUB_OFFLINE=1."""
    shutil.rmtree(ROOT / "results" / PAPER, ignore_errors=True)
    path = work / "paper.yaml"
    path.write_text(yaml.safe_dump(paper_run_config(work / "downloads")))
    hub = {"HF_ENDPOINT": hub_url, "S3_GITHUB_RAW": f"{hub_url}/github", "HF_HOME": str(hf_home)}
    data = f"results/{PAPER}/data"
    staged = snakemake(
        "--configfile",
        str(path),
        "--cores",
        "2",
        f"{data}/manifest.json",
        f"{data}/medcorp.manifest.json",
        f"{data}/models.json",
        env={**hub, "HF_HUB_OFFLINE": "0"},
    )
    assert staged.returncode == 0, staged.stdout[-3000:] + staged.stderr[-3000:]
    return BackgroundRun(
        work / "paper.log",
        "--profile",
        "workflow/profiles/local",
        "--configfile",
        str(path),
        "--cores",
        "2",
        "all",
        env={**hub, "HF_HUB_OFFLINE": "1"},
    )


def fake_gpus() -> int:
    """GPUs the cluster's nodes advertise (fake GRES from local-slurm-up.sh count)."""
    out = subprocess.run(["sinfo", "-h", "-o", "%G"], capture_output=True, text=True).stdout
    return sum(int(part.rsplit(":", 1)[1]) for part in out.split(",") if part.startswith("gpu:"))


def start_slurm(work: Path) -> BackgroundRun:
    shutil.rmtree(ROOT / "results" / SLURM, ignore_errors=True)
    shutil.rmtree(SLURM_LOGS, ignore_errors=True)
    config = tiny_config(SLURM, SLURM_METHODS)
    # fake GRES: scheduled, runs on the CPU; the run's server jobs (the SLURM profile's servers: per_run_slurm)
    # hold little memory: vLLM's CPU build and the demo's indexes
    config["resources"] = {
        "default": {"mem_mb": 2000},
        "train_s3": {"gpu": min(fake_gpus(), 1), "mem_mb": 8000},
        "server": {"mem_mb": 3000},
    }
    config["generators"]["smollm2-135m"]["device"] = "cpu"  # vLLM's CPU build: a server job without a GPU
    config["searcher"].update(inference="vllm", device="cpu")  # the trained searcher: a server job of its own
    config["retriever"]["dense"]["device"] = "cpu"  # its server job holds no (fake) GPU for the run
    path = work / "slurm.yaml"
    path.write_text(yaml.safe_dump(config))
    return BackgroundRun(work / "slurm.log", "all", "--profile", "workflow/profiles/slurm", "--configfile", str(path))


@pytest.fixture(scope="module")
def paper_hub(retriever_config, demo_llm):
    """The stand-in hub with the paper's data repos and the two model repos."""
    docs = corpus_docs()
    dense = replace(retriever_config.dense, passage_prefix="passage: ", query_prefix="query: ")
    repos = paper_repos(docs, dense)
    repos[("model", LLM_REPO)] = model_repo(demo_llm)
    repos[("model", ENCODER_REPO)] = model_repo(resolve_path(dense.encoder))
    hub = FakeHub(repos)
    hub.docs = docs
    hub.url = hub.start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def dag_runs(request, tmp_path_factory):
    """The runs the selected tests need, started together (the SLURM one only where a controller answers)."""
    work = tmp_path_factory.mktemp("dags")
    selected = {item.originalname for item in request.session.items}
    runs = {}
    if "test_tiny_dag_through_slurm" in selected and slurm_controller_up():
        runs["slurm"] = start_slurm(work)
    if "test_the_paper_dag_on_a_hub_stand_in" in selected:
        hub = request.getfixturevalue("paper_hub")
        runs["paper"] = stage_and_start_paper_run(work, hub.url, work / "hf")
        hub.requests.clear()
    failed_before = request.session.testsfailed
    yield runs
    for run in runs.values():
        run.stop()
    passed = request.session.testsfailed == failed_before
    for out in (ROOT / "results" / name for name in (SLURM, PAPER)):
        # free their ~11 GB for the tests after them (a full disk failed them all); a failure keeps all but checkpoints
        for leftover in [out] if passed else out.glob("train/*/checkpoints"):
            shutil.rmtree(leftover, ignore_errors=True)


def test_the_paper_dag_on_a_hub_stand_in(paper_hub, dag_runs):
    status, output = dag_runs["paper"].finish(TIMEOUT_S)
    assert status == 0, output[-4000:]
    assert not paper_hub.requests  # the jobs ran offline, from what was staged
    out = ROOT / "results" / PAPER
    ran = {p.relative_to(out / "benchmarks").with_suffix("").as_posix() for p in (out / "benchmarks").rglob("*.tsv")}
    methods = [*ALL_METHODS, f"s3.{ABLATION}"]  # the ablation: a method of its own
    retrieving = [m for m in methods if m not in ("direct", "cot")]
    expected_evaluations = {
        *(f"evaluate/{m}/{PAPER_GENERATOR}/{d}" for m in methods for d in ("nq", "medqa")),
        *(f"evaluate/{m}/{PAPER_GENERATOR}/medqa_medcorp" for m in retrieving),
    }
    expected = {
        "download",
        "download_medcorp",
        "fetch_models",
        f"precompute/{PAPER_GENERATOR}/train",
        "table",
        "report",
        *(f"{rule}{run}" for rule in ("train_", "plot_training/") for run in ("s3", f"s3.{ABLATION}")),
        *(f"index/{c}/{k}" for c in ("wiki", "medcorp") for k in ("bm25", "dense")),
        "index/medcorp/dense.shards/0",
        "index/medcorp/dense.shards/1",  # wiki-18's is imported
        *(f"infer/{m}/{d}" for m in methods for d in ("nq", "medqa")),
        *(f"infer/{m}/medqa_medcorp" for m in retrieving),
        *expected_evaluations,
    }
    assert ran == expected, sorted(ran ^ expected)

    manifest = json.loads((out / "data" / "manifest.json").read_text())
    paths = {f["path"] for f in manifest["files"]}
    lucene = {path for path in paths if path.startswith("bm25/")}
    assert (
        paths - lucene
        == {
            "wiki-18.jsonl.gz",
            "part_aa",
            "part_ab",
            "benchmark.json",
            "nq/train.jsonl",
            "hotpotqa/train.jsonl",
            "nq/test.jsonl",
        }
        and lucene
    )
    medcorp = json.loads((out / "data" / "medcorp.manifest.json").read_text())
    assert len(medcorp["files"]) == 5 and medcorp["corpus"]["documents"] == 24
    models = json.loads((out / "data" / "models.json").read_text())["models"]
    assert [m["repo"] for m in models] == [ENCODER_REPO, LLM_REPO]
    assert faiss.read_index(str(out / "index" / "wiki" / "dense" / "index.faiss")).ntotal == len(paper_hub.docs)
    assert faiss.read_index(str(out / "index" / "medcorp" / "dense" / "index.faiss")).ntotal == 24
    assert "imported 2 pieces" in (out / "logs" / "index" / "wiki" / "dense.log").read_text()
    assert "imported the Lucene index" in (out / "logs" / "index" / "wiki" / "bm25.log").read_text()

    table = pd.read_csv(out / "tables" / "main.csv")
    cells = table.groupby(["suite", "corpus", "dataset"]).method.apply(set).to_dict()
    assert cells == {
        ("general", "wiki", "nq"): set(methods),
        ("medical", "wiki", "medqa"): set(methods),
        ("medical", "medcorp", "medqa_medcorp"): set(retrieving),
    }
    asked = {d: len(read_jsonl(out / "data" / "qa" / f"{d}.jsonl")) for d in PAPER_SETS}
    assert asked["medqa_medcorp"] == asked["medqa"] == 2 and asked["nq"] == 3  # NQ's file repeats a question
    assert (table.n == table.dataset.map(asked)).all() and table.genacc.between(0, 100).all()
    markdown = (out / "tables" / "main.md").read_text()
    for heading in [
        "",
        ", medical QA (MIRAGE; GenAcc = the judge alone)",
        ", medical QA (MIRAGE; GenAcc = the judge alone), searched in MedCorp (Wikipedia + PubMed + Textbooks)",
    ]:
        assert f"## Generator: {PAPER_GENERATOR}{heading}\n" in markdown
    beside = pd.read_csv(out / "tables" / "paper.csv", dtype={"table": str})  # every paper cell, ours or not run
    ran = beside.query("block == 'Qwen2.5-14B-Instruct' and row == 's3' and dataset == 'nq'")
    assert (
        len(beside) == 472 and ran.ours_genacc.item() == table.query("method == 's3' and dataset == 'nq'").genacc.item()
    )
    medcorp_contexts = read_jsonl(out / "contexts" / "rag_dense" / "medqa_medcorp.jsonl")
    assert all(
        doc["id"].startswith(("Anatomy", "InternalMed", "p1", "p2", "w0"))
        for row in medcorp_contexts
        for doc in row["docs"]
    )  # searched in MedCorp
    assert (out / "train" / "s3" / "curve.png").stat().st_size > 0
    trained = json.loads((out / "train" / f"s3.{ABLATION}" / "checkpoints" / "s3_settings.json").read_text())
    assert trained["search"]["selection"] is False  # the ablation trained as itself
    assert f"| s3 [{ABLATION}] " in markdown
    for step in read_jsonl(out / "train" / "s3" / "metrics.jsonl"):  # the GBR distribution per step
        assert step["gbr_below"] + step["gbr_zero"] + step["gbr_above"] == pytest.approx(1.0)
    page = (out / "report" / "index.html").read_text()
    figures = sorted(path.name for path in (out / "report").glob("*.png"))
    assert figures == [
        f"genacc_{PAPER_GENERATOR}_{suite}_{corpus}.png"
        for suite, corpus in (("general", "wiki"), ("medical", "medcorp"), ("medical", "wiki"))
    ] + ["training_curve.png"]
    assert all(f'src="{name}"' in page for name in figures) and "<h3>Table 2: medical QA (MIRAGE)" in page
    used = pd.read_csv(out / "report" / "gpu_hours.csv").set_index("stage")
    assert used.loc["all", "jobs timed"] == used.loc["all", "jobs"] - 1  # each job but the report, which runs
    zipped = out.parent / f"{PAPER}-report.zip"
    report = snakemake(*dag_runs["paper"].args, "--report", str(zipped), env=dag_runs["paper"].env)
    assert report.returncode == 0, report.stderr[-3000:]
    with zipfile.ZipFile(zipped) as archive:
        assert {Path(name).name for name in archive.namelist()} >= {*figures, "main.csv", "paper.csv", "report.html"}
    zipped.unlink()
    provenance = json.loads((out / "logs" / "infer" / "rag_bm25" / "medqa_medcorp.provenance.json").read_text())
    [server] = provenance["services"]
    assert provenance["exit_status"] == 0 and server["role"] == "retriever:bm25"
    assert server["served_by"]["log"] == f"results/{PAPER}/logs/services/retriever-medcorp-bm25.log"
    # every retrieving job (inference, the naive-RAG cache, training) searched through the run's one server of its
    # index, which is gone now
    records = {path: json.loads(path.read_text()) for path in (out / "logs").rglob("*.provenance.json")}
    retrievals = [
        (path, s) for path, job in records.items() for s in job["services"] if s["role"].startswith("retriever:")
    ]
    assert {path.relative_to(out / "logs").as_posix().removesuffix(".provenance.json") for path, _ in retrievals} == {
        *(f"infer/{m}/{d}" for m in retrieving for d in ("nq", "medqa", "medqa_medcorp")),
        f"precompute/{PAPER_GENERATOR}/train",
        *(f"train_{run}" for run in ("s3", f"s3.{ABLATION}")),
    }
    assert all("served_by" in s for _, s in retrievals)
    run_retrievers = {Path(s["served_by"]["log"]).stem: s["served_by"]["pid"] for _, s in retrievals}
    assert sorted(run_retrievers) == [f"retriever-{c}-{k}" for c in ("medcorp", "wiki") for k in ("bm25", "dense")]
    for pid in run_retrievers.values():
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    # every generating job was answered by the run's one vLLM server (CPU build), which is gone now
    jobs = [json.loads(path.read_text()) for path in (out / "logs" / "evaluate").rglob("*.provenance.json")]
    servers = [s["served_by"] for job in jobs for s in job["services"] if s["role"] == f"generator:{PAPER_GENERATOR}"]
    assert len(jobs) == len(expected_evaluations) and len(servers) >= len(jobs)
    assert {s["pid"] for s in servers} == {servers[0]["pid"]} and servers[0]["version"] == {"version": "0.32.0"}
    with pytest.raises(ProcessLookupError):
        os.killpg(servers[0]["pid"], 0)
    assert not [path for path in (out / "services").rglob("*") if path.is_file()]
    rerun = snakemake(*dag_runs["paper"].args, "--dry-run", env=dag_runs["paper"].env)
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr


def test_tiny_dag_through_slurm(slurm, dag_runs):
    status, output = dag_runs["slurm"].finish(TIMEOUT_S)
    assert status == 0, output[-4000:]
    out = ROOT / "results" / SLURM
    table = pd.read_csv(out / "tables" / "main.csv")
    assert sorted(table.method.unique()) == sorted(SLURM_METHODS) and (table.n == 4).all()
    submitted = {p.name.removeprefix("rule_") for p in SLURM_LOGS.iterdir()}
    expected = {"convert_llm", "index", "precompute", "train_s3", "evaluate", *(f"infer_{m}" for m in SLURM_METHODS)}
    assert submitted == expected and submitted.isdisjoint(LOCAL_RULES), f"SLURM jobs: {sorted(submitted)}"
    assert list((SLURM_LOGS / "rule_train_s3").rglob("*.log"))
    training = json.loads((out / "logs" / "train_s3.provenance.json").read_text())
    assert training["exit_status"] == 0 and training["slurm"]["SLURM_JOB_ID"]
    assert sorted(s["role"] for s in training["services"]) == ["generator:smollm2-135m", "retriever:dense"]
    # every model and index loaded once: each server a SLURM job of its own that every job it answered names
    servers = served_by_role(out / "logs")
    assert set(servers) == {"generator:smollm2-135m", "generator:searcher", "retriever:bm25", "retriever:dense"}
    assert all(len(jobs) == 1 for jobs in servers.values()), servers
    assert not subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip()  # all cancelled
    used = pd.read_csv(out / "report" / "gpu_hours.csv").set_index("stage")
    assert used.loc["all", "jobs timed"] == used.loc["all", "jobs"] - 1  # each job but the report, which runs
    assert used.loc["server", "jobs timed"] == used.loc["server", "jobs"] == len(servers)  # their time held
    assert used.loc["train", "GPU-hours used"] > 0 and used.loc["server", "GPU-hours used"] == 0  # a (fake) GPU


def served_by_role(logs: Path) -> dict[str, set[str]]:
    """Role -> the SLURM jobs of the run's servers that answered the jobs whose provenance is under `logs`; a job
    that started a server of its own fails the test."""
    servers: dict[str, set[str]] = {}
    for path in logs.rglob("*.provenance.json"):
        for service in json.loads(path.read_text())["services"]:
            assert "served_by" in service, f"{path.name} loaded its own {service['role']}"
            servers.setdefault(service["role"], set()).add(service["served_by"]["slurm_job"])
    return servers
