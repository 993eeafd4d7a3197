"""`s3core <verb>`: one verb per workflow rule. Sections of the config arrive as JSON (rules pass them)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3core.config import schema
from s3core.config.sections import JobConfig, job_config
from s3core.errors import ConfigError, S3Error
from s3core.plan.job_sections import VERB_SECTIONS, check_given
from s3core.serving.sidecar import exit_on_sigterm

if TYPE_CHECKING:
    from s3core.stages.services import Answering, RetrieverAccess

log = logging.getLogger("s3core")


def _json_value(text: str) -> Any:
    """argparse type: JSON given inline (`{...}`, `[...]`) or in a file (its path; the plan writes jobs' files)."""
    if text.lstrip()[:1] in ("{", "["):
        return json.loads(text)
    try:
        return json.loads(Path(text).read_text(encoding="utf-8"))
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot read ({exc.strerror}); give JSON or a JSON file") from None
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text}: not JSON ({exc})") from None


def _assets(text: str) -> dict[str, Any]:
    """argparse type: the `assets` config section (JSON or its file), validated with defaults."""
    return schema.section("assets", _json_value(text))


def _s3_runs(text: str) -> dict[str, JobConfig]:
    """argparse type: s3 run label -> its {search, reward, train} sections (JSON or its file; each validated with
    defaults), `s3` first."""
    return {label: job_config(sections) for label, sections in (_json_value(text) or {"s3": {}}).items()}


def cmd_download(args: argparse.Namespace) -> None:
    if args.assets["kind"] == "paper":
        from s3core.assets.paper import build_paper_data

        manifest = build_paper_data(args.assets, args.out, args.corpus, args.dense_index, args.bm25_index)
    elif args.assets["kind"] == "custom":
        from s3core.assets.custom import build_custom_data

        manifest = build_custom_data(args.assets, args.out, args.corpus, args.config.retriever.dense)
    else:
        from s3core.assets.demo import build_demo_data

        manifest = build_demo_data(args.assets, args.out, args.corpus)
    log.info("%s data in %s: %s", args.assets["kind"], args.out, json.dumps(manifest["corpus"]))


def cmd_download_medcorp(args: argparse.Namespace) -> None:
    from s3core.assets.paper import build_medcorp

    manifest = build_medcorp(args.assets, args.corpus, args.manifest)
    log.info("MedCorp in %s: %s", args.corpus, json.dumps(manifest["corpus"]))


def cmd_fetch_models(args: argparse.Namespace) -> None:
    from s3core.assets.hub import fetch_models
    from s3core.data.jsonl import write_json

    rows = fetch_models(args.models, args.revisions)
    write_json(args.out, {"models": rows})
    log.info("%d models in the Hugging Face cache -> %s", len(rows), args.out)


def cmd_convert_llm(args: argparse.Namespace) -> None:
    from s3core.assets.demo import convert_gguf

    log.info("converted %s to %s", args.gguf, convert_gguf(args.gguf, args.out))


def cmd_index(args: argparse.Namespace) -> None:
    from s3core.stages.indexing import build_index

    threads = args.threads or os.cpu_count() or 1
    retriever = args.config.retriever
    count = build_index(args.kind, args.corpus, args.out, retriever, threads, args.lucene, args.shards, args.parts)
    log.info("%s index of %d documents in %s", args.kind, count, args.out)


def cmd_encode_shard(args: argparse.Namespace) -> None:
    from s3core.retrieval.dense import encode_shard

    count = encode_shard(args.corpus, args.shard, args.shards, args.out, args.config.retriever.dense)
    log.info("shard %d of %d: %d passages encoded to %s", args.shard, args.shards, count, args.out)


def cmd_serve(args: argparse.Namespace) -> None:
    if args.kind == "searcher":
        return cmd_serve_searcher(args)
    import uvicorn

    from s3core.retrieval.base import load_retriever
    from s3core.retrieval.server import create_app

    if not (args.index and args.corpus):
        raise ConfigError(f"serve --kind {args.kind} needs --index and --corpus (the index folder and its corpus)")
    retriever = args.config.retriever
    index = load_retriever(args.kind, args.index, args.corpus, retriever)
    token = os.environ.get("S3_SERVER_TOKEN")  # a run's server job (s3core host-server) sets it
    app = create_app(index, retriever.server, retriever.topk, token)
    uvicorn.run(app, host=args.host or retriever.server.host, port=args.port, log_level="warning")


def cmd_host_server(args: argparse.Namespace) -> None:
    from s3core.serving.host_server import host_server

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    sys.exit(
        host_server(
            command, args.address_file, args.heartbeat, args.token_file, args.health_path, args.startup_timeout_s
        )
    )


def cmd_serve_searcher(args: argparse.Namespace) -> None:
    from s3core.stages.searcher_server import serve_searcher
    from s3core.stages.services import RetrieverAccess

    job = args.config
    if args.searcher_model:
        job = replace(job, searcher=replace(job.searcher, model=args.searcher_model))
    access = RetrieverAccess(job.retriever, args.index, args.corpus, args.retriever_url)
    serve_searcher(job, access, args.generator, args.host, args.port, args.require_token, args.token_file)


def _serve_parser(verbs: Any) -> None:
    """`serve`: an index (--kind bm25|dense) or a searcher (--kind searcher) over HTTP."""
    p = verbs.add_parser(
        "serve", help="serve an index (POST /retrieve) or a searcher (POST /search, /v1/chat/completions) over HTTP"
    )
    p.add_argument("--kind", choices=["bm25", "dense", "searcher"], required=True, help="which index, or a searcher")
    p.add_argument("--index", type=Path, help="the index folder (s3core index); searcher: its index, loaded here")
    p.add_argument("--corpus", type=Path, help="the corpus the index was built from (JSONL)")
    p.add_argument("--host", default=None, help="default: retriever.server.host, searcher_server.host (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="the port to listen on (0: a free one)")
    _config_arg(p, "serve")
    searcher = p.add_argument_group("--kind searcher")
    searcher.add_argument("--searcher-model", help="the searcher (a Hugging Face folder or id), over searcher.model")
    searcher.add_argument("--retriever-url", help="a running retriever server instead of --index and --corpus")
    searcher.add_argument("--generator", help="a key of the config's generators that answers from the documents")
    searcher.add_argument(
        "--require-token", action="store_true", help="ask for the bearer token on loopback too (always beyond it)"
    )
    searcher.add_argument(
        "--token-file", type=Path, help="the bearer token (mode 0600), over searcher_server.token_env"
    )
    p.set_defaults(func=cmd_serve)


def _access(args: argparse.Namespace) -> RetrieverAccess:
    """The retriever options of a verb (`_retrieving_parser`)."""
    from s3core.stages.services import RetrieverAccess

    return RetrieverAccess(args.config.retriever, args.index, args.corpus, args.retriever_url, args.server_log)


def _answering(args: argparse.Namespace) -> Answering:
    """The generator options of a verb (`_answering_parser`)."""
    from s3core.stages.services import Answering

    return Answering(args.generator, args.config.generators, args.config.judge)


def cmd_infer(args: argparse.Namespace) -> None:
    from s3core.methods import get_method
    from s3core.stages.answers import infer

    job = args.config
    if get_method(args.method).uses_searcher:
        if not args.searcher_model:
            raise ConfigError(f"method {args.method!r} needs --searcher-model (a Hugging Face folder or id)")
        job = replace(job, searcher=replace(job.searcher, model=args.searcher_model))
    infer(args.method, args.qa, args.out, _access(args), job, args.limit)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from s3core.stages.answers import evaluate

    evaluate(args.contexts, args.out, _answering(args), args.config.baselines.cot.max_new_tokens)


def cmd_precompute(args: argparse.Namespace) -> None:
    from s3core.stages.answers import precompute

    precompute(args.qa, args.out, _access(args), args.config.search, _answering(args), args.config.reward)


def cmd_train(args: argparse.Namespace) -> None:
    from s3core.stages.training import TrainingJob, train

    job = args.config
    train(
        TrainingJob(
            args.cache, args.out, _access(args), _answering(args), job.search, job.searcher, job.train, job.reward
        )
    )


def cmd_plot(args: argparse.Namespace) -> None:
    from s3core.data.jsonl import read_jsonl
    from s3core.reporting.plots import plot_training_curve

    plot_training_curve(read_jsonl(args.metrics), args.out)
    log.info("training curve -> %s", args.out)


def cmd_profile_install(args: argparse.Namespace) -> None:
    from s3core.cluster.snakemake_profile import install_profile

    link = install_profile(args.source, args.name, force=args.force)
    log.info("profile %r -> %s: run `snakemake all --profile %s` from the repository root", args.name, link, args.name)


def cmd_ray_run(args: argparse.Namespace) -> None:
    from s3core.cluster.ray_cluster import describe, plan_for_allocation, run_on_ray

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise S3Error("ray-run needs the command to run on the cluster after `--`")
    plan = plan_for_allocation(os.environ, args.nodes.split(",") if args.nodes else None)
    if args.dry_run:
        print(describe(plan, command))
        return
    status = run_on_ray(command, plan, args.startup_timeout_s)
    if status:
        raise S3Error(f"the command on the Ray cluster exited with code {status}: {' '.join(command)}")


def cmd_plan(args: argparse.Namespace) -> None:
    from s3core.cluster.snakemake_profile import profile_folder
    from s3core.data.jsonl import write_json
    from s3core.plan.cost import markdown, preview
    from s3core.plan.experiment import plan_of_files

    profile = profile_folder(args.profile) if args.profile else None
    cost = preview(plan_of_files(args.configfile, profile, args.set), args.target)
    print(markdown(cost), end="")
    if args.json:
        write_json(args.json, cost)


def cmd_table(args: argparse.Namespace) -> None:
    from s3core.methods import reasoner_name
    from s3core.reporting.paper_comparison import compare, variant_rows, write_comparison, write_no_comparison
    from s3core.reporting.settings import settings_lines
    from s3core.reporting.tables import write_tables
    from s3core.reporting.training_cost import write_training_cost

    job = args.config
    settings = settings_lines(json.loads(args.manifest.read_text()), job) if args.manifest else None
    frame = write_tables(args.answers, args.md, args.csv, args.tex, args.corpora, settings)
    reasoner = reasoner_name(job.baselines, job.generators)
    tolerance = job.report.tolerance
    if args.no_paper:
        write_no_comparison(args.paper_md, args.paper_csv, args.paper_tex)
    else:
        runs = variant_rows(args.s3_runs)
        comparison = compare(frame, job.generators, reasoner, tolerance, runs, job.report.stands_for)
        write_comparison(comparison, args.paper_md, args.paper_csv, args.paper_tex, tolerance)
    write_training_cost(args.training_metrics, args.training_provenance, args.cost_md, args.cost_csv)
    print(args.md.read_text())


def cmd_report(args: argparse.Namespace) -> None:
    from s3core.reporting.page import write_report

    gpu_hours = json.loads(args.gpu_hours.read_text()) if args.gpu_hours else None
    page = write_report(
        args.out_dir, args.results_md, args.results_csv, args.paper_md, args.cost_md, args.curve, args.title, args.note,
        gpu_hours,
    )  # fmt: skip
    log.info("report -> %s", page)


def _index_parser(verbs: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A verb that works on one index kind over a corpus, with the `retriever` config section."""
    p = verbs.add_parser(name, help=help_text)
    p.add_argument("--kind", choices=["bm25", "dense"], required=True, help="which index")
    p.add_argument("--corpus", type=Path, required=True, help="the corpus (JSONL, one passage per line)")
    _config_arg(p, name)
    return p


def _retrieving_parser(verbs: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A verb that may query a retriever: a running server, or a sidecar it starts over an index."""
    p = verbs.add_parser(name, help=help_text)
    p.add_argument("--index", type=Path, help="index folder (starts a retriever sidecar)")
    p.add_argument("--corpus", type=Path, help="the corpus the index was built from (with --index)")
    p.add_argument("--retriever-url", help="use a running retriever server instead of a sidecar")
    p.add_argument("--server-log", type=Path, default=Path("retriever-sidecar.log"), help="the retriever sidecar's log")
    return p


def _answering_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of a verb that answers with a frozen generator (and judges)."""
    p.add_argument("--generator", required=True, help="a key of the config's generators")
    return p


def _config_arg(parser: argparse.ArgumentParser, verb: str) -> None:
    """--config: the job's config sections (s3core.plan.job_sections.VERB_SECTIONS names those `verb` reads), as a
    JSON object or its file, each checked against the schema with its defaults filled; left out: all defaults."""

    def job_sections(text: str) -> JobConfig:
        given = _json_value(text)
        check_given(verb, given)
        return job_config(given)

    parser.add_argument(
        "--config",
        type=job_sections,
        default=job_config({}),
        help=f"JSON or a JSON file: config section -> its value (this verb reads {', '.join(VERB_SECTIONS[verb])}; "
        "workflow/schemas/config.schema.yaml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3core", description=__doc__)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for PyTorch (default: all; 0: left as they are, for a job that holds no core because it "
        "only waits on the run's servers)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="0-19",
        help="lower this job's CPU priority by this much, and the priority of its requests to the vLLM servers the "
        "job or the run started (the workflow's background jobs: config background_nice)",
    )
    parser.add_argument(
        "--provenance",
        type=Path,
        default=None,
        help="write where and with what this job ran, and the servers it used, to this JSON file",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser(
        "download", help="build the corpus, QA sets and manifest (demo: from packages; paper: fetched; custom: files)"
    )
    p.add_argument("--assets", type=_assets, required=True, help="JSON or a JSON file: the config section assets")
    p.add_argument("--out", type=Path, required=True, help="folder for qa/<set>.jsonl and manifest.json")
    p.add_argument("--corpus", type=Path, required=True, help="where the suite's Wikipedia corpus goes (JSONL)")
    p.add_argument("--dense-index", action="store_true", help="paper: also fetch the prebuilt e5 index (its parts)")
    p.add_argument("--bm25-index", action="store_true", help="paper: also fetch the prebuilt Lucene index")
    _config_arg(p, "download")  # custom corpora: passages over retriever.dense.max_length
    p.set_defaults(func=cmd_download)

    p = verbs.add_parser("download-medcorp", help="paper: fetch MedRAG's chunk files and join them into MedCorp")
    p.add_argument("--assets", type=_assets, required=True, help="JSON or a JSON file: the config section assets")
    p.add_argument("--corpus", type=Path, required=True, help="the MedCorp corpus (JSONL)")
    p.add_argument("--manifest", type=Path, required=True, help="the manifest of the fetched files (JSON)")
    p.set_defaults(func=cmd_download_medcorp)

    p = verbs.add_parser("fetch-models", help="fetch hub models into the Hugging Face cache, once, before GPU jobs")
    p.add_argument("--models", nargs="*", default=[], help="hub ids (org/name)")
    p.add_argument("--revisions", type=_json_value, default={}, help="JSON: repo id -> revision (assets.revisions)")
    p.add_argument("--out", type=Path, required=True, help="the manifest: repo, revision, commit, folder")
    p.set_defaults(func=cmd_fetch_models)

    p = verbs.add_parser("convert-llm", help="dequantise the demo GGUF LLM into a Hugging Face folder")
    p.add_argument("--gguf", required=True, help="the GGUF file, or pkg:<package>/<file>")
    p.add_argument("--out", type=Path, required=True, help="the Hugging Face folder to write")
    p.set_defaults(func=cmd_convert_llm)

    p = _index_parser(verbs, "index", "build a BM25 or dense (FAISS) index of a corpus, or import a prebuilt one")
    p.add_argument("--out", type=Path, required=True, help="the index folder to write")
    prebuilt = p.add_mutually_exclusive_group()
    prebuilt.add_argument(
        "--parts",
        type=Path,
        nargs="+",
        help="dense: the pieces of a prebuilt FAISS index of the corpus, in order, imported without re-encoding",
    )
    prebuilt.add_argument(
        "--lucene",
        type=Path,
        help="bm25: the folder of a prebuilt Lucene index of the corpus (raw rows stored), imported without rebuilding",
    )
    prebuilt.add_argument(
        "--shards",
        type=Path,
        nargs="+",
        help="dense: the vectors of the corpus's shards (s3core encode-shard), in order, joined into one index",
    )
    p.set_defaults(func=cmd_index)

    p = verbs.add_parser("encode-shard", help="encode one shard of a corpus's passages for a sharded dense index")
    p.add_argument("--corpus", type=Path, required=True, help="the corpus (JSONL, one passage per line)")
    p.add_argument("--shard", type=int, required=True, help="which shard, from 0")
    p.add_argument("--shards", type=int, required=True, help="how many shards the corpus is cut into")
    p.add_argument("--out", type=Path, required=True, help="the shard's vectors (.npy)")
    _config_arg(p, "encode-shard")
    p.set_defaults(func=cmd_encode_shard)

    _serve_parser(verbs)

    p = _retrieving_parser(verbs, "infer", "run a method over a QA set and write its context file")
    p.add_argument(
        "--method", required=True, help="a method name (s3core.methods.registry) or an s3 run label (s3.<ablation>)"
    )
    p.add_argument("--qa", type=Path, required=True, help="the QA set (JSONL)")
    p.add_argument("--out", type=Path, required=True, help="the context file to write (JSONL)")
    p.add_argument(
        "--searcher-model", help="s3 methods: the searcher to run (s3_step0: the base model), over searcher.model"
    )
    _config_arg(p, "infer")
    p.add_argument("--limit", type=int, default=None, help="first N questions only")
    p.set_defaults(func=cmd_infer)

    p = _answering_parser(
        verbs.add_parser("evaluate", help="answer a context file with a frozen generator and score it")
    )
    p.add_argument("--contexts", type=Path, required=True, help="a context file (s3core infer)")
    p.add_argument("--out", type=Path, required=True, help="the answer file to write (JSONL)")
    _config_arg(p, "evaluate")
    p.set_defaults(func=cmd_evaluate)

    p = _answering_parser(_retrieving_parser(verbs, "precompute", "the naive-RAG cache of the training questions"))
    p.add_argument("--qa", type=Path, required=True, help="the training questions (JSONL)")
    p.add_argument(
        "--out", type=Path, required=True, help="the cache to write (JSONL): naive-RAG documents, answers, GenAcc"
    )
    _config_arg(p, "precompute")
    p.set_defaults(func=cmd_precompute)

    p = _answering_parser(_retrieving_parser(verbs, "train", "train the searcher with PPO (GBR reward)"))
    p.add_argument("--cache", type=Path, required=True, help="the naive-RAG cache (s3core precompute)")
    p.add_argument("--out", type=Path, required=True, help="run folder: searcher/, checkpoints/, metrics.jsonl")
    _config_arg(p, "train")
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("plot", help="training curve (reward and GenAcc per step) as PNG")
    p.add_argument("--metrics", type=Path, required=True, help="a training run's metrics.jsonl")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.set_defaults(func=cmd_plot)

    actions = verbs.add_parser("profile", help="Snakemake profiles").add_subparsers(dest="action", required=True)
    p = actions.add_parser("install", help="link the SLURM profile into ~/.config/snakemake (for --profile slurm)")
    p.add_argument("--source", type=Path, default=Path("workflow/profiles/slurm"), help="the profile folder to link")
    p.add_argument("--name", default="slurm", help="the name to link it under (--profile NAME)")
    p.add_argument("--force", action="store_true", help="replace another link or file of that name")
    p.set_defaults(func=cmd_profile_install)

    p = verbs.add_parser("host-server", help="inside a run's server job: start the server, announce it, hold it")
    p.add_argument("--address-file", type=Path, required=True, help="where to write the server's address once healthy")
    p.add_argument("--heartbeat", type=Path, required=True, help="the workflow's heartbeat file (stale: stop)")
    p.add_argument("--token-file", type=Path, required=True, help="the run's secret token (mode 0600)")
    p.add_argument("--health-path", default="/health", help="the path that answers 200 once the server is healthy")
    p.add_argument("--startup-timeout-s", type=float, default=600, help="how long the server may take to start")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...: {host} and {port} are filled in")
    p.set_defaults(func=cmd_host_server)

    p = verbs.add_parser("ray-run", help="start a Ray cluster across this SLURM allocation, run a command on it")
    p.add_argument("--dry-run", action="store_true", help="print the srun/ray commands instead of running them")
    p.add_argument("--nodes", help="comma-separated host names instead of SLURM_JOB_NODELIST (for --dry-run)")
    p.add_argument("--startup-timeout-s", type=float, default=300, help="how long the Ray cluster may take to come up")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...: runs with RAY_ADDRESS set")
    p.set_defaults(func=cmd_ray_run)

    p = verbs.add_parser("plan", help="the cost of a target before it is submitted: jobs, loads, GPU-hours, disk")
    p.add_argument(
        "--configfile", type=Path, nargs="+", default=[Path("config/config.yaml")], help="the workflow config(s)"
    )
    p.add_argument("--profile", type=Path, help="a Snakemake profile (folder or name) whose `config:` entries apply")
    p.add_argument(
        "--config", "--set", dest="set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, as "
        "Snakemake's --config takes them"
    )  # fmt: skip
    p.add_argument("--target", default="all", help="all, baselines, general, medical or ablations")
    p.add_argument("--json", type=Path, help="also write the preview as JSON")
    p.set_defaults(func=cmd_plan)

    p = verbs.add_parser("table", help="write the results tables (markdown + csv) from answer files")
    p.add_argument("--answers", type=Path, nargs="+", required=True, help="the answer files (s3core evaluate)")
    p.add_argument("--md", type=Path, required=True, help="the results tables as markdown")
    p.add_argument(
        "--csv", type=Path, required=True, help="the results in long form (one row per method, generator, set and run)"
    )
    p.add_argument("--tex", type=Path, required=True, help="the tables as LaTeX (booktabs)")
    p.add_argument("--corpora", type=_json_value, default={}, help="JSON: evaluation set -> corpus (default wiki)")
    p.add_argument("--paper-md", type=Path, required=True, help="ours beside the paper's Tables 1 and 2")
    p.add_argument("--paper-csv", type=Path, required=True, help="every cell of the paper beside ours (CSV)")
    p.add_argument("--paper-tex", type=Path, required=True, help="ours beside the paper as LaTeX")
    p.add_argument("--manifest", type=Path, help="the data manifest: the settings on top of the tables")
    p.add_argument("--no-paper", action="store_true", help="your own data: no paper cells to put beside ours")
    _config_arg(p, "table")
    p.add_argument(
        "--s3-runs",
        type=_s3_runs,
        default=_s3_runs("{}"),
        help="JSON: s3 run label (s3, s3.<ablation>) -> its search, reward and train sections: the rows "
        "of Tables 3, 5, 6 and Figure 10 each fills (default: s3 with the defaults)",
    )
    p.add_argument("--cost-md", type=Path, required=True, help="the training cost beside the paper's Table 4")
    p.add_argument("--cost-csv", type=Path, required=True, help="the training cost (CSV)")
    p.add_argument("--training-metrics", type=Path, help="the base s3 run's metrics.jsonl (none: no s3 trained)")
    p.add_argument("--training-provenance", type=Path, help="its training job's provenance record")
    p.set_defaults(func=cmd_table)

    p = verbs.add_parser("report", help="write the report page (index.html and its PNGs) from the run's tables")
    tables = {"results-md": "main.md", "results-csv": "main.csv", "paper-md": "paper.md", "cost-md": "training_cost.md"}
    for option, table in tables.items():
        p.add_argument(f"--{option}", type=Path, required=True, help=f"tables/{table}")
    p.add_argument("--curve", type=Path, help="the training curve (PNG), if the run trained")
    p.add_argument(
        "--gpu-hours", type=Path, help="JSON: the run's cost preview and its jobs' time records (GPU-hours used)"
    )
    p.add_argument("--title", required=True, help="the page's title")
    p.add_argument("--note", default="", help="a sentence shown on top (config report.note)")
    p.add_argument("--out-dir", type=Path, required=True, help="the folder for index.html and its PNGs")
    p.set_defaults(func=cmd_report)
    return parser


def _quiet_libraries() -> None:
    # OpenMP threads sleep when idle instead of spinning: with jobs side by side on few cores, libgomp's default
    # active wait made transformers' generate 5-27x slower here
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def run_verb(args: argparse.Namespace) -> int:
    """Run the chosen verb; 0 on success, 2 on an error the researcher can act on."""
    try:
        # the process alone: the jobs share Snakemake's session, whose other jobs (the training) keep their share
        os.nice(args.nice)
        if args.threads:  # 0: the job only waits on the run's servers and loads no PyTorch of its own
            import torch

            torch.set_num_threads(args.threads)
        with exit_on_sigterm():
            args.func(args)
    except S3Error as exc:
        log.error("%s", exc)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request to a generator or retriever
    try:
        args = build_parser().parse_args(argv)
    except S3Error as exc:  # a config section given on the command line is invalid
        log.error("%s", exc)
        return 2
    if not args.provenance:
        return run_verb(args)
    from s3core.serving.provenance import start_record, write_provenance

    started, status = start_record(), 1  # 1 unless the verb returns or exits with its own status
    try:
        status = run_verb(args)
    except SystemExit as exc:  # the process's exit status: None is 0, a message 1
        status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    finally:
        write_provenance(args.provenance, sys.argv if argv is None else argv, started, status)
    return status


if __name__ == "__main__":
    sys.exit(main())
