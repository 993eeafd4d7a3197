"""The paper's data fetched from a stand-in hub serving miniature repos in upstream's formats (tests/paper_hub.py);
the prebuilt index imported without re-encoding retrieves the right passages; MIRAGE and MedCorp as upstream shapes
them (tests/test_paper_run.py runs the whole paper DAG on the same stand-in)."""

import gzip
import json
from dataclasses import replace
from typing import Any

import pytest
from fake_hub import FakeHub
from paper_hub import corpus_docs, paper_repos, qa_files
from workflow_run import ROOT

from s3core.assets.paper import build_medcorp, build_paper_data
from s3core.config import schema as config
from s3core.config.sections import SECTIONS, JobConfig, job_config, parse
from s3core.data.jsonl import read_jsonl
from s3core.data.qa import normalize_question, sample_positions
from s3core.errors import AssetError, ConfigError, DataError
from s3core.plan.models import hub_models
from s3core.retrieval.base import load_retriever
from s3core.retrieval.dense import import_dense_index

pytestmark = pytest.mark.slow  # stages the paper's data from a hub stand-in and builds indexes


@pytest.fixture(scope="module")
def mini_hub(retriever_config):
    docs = corpus_docs()
    dense = replace(retriever_config.dense, passage_prefix="passage: ", query_prefix="query: ")
    hub = FakeHub(paper_repos(docs, dense))
    url = hub.start()
    yield hub, url, docs, dense
    hub.stop()


@pytest.fixture
def online(mini_hub, monkeypatch):
    hub, url, docs, dense = mini_hub
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("S3_GITHUB_RAW", f"{url}/github")
    return mini_hub


def _assets(tmp_path, **overrides):
    return config.section(
        "assets",
        {
            "kind": "paper",
            "download_dir": str(tmp_path / "downloads"),
            "train": {"source": ["flashrag:nq/train", "flashrag:hotpotqa/train"], "size": 8},
            "eval": {
                "nq": {"source": "flashrag:nq/test", "size": 5},
                "hotpotqa": {"source": "flashrag:hotpotqa/dev", "size": 100},
            },
            **overrides,
        },
    )


def test_paper_data_from_the_hub_then_the_index_imported_without_re_encoding(online, tmp_path, retriever_config):
    hub, url, docs, dense = online
    out = tmp_path / "data"
    manifest = build_paper_data(_assets(tmp_path), out, out / "corpus.jsonl", dense_index=True)
    corpus = read_jsonl(out / "corpus.jsonl")
    assert [r["contents"] for r in corpus] == [d.contents for d in docs] and manifest["corpus"]["documents"] == len(
        docs
    )
    files = {(f["repo"], f["path"]): f for f in manifest["files"]}
    assert set(files) == {
        ("PeterJinGo/wiki-18-corpus", "wiki-18.jsonl.gz"),
        ("PeterJinGo/wiki-18-e5-index", "part_aa"),
        ("PeterJinGo/wiki-18-e5-index", "part_ab"),
        ("RUC-NLPIR/FlashRAG_datasets", "nq/train.jsonl"),
        ("RUC-NLPIR/FlashRAG_datasets", "hotpotqa/train.jsonl"),
        ("RUC-NLPIR/FlashRAG_datasets", "nq/test.jsonl"),
        ("RUC-NLPIR/FlashRAG_datasets", "hotpotqa/dev.jsonl"),
    }
    corpus_file = files[("PeterJinGo/wiki-18-corpus", "wiki-18.jsonl.gz")]
    assert corpus_file["commit"] == hub.repos[("dataset", "PeterJinGo/wiki-18-corpus")].commit and corpus_file["sha256"]

    train = read_jsonl(out / "qa" / "train.jsonl")
    assert len(train) == 8 and {r["data_source"] for r in train} == {"nq", "hotpotqa"}
    assert all(r["question"].endswith("?") for r in train)  # upstream's question keys
    nq = read_jsonl(out / "qa" / "nq.jsonl")
    file_questions = [normalize_question(r["question"]) for r in qa_files()["nq/test.jsonl"]]
    taken = {file_questions[i] for i in sample_positions(len(file_questions), 5, 42)}  # pandas' sample, seed 42
    assert [r["question"] for r in nq] == [q for q in file_questions if q in taken]  # file order, repeats kept
    assert all(r["split"] == "test" and r["data_source"] == "nq" for r in nq)
    assert len(read_jsonl(out / "qa" / "hotpotqa.jsonl")) == 7  # fewer than 100: all

    parts = [tmp_path / "downloads/PeterJinGo/wiki-18-e5-index" / p for p in ("part_aa", "part_ab")]
    assert import_dense_index(parts, out / "corpus.jsonl", tmp_path / "index", dense) == len(docs)
    retriever = load_retriever(
        "dense", tmp_path / "index", out / "corpus.jsonl", replace(retriever_config, dense=dense)
    )
    hits = retriever.search(["who wrote hamlet", "the largest planet of the solar system"], 1)
    assert [h[0][0].title for h in hits] == ["William Shakespeare", "Jupiter"]  # FAISS row i = corpus line i

    hub.requests.clear()
    assert (
        build_paper_data(_assets(tmp_path), out, out / "corpus.jsonl", dense_index=True)["files"] == manifest["files"]
    )
    assert not [r for r in hub.requests if r[0] == "GET"]  # a re-run verifies, fetches nothing


def test_an_index_of_another_corpus_is_refused(online, tmp_path):
    hub, url, docs, dense = online
    out = tmp_path / "data"
    build_paper_data(_assets(tmp_path), out, out / "corpus.jsonl", dense_index=True)
    short = tmp_path / "short.jsonl"
    short.write_text("".join((out / "corpus.jsonl").read_text().splitlines(keepends=True)[:-1]))
    parts = sorted((tmp_path / "downloads/PeterJinGo/wiki-18-e5-index").glob("part_*"))
    with pytest.raises(DataError, match=f"the index has {len(docs)} rows but .* has {len(docs) - 1} documents"):
        import_dense_index(parts, short, tmp_path / "index", dense)


def test_a_missing_qa_file_names_repo_revision_and_path(online, tmp_path):
    assets = _assets(
        tmp_path,
        eval={"bamboogle": {"source": "flashrag:bamboogle/test", "size": 3}},
        revisions={"RUC-NLPIR/FlashRAG_datasets": "main"},
    )
    with pytest.raises(
        AssetError, match="RUC-NLPIR/FlashRAG_datasets, revision main: cannot fetch bamboogle/test.jsonl"
    ):
        build_paper_data(assets, tmp_path / "data", tmp_path / "corpus.jsonl", dense_index=False)


def test_sources_must_fit_the_asset_kind():
    base = {"suite": "x", "generators": {"g": {"backend": "hf", "model": "m"}}}
    with pytest.raises(ConfigError, match="assets.train.source': assets.kind 'paper' reads flashrag"):
        config.check_across_keys(
            config.validate(
                {
                    **base,
                    "assets": {
                        "kind": "paper",
                        "train": {"source": "nq_dev", "size": 1},
                        "eval": {"nq": {"source": "flashrag:nq/test", "size": 1}},
                    },
                }
            )
        )
    with pytest.raises(ConfigError, match="assets.eval.nq.source': the demo reads one DPR file"):
        config.check_across_keys(
            config.validate(
                {
                    **base,
                    "assets": {
                        "kind": "demo",
                        "train": {"source": "nq_dev", "size": 1},
                        "eval": {"nq": {"source": ["nq_test"], "size": 1}},
                    },
                }
            )
        )
    with pytest.raises(ConfigError, match="retriever.dense.source': 'download' .* needs assets.kind 'paper'"):
        config.check_across_keys(
            config.validate(
                {
                    **base,
                    "retriever": {"dense": {"source": "download"}},
                    "assets": {
                        "kind": "demo",
                        "train": {"source": "nq_dev", "size": 1},
                        "eval": {"nq": {"source": "nq_test", "size": 1}},
                    },
                }
            )
        )


def test_offline_mode_is_named(mini_hub, monkeypatch, tmp_path):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_ENDPOINT", mini_hub[1])
    with pytest.raises(AssetError, match="HF_HUB_OFFLINE is set, but PeterJinGo/wiki-18-corpus/wiki-18.jsonl.gz"):
        build_paper_data(_assets(tmp_path), tmp_path / "data", tmp_path / "corpus.jsonl", dense_index=False)


def job_of(data: dict[str, Any]) -> JobConfig:
    """The job sections of a whole config, typed."""
    return job_config({name: data[name] for name in SECTIONS})


def test_the_models_a_run_loads_are_fetched_once():
    paper = config.load(ROOT / "config" / "paper.yaml")
    assert hub_models(job_of(paper), paper["eval"]["methods"]) == [
        "intfloat/e5-base-v2",
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen/Qwen2.5-14B-Instruct-GPTQ-Int4",
        "PeterJinGo/SearchR1-nq_hotpotqa_train-qwen2.5-7b-em-ppo",
        "DeepRetrieval/DeepRetrieval-NQ-BM25-3B",
        "Qwen/Qwen2.5-7B-Instruct-1M",
    ]  # not Claude (an API), not local folders
    assert hub_models(job_of(paper), ["s3_released"])[-1] == "pat-jj/s3-8-3-3-20steps"
    demo = config.load(ROOT / "config" / "config.yaml")
    assert hub_models(job_of(demo), demo["eval"]["methods"]) == []  # the demo loads packaged models


def test_a_corrupt_wiki18_line_names_file_and_line(tmp_path):
    from s3core.assets.paper import corpus_from_wiki18

    gz = tmp_path / "wiki-18.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"id": "0", "contents": "\\"A\\"\\ntext"}\n{oops\n'))
    with pytest.raises(DataError, match=r"wiki-18.jsonl.gz:2: not valid JSON"):
        corpus_from_wiki18(gz, tmp_path / "corpus.jsonl")
    gz.write_bytes(gzip.compress(b'{"id": "0"}\n'))
    with pytest.raises(DataError, match="row 1 lacks 'id' or 'contents'"):
        corpus_from_wiki18(gz, tmp_path / "corpus.jsonl")
    assert not (tmp_path / "corpus.jsonl").exists()  # nothing half-written


def test_mirage_sets_as_upstream_formats_them(online, tmp_path):
    assets = _assets(
        tmp_path,
        eval={"medqa": {"source": "mirage:medqa", "size": 100}, "pubmedqa": {"source": "mirage:pubmedqa", "size": 2}},
        revisions={"Teddy-XiongGZ/MIRAGE": "m1"},
    )
    manifest = build_paper_data(assets, tmp_path / "data", tmp_path / "corpus.jsonl", dense_index=False)
    assert {(f["repo"], f["commit"]) for f in manifest["files"]} >= {("Teddy-XiongGZ/MIRAGE", "m1")}
    medqa = read_jsonl(tmp_path / "data" / "qa" / "medqa.jsonl")
    assert len(medqa) == 4 and len(read_jsonl(tmp_path / "data" / "qa" / "pubmedqa.jsonl")) == 2
    assert medqa[1] == {
        "id": "medqa_medqa-1",
        "data_source": "medqa",
        "split": "test",
        "metadata": {},
        "question": "Which drug treats medqa case 1?\nOptions:\nA: Aspirin\nB: Insulin\nC: Heparin\nD: None\n",
        "query": "Which drug treats medqa case 1?",
        "golden_answers": ["B: Insulin"],
    }


def test_mirage_on_main_is_pinned_by_its_blob(online, tmp_path):
    with pytest.raises(AssetError, match="git blob sha1 .* differs from the expected 85bdd2857e6272"):
        build_paper_data(
            _assets(tmp_path, eval={"bioasq": {"source": "mirage:bioasq", "size": 3}}),
            tmp_path / "data",
            tmp_path / "corpus.jsonl",
            dense_index=False,
        )


def test_a_medical_question_is_searched_without_its_options():
    from s3core.methods import get_method

    class Recording:
        def __init__(self):
            self.queries = []

        def search(self, queries, topk):
            self.queries += queries
            return [[] for _ in queries]

    retriever = Recording()
    question = {
        "id": "m",
        "question": "Which drug?\nOptions:\nA: Aspirin\n",
        "query": "Which drug?",
        "golden_answers": ["A: Aspirin"],
        "data_source": "medqa",
    }
    plain = {"id": "n", "question": "who wrote hamlet?", "golden_answers": ["Shakespeare"], "data_source": "nq"}
    rows = get_method("rag_dense").run([question, plain], retriever, job_config({"retriever": {"topk": 3}}))
    assert retriever.queries == ["Which drug?", "who wrote hamlet?"]
    assert rows[0]["question"] == question["question"]  # the generator still reads the options


def test_medcorp_joins_the_medrag_chunks_as_wiki18_rows(online, tmp_path):
    hub = online[0]
    corpus, manifest_path = tmp_path / "medcorp.jsonl", tmp_path / "medcorp.manifest.json"
    manifest = build_medcorp(_assets(tmp_path), corpus, manifest_path)
    rows = read_jsonl(corpus)
    ids = [r["id"] for r in rows]
    assert ids[:8] == [f"Anatomy_Gray_{i}" for i in range(4)] + [f"InternalMed_Harrison_{i}" for i in range(4)]
    assert ids[8:16] == [f"p1_{i}" for i in range(4)] + [f"p2_{i}" for i in range(4)]  # repo order, then file order
    assert len(rows) == manifest["corpus"]["documents"] == 24
    first = json.loads(hub.repos[("dataset", "MedRAG/textbooks")].files["chunk/Anatomy_Gray.jsonl"].splitlines()[0])
    assert rows[0]["contents"] == f'"{first["title"]}"\n{first["content"]}'  # title line, then the text
    assert {f["path"] for f in manifest["files"]} == {
        "chunk/Anatomy_Gray.jsonl",
        "chunk/InternalMed_Harrison.jsonl",
        "chunk/pubmed23n0001.jsonl",
        "chunk/pubmed23n0002.jsonl",
        "chunk/wiki20220301en000.jsonl",
    }  # the READMEs are not fetched
    assert json.loads(manifest_path.read_text()) == manifest

    staged = tmp_path / "statpearls"
    (staged / "chunk").mkdir(parents=True)
    (staged / "chunk" / "article-1.jsonl").write_text(
        json.dumps({"id": "sp_0", "title": "Sepsis", "content": "x"}) + "\n"
    )
    assets = _assets(tmp_path, medcorp={"statpearls": str(staged)}, mirror=str(tmp_path / "downloads"))
    hub.requests.clear()
    manifest = build_medcorp(assets, corpus, manifest_path)  # the first fetch is the mirror now
    assert read_jsonl(corpus)[-1] == {"id": "sp_0", "contents": '"Sepsis"\nx'} and manifest["corpus"]["documents"] == 25
    assert manifest["files"][-1]["repo"] == "statpearls" and not hub.requests


def test_a_bad_medrag_row_names_file_and_line(tmp_path):
    from s3core.assets.paper import corpus_from_medrag

    chunk = tmp_path / "chunk.jsonl"
    chunk.write_text(json.dumps({"id": "a", "title": "T", "content": "c"}) + "\n" + json.dumps({"id": "b"}) + "\n")
    with pytest.raises(DataError, match=f"{chunk}: row 2 lacks a string 'id', 'title' or 'content'"):
        corpus_from_medrag([chunk], tmp_path / "out.jsonl")
    with pytest.raises(AssetError, match="dataset repo MedRAG/pubmed, revision main: cannot list chunk/"):
        build_medcorp(
            _assets(tmp_path, medcorp={"repos": ["MedRAG/pubmed"]}), tmp_path / "c.jsonl", tmp_path / "m.json"
        )


def test_medcorp_only_in_the_paper_run_and_never_for_training():
    base = {"suite": "x", "generators": {"g": {"backend": "hf", "model": "m"}}}
    demo = {"kind": "demo", "train": {"source": "nq_dev", "size": 1}}
    with pytest.raises(ConfigError, match="assets.eval.nq.corpus': 'medcorp' .* needs assets.kind 'paper'"):
        config.check_across_keys(
            config.validate(
                {**base, "assets": {**demo, "eval": {"nq": {"source": "nq_test", "size": 1, "corpus": "medcorp"}}}}
            )
        )
    with pytest.raises(ConfigError, match="assets.train.corpus': training searches the suite's Wikipedia"):
        config.check_across_keys(
            config.validate(
                {
                    **base,
                    "assets": {
                        **demo,
                        "train": {**demo["train"], "corpus": "medcorp"},
                        "eval": {"nq": {"source": "nq_test", "size": 1}},
                    },
                }
            )
        )
    with pytest.raises(ConfigError, match="assets.eval.nq.corpus.*'wiki', 'medcorp'"):
        config.validate(
            {**base, "assets": {**demo, "eval": {"nq": {"source": "nq_test", "size": 1, "corpus": "pubmed"}}}}
        )


def test_a_set_searched_in_medcorp_asks_its_wiki_twins_questions(online, tmp_path):
    assets = _assets(
        tmp_path,
        eval={
            "medqa": {"source": "mirage:medqa", "size": 3},
            "medqa_medcorp": {"source": "mirage:medqa", "size": 3, "corpus": "medcorp"},
            "medqa_more": {"source": "mirage:medqa", "size": 4},
        },
        revisions={"Teddy-XiongGZ/MIRAGE": "m1"},
    )
    build_paper_data(assets, tmp_path / "data", tmp_path / "corpus.jsonl", dense_index=False)
    qa = {name: read_jsonl(tmp_path / "data" / "qa" / f"{name}.jsonl") for name in assets["eval"]}
    assert len(qa["medqa"]) == 3 and qa["medqa_medcorp"] == qa["medqa"]
    assert len(qa["medqa_more"]) == 1  # another sample: upstream skips questions an earlier set took


def test_upstreams_lucene_index_is_imported_as_it_is(online, tmp_path):
    from s3core.retrieval.bm25 import import_bm25_index

    docs = online[2]
    out = tmp_path / "data"
    manifest = build_paper_data(_assets(tmp_path), out, out / "corpus.jsonl", dense_index=False, bm25_index=True)
    lucene = [f for f in manifest["files"] if f["repo"] == "PeterJinGo/wiki-18-bm25-index"]
    assert lucene and all(f["path"].startswith("bm25/") and f["sha256"] for f in lucene)  # listed by the tree API
    retriever = parse("retriever", {"bm25": {"engine": "pyserini", "source": "download"}})
    folder = tmp_path / "downloads" / "PeterJinGo" / "wiki-18-bm25-index" / "bm25"
    assert import_bm25_index(folder, out / "corpus.jsonl", tmp_path / "index", retriever.bm25) == len(docs)
    hits = load_retriever("bm25", tmp_path / "index", out / "corpus.jsonl", retriever).search(["jupiter planet"], 1)
    assert hits[0][0][0].title == "Jupiter"
    short = tmp_path / "short.jsonl"
    short.write_text("".join((out / "corpus.jsonl").read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(DataError, match=f"the Lucene index holds {len(docs)} documents but .* has {len(docs) - 1}"):
        import_bm25_index(folder, short, tmp_path / "index2", retriever.bm25)


def test_a_prebuilt_lucene_index_needs_lucene_and_the_paper_data():
    base = {
        "suite": "x",
        "generators": {"g": {"backend": "hf", "model": "m"}},
        "assets": {
            "kind": "paper",
            "train": {"source": "flashrag:nq/train", "size": 1},
            "eval": {"nq": {"source": "flashrag:nq/test", "size": 1}},
        },
    }
    with pytest.raises(
        ConfigError, match="retriever.bm25.source': 'download' .* needs retriever.bm25.engine 'pyserini'"
    ):
        config.check_across_keys(config.validate({**base, "retriever": {"bm25": {"source": "download"}}}))
