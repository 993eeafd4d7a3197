"""The paper's data assets and how each becomes this project's formats.

- wiki-18 (`PeterJinGo/wiki-18-corpus`, `wiki-18.jsonl.gz`): rows `{"id", "contents"}` as they are, streamed;
- its e5 flat index (`PeterJinGo/wiki-18-e5-index`, `part_aa` + `part_ab`, one FAISS file cut in two): joined
  in order into a dense index of ours without re-encoding (FAISS row i = corpus line i);
- its Lucene index (`PeterJinGo/wiki-18-bm25-index`, every file under `bm25/`): used as it is;
- the FlashRAG QA sets (`RUC-NLPIR/FlashRAG_datasets`, `<dataset>/<split>.jsonl`): one file per set and split;
- MIRAGE (`Teddy-XiongGZ/MIRAGE` on GitHub, `benchmark.json`): the medical sets as upstream formats them;
- MedCorp (`MedRAG/textbooks`, `MedRAG/pubmed`, `MedRAG/wikipedia`, `chunk/*.jsonl`; StatPearls from a folder built
  by hand): the second corpus, its snippets rewritten as wiki-18 rows (a quoted title line, then the text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from s3core.assets.hub import Remote, fetch_all, file_digests, list_folder
from s3core.config.sections import RetrieverConfig
from s3core.data.corpus import Document
from s3core.data.jsonl import iter_jsonl, write_json, write_jsonl
from s3core.data.qa import normalize_question, qa_sources, sample_eval_sets, sample_rows
from s3core.errors import DataError

WIKI18 = Remote("PeterJinGo/wiki-18-corpus", "wiki-18.jsonl.gz")
E5_INDEX_REPO = "PeterJinGo/wiki-18-e5-index"
E5_INDEX_PARTS = ("part_aa", "part_ab")
BM25_INDEX_REPO = "PeterJinGo/wiki-18-bm25-index"
BM25_INDEX_FOLDER = "bm25"
FLASHRAG_REPO = "RUC-NLPIR/FlashRAG_datasets"
MIRAGE_REPO = "Teddy-XiongGZ/MIRAGE"
#: git blob sha1 of benchmark.json on MIRAGE's main branch when this was written: a changed file is refused.
MIRAGE_MAIN_BLOB = "85bdd2857e62723921a81b6560b98937e5238776"


def mirage_remote(revision: str) -> Remote:
    """MIRAGE's benchmark.json (pinned by its blob on `main`)."""
    return Remote(
        MIRAGE_REPO,
        "benchmark.json",
        revision,
        kind="github",
        checksum=MIRAGE_MAIN_BLOB if revision == "main" else None,
    )


def flashrag_remote(source: str, revision: str) -> Remote:
    """The file of a `flashrag:<dataset>/<split>` source."""
    dataset, split = source.removeprefix("flashrag:").split("/")
    return Remote(FLASHRAG_REPO, f"{dataset}/{split}.jsonl", revision)


def e5_index_remotes(revision: str) -> list[Remote]:
    """The pieces of upstream's e5 index, in the order they join."""
    return [Remote(E5_INDEX_REPO, part, revision) for part in E5_INDEX_PARTS]


def prebuilt_index_args(assets: dict[str, Any], retriever: RetrieverConfig) -> dict[str, list[str]]:
    """Per index kind imported instead of built over wiki-18 (`retriever.<kind>.source: download`), the
    `s3core index` arguments naming its downloaded files: the e5 pieces in order, the Lucene folder."""
    folder = Path(assets["download_dir"])
    revisions = assets["revisions"]
    args = {}
    if retriever.dense.source == "download":
        parts = e5_index_remotes(revisions.get(E5_INDEX_REPO, "main"))
        args["dense"] = ["--parts", *(str(folder / part.local) for part in parts)]
    if retriever.bm25.source == "download":
        args["bm25"] = ["--lucene", str(folder / BM25_INDEX_REPO / BM25_INDEX_FOLDER)]
    return args


def corpus_from_wiki18(gz_path: Path, out: Path) -> int:
    """Stream the gzipped wiki-18 JSONL into `out` as `{"id", "contents"}` rows, in order; the row count."""

    def rows() -> Iterator[dict[str, str]]:
        for number, row in enumerate(iter_jsonl(gz_path), start=1):
            if "id" not in row or "contents" not in row:
                raise DataError(f"{gz_path}: row {number} lacks 'id' or 'contents' (wiki-18 rows have both)")
            yield {"id": str(row["id"]), "contents": row["contents"]}

    return write_jsonl(out, rows())


def corpus_from_medrag(files: list[Path], out: Path) -> int:
    """Stream MedRAG chunk files (rows `id`, `title`, `content`), in order, into `out` as `{"id", "contents"}`
    rows; the row count."""

    def rows() -> Iterator[dict[str, str]]:
        for path in files:
            for number, row in enumerate(iter_jsonl(path), start=1):
                if not all(isinstance(row.get(key), str) for key in ("id", "title", "content")):
                    raise DataError(
                        f"{path}: row {number} lacks a string 'id', 'title' or 'content' (MedRAG rows have all three)"
                    )
                # wiki-18 `contents` (the quoted title line, then the text); MedRAG's own `contents` joins them with
                # ". " on one line, which a title/text reader takes whole as the title
                yield {"id": row["id"], "contents": Document(row["id"], row["title"], row["content"]).contents}

    return write_jsonl(out, rows())


def statpearls_rows(folder: Path) -> list[dict[str, Any]]:
    """Manifest rows of the StatPearls chunk files staged by hand in `folder` (its chunk/*.jsonl)."""
    files = sorted((folder / "chunk").glob("*.jsonl"))
    if not files:
        raise DataError(
            f"assets.medcorp.statpearls: no chunk/*.jsonl in {folder}; build them with MedRAG's "
            "src/data/statpearls.py, or set it to null"
        )
    return [
        {
            "repo": "statpearls",
            "kind": "local",
            "path": str(path),
            "size": path.stat().st_size,
            "sha256": file_digests(path)[0],
            "source": str(path),
        }
        for path in files
    ]


def build_medcorp(assets: dict[str, Any], corpus_out: Path, manifest_out: Path) -> dict[str, Any]:
    """Fetch the MedCorp chunk files (from `assets.mirror` when set), join them into `corpus_out` in repo order, then
    StatPearls when staged; write the manifest and return it."""
    folder = Path(assets["download_dir"])
    mirror = mirror_of(assets)
    remotes = [
        remote
        for repo in assets["medcorp"]["repos"]
        for remote in list_folder(repo, "chunk", assets["revisions"].get(repo, "main"), mirror)
        if remote.path.endswith(".jsonl")
    ]
    files = fetch_all(remotes, folder, mirror)
    paths = [folder / remote.local for remote in remotes]
    if assets["medcorp"]["statpearls"]:
        staged = statpearls_rows(Path(assets["medcorp"]["statpearls"]))
        files += staged
        paths += [Path(row["path"]) for row in staged]
    manifest = {"files": files, "corpus": {"documents": corpus_from_medrag(paths, corpus_out)}}
    write_json(manifest_out, manifest)
    return manifest


def flashrag_rows(path: Path, dataset: str, split: str) -> list[dict[str, Any]]:
    """A FlashRAG QA file as QA rows; questions normalised as upstream keys them (stripped, `?` appended)."""
    rows = []
    for lineno, row in enumerate(iter_jsonl(path), start=1):
        if not isinstance(row.get("question"), str) or not isinstance(row.get("golden_answers"), list):
            raise DataError(f"{path}: row {lineno} needs a string 'question' and a list 'golden_answers'")
        rows.append(
            {
                "id": f"{dataset}_{row['id']}" if "id" in row else f"{dataset}_{split}_{lineno - 1}",
                "question": normalize_question(row["question"]),
                "golden_answers": [str(a) for a in row["golden_answers"]],
                "data_source": dataset,
                "split": split,
                "metadata": row.get("metadata") or {},
            }
        )
    return rows


def mirage_rows(benchmark: Path, subset: str) -> list[dict[str, Any]]:
    """One MIRAGE subset as QA rows, as upstream formats them: the question and an `Options:` block (`K: text`
    lines), gold `K: text`, searched with the question alone (`query`); judged only (see
    `s3core.evaluation.evaluator`)."""
    try:
        items = json.loads(benchmark.read_text(encoding="utf-8"))[subset]
    except (json.JSONDecodeError, KeyError) as exc:
        raise DataError(f"{benchmark}: no MIRAGE subset {subset!r} in it ({type(exc).__name__}: {exc})") from exc
    rows = []
    for qid, item in items.items():
        options = "".join(f"{key}: {text}\n" for key, text in item["options"].items())
        gold = f"{item['answer']}: {item['options'][item['answer']]}"
        rows.append(
            {
                "id": f"{subset}_{qid}",
                "question": f"{item['question']}\nOptions:\n{options}",
                "query": item["question"],
                "golden_answers": [gold],
                "data_source": subset,
                "split": "test",
                "metadata": {},
            }
        )
    return rows


def paper_remotes(assets: dict[str, Any], dense_index: bool, bm25_index: bool) -> list[Remote]:
    """Every remote file the paper's data needs (the e5 index parts when `dense_index`, the Lucene index's files when
    `bm25_index`), at its pinned revision."""
    revision = assets["revisions"]
    remotes = [Remote(WIKI18.repo, WIKI18.path, revision.get(WIKI18.repo, "main"))]
    sources = [s for spec in (assets["train"], *assets["eval"].values()) for s in qa_sources(spec)]
    remotes += [
        flashrag_remote(s, revision.get(FLASHRAG_REPO, "main"))
        for s in dict.fromkeys(sources)
        if s.startswith("flashrag:")
    ]
    if any(s.startswith("mirage:") for s in sources):
        remotes.append(mirage_remote(revision.get(MIRAGE_REPO, "main")))
    if dense_index:
        remotes += e5_index_remotes(revision.get(E5_INDEX_REPO, "main"))
    if bm25_index:
        remotes += list_folder(
            BM25_INDEX_REPO, BM25_INDEX_FOLDER, revision.get(BM25_INDEX_REPO, "main"), mirror_of(assets)
        )
    return remotes


def mirror_of(assets: dict[str, Any]) -> Path | None:
    """The folder `assets.mirror` names (files staged by hand), else None: the network."""
    return Path(assets["mirror"]) if assets["mirror"] else None


def same_sample(specs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each evaluation set -> the first set with its source and size, whose sample it shares (a MIRAGE set searched
    in another corpus asks the same questions; sampled on its own, upstream's skip of questions already taken by an
    earlier set would leave it empty)."""
    first: dict[str, str] = {}
    return {name: first.setdefault(json.dumps([spec["source"], spec["size"]]), name) for name, spec in specs.items()}


def _qa_rows(folder: Path, spec: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for source in qa_sources(spec):
        if source.startswith("mirage:"):
            rows += mirage_rows(folder / mirage_remote("").local, source.removeprefix("mirage:"))
        else:
            dataset, split = source.removeprefix("flashrag:").split("/")
            rows += flashrag_rows(folder / flashrag_remote(source, "").local, dataset, split)
    return rows


def build_paper_data(
    assets: dict[str, Any], out_dir: Path, corpus_out: Path, dense_index: bool, bm25_index: bool = False
) -> dict[str, Any]:
    """Fetch the paper's data (from `assets.mirror` when set) and write wiki-18 to `corpus_out`, qa/<set>.jsonl and
    manifest.json (every remote file with its commit, size and sha256) to `out_dir`; return the manifest."""
    folder = Path(assets["download_dir"])
    mirror = mirror_of(assets)
    files = fetch_all(paper_remotes(assets, dense_index, bm25_index), folder, mirror)
    documents = corpus_from_wiki18(folder / WIKI18.local, corpus_out)
    seed = assets["seed"]
    train = _qa_rows(folder, assets["train"])
    twin = same_sample(assets["eval"])
    own = [name for name in assets["eval"] if twin[name] == name]
    sampled = sample_eval_sets(
        {name: _qa_rows(folder, assets["eval"][name]) for name in own},
        {name: assets["eval"][name]["size"] for name in own},
        seed,
    )
    picked = {
        "train": sample_rows(train, assets["train"]["size"], seed),
        **{name: sampled[twin[name]] for name in assets["eval"]},
    }
    for name, rows in picked.items():
        write_jsonl(out_dir / "qa" / f"{name}.jsonl", rows)
    manifest = {
        "seed": seed,
        "files": files,
        "corpus": {"documents": documents},
        "qa": {name: {"sampled": len(rows)} for name, rows in picked.items()},
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest
