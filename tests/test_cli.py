"""The `s3core` command line: verbs run end to end and errors end in exit code 2 with a message."""

import json
import logging
import os
import subprocess
import sys

from jobs import job_json

from s3core import __version__
from s3core.cli import main
from s3core.config.sections import RetrieverConfig, to_dict
from s3core.data.jsonl import read_jsonl, write_jsonl
from s3core.serving.redact import redact
from s3core.serving.sidecar import Sidecar
from s3core.stages.services import serve_command

QUESTIONS = [
    {
        "id": "q1",
        "question": "largest planet in the solar system",
        "golden_answers": ["Jupiter"],
        "data_source": "demo",
        "split": "test",
        "metadata": {},
    },
    {
        "id": "q2",
        "question": "who wrote hamlet",
        "golden_answers": ["William Shakespeare"],
        "data_source": "demo",
        "split": "test",
        "metadata": {},
    },
]


def infer_argv(qa, out, retriever: RetrieverConfig, *more, method="rag_bm25") -> list[str]:
    """`s3core infer` of `method` over `qa` into `out` with the `retriever` config section, then the options
    `more`."""
    return [
        "infer",
        "--method",
        method,
        "--qa",
        str(qa),
        "--out",
        str(out),
        "--config",
        job_json("infer", retriever=to_dict(retriever)),
        *map(str, more),
    ]


def test_infer_rag_through_a_sidecar_and_direct(tmp_path, bm25_index, small_corpus, retriever_config):
    qa = tmp_path / "qa.jsonl"
    write_jsonl(qa, QUESTIONS)
    sidecar = ["--index", bm25_index, "--corpus", small_corpus, "--server-log", tmp_path / "server.log"]
    assert main(infer_argv(qa, tmp_path / "rag.jsonl", retriever_config, *sidecar)) == 0
    rows = read_jsonl(tmp_path / "rag.jsonl")
    assert [r["id"] for r in rows] == ["q1", "q2"] and all(len(r["docs"]) == 3 for r in rows)
    assert rows[0]["docs"][0]["title"] == "Jupiter" and rows[0]["method"] == "rag_bm25"
    assert main(["infer", "--method", "direct", "--qa", str(qa), "--out", str(tmp_path / "d.jsonl")]) == 0
    assert [r["docs"] for r in read_jsonl(tmp_path / "d.jsonl")] == [[], []]


def test_provenance_records_the_sidecar_and_external_endpoints(tmp_path, bm25_index, small_corpus, retriever_config):
    qa, record = tmp_path / "qa.jsonl", tmp_path / "job.provenance.json"
    write_jsonl(qa, QUESTIONS)
    common = infer_argv(qa, tmp_path / "rag.jsonl", retriever_config)
    sidecar = [
        *common,
        "--index",
        str(bm25_index),
        "--corpus",
        str(small_corpus),
        "--server-log",
        str(tmp_path / "server.log"),
    ]
    assert main(["--provenance", str(record), *sidecar]) == 0
    run = json.loads(record.read_text())
    assert run["exit_status"] == 0 and run["argv"][2:4] == ["infer", "--method"]
    assert run["packages"]["s3core"] == __version__ and run["packages"]["torch"]
    [server] = run["services"]
    assert server["role"] == "retriever:bm25" and not server["external"] and "stopped" in server
    assert server["version"]["s3core"] == __version__ and server["version"]["documents"] == len(
        read_jsonl(small_corpus)
    )
    assert server["command"][2:4] == ["s3core.cli", "serve"] and server["log"].endswith("server.log")

    with Sidecar(serve_command("bm25", bm25_index, small_corpus, retriever_config), tmp_path / "s.log") as s:
        assert main(["--provenance", str(record), *common, "--retriever-url", s.url]) == 0
    [external] = json.loads(record.read_text())["services"]
    assert external["external"] and external["url"] == s.url and external["version"]["retriever"] == "bm25"


def test_credentials_in_urls_never_reach_the_provenance_record(tmp_path, bm25_index, small_corpus, retriever_config):
    qa, record = tmp_path / "qa.jsonl", tmp_path / "job.provenance.json"
    write_jsonl(qa, QUESTIONS)
    with Sidecar(serve_command("bm25", bm25_index, small_corpus, retriever_config), tmp_path / "s.log") as s:
        url = s.url.replace("http://", "http://alice:s3cret@")
        argv = infer_argv(qa, tmp_path / "rag.jsonl", retriever_config, "--retriever-url", url)
        assert main(["--provenance", str(record), *argv]) == 0
    text = record.read_text()
    assert "s3cret" not in text and "alice" not in text
    assert json.loads(text)["services"][0]["url"].startswith("http://***@127.0.0.1:")
    assert (
        redact('{"base_url": "https://u:p@api.example/v1?token=t&x=1"}')
        == '{"base_url": "https://***@api.example/v1?token=***&x=1"}'
    )


def test_provenance_is_written_when_the_job_fails(tmp_path, small_corpus, retriever_config):
    qa, record = tmp_path / "qa.jsonl", tmp_path / "job.provenance.json"
    write_jsonl(qa, QUESTIONS)
    missing = ["--index", tmp_path / "missing", "--corpus", small_corpus, "--server-log", tmp_path / "server.log"]
    assert main(["--provenance", str(record), *infer_argv(qa, tmp_path / "o.jsonl", retriever_config, *missing)]) == 2
    run = json.loads(record.read_text())
    assert run["exit_status"] == 2 and run["services"] == [] and not (tmp_path / "o.jsonl").exists()


def test_errors_exit_2_with_a_message(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    assert (
        main(
            ["download", "--assets", '{"kind": "paper"}', "--out", str(tmp_path), "--corpus", str(tmp_path / "c.jsonl")]
        )
        == 2
    )
    assert "assets" in caplog.text and "'train' is a required property" in caplog.text
    assert (
        main(
            [
                "download",
                "--assets",
                '{"kind": "demo", "seed": "x"}',
                "--out",
                str(tmp_path),
                "--corpus",
                str(tmp_path / "c.jsonl"),
            ]
        )
        == 2
    )
    assert "assets.seed" in caplog.text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "q", "golden_answers": ["a"], "data_source": "nq"}\n{oops\n')
    assert main(["infer", "--method", "direct", "--qa", str(bad), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "bad.jsonl:2" in caplog.text


def test_every_verb_and_option_says_what_it_is():
    import argparse

    from s3core.cli import build_parser

    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    silent = [
        f"{parser.prog} {action.option_strings or action.dest}"
        for parser in parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help
    ]
    assert not silent


def test_nice_lowers_the_jobs_cpu_priority_before_its_verb_runs():
    """`s3core --nice N` (the workflow's background jobs) runs the verb N steps below the nice it started with."""
    script = (
        "import os, sys\n"
        "from s3core import cli\n"
        "args = cli.build_parser().parse_args(['--nice', '7', 'plot', '--metrics', 'm', '--out', 'o'])\n"
        "args.func = lambda args: print(os.getpriority(os.PRIO_PROCESS, 0))\n"
        "sys.exit(cli.run_verb(args))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(done.stdout) == min(os.getpriority(os.PRIO_PROCESS, 0) + 7, 19)
