from dataclasses import replace

import numpy as np
import pytest
import torch

from s3core.config.sections import parse, to_dict
from s3core.retrieval.base import load_retriever
from s3core.retrieval.dense import Encoder

QUESTIONS = {
    "Mount Everest": "what is the highest mountain on earth above sea level",
    "Jupiter": "largest planet in the solar system gas giant",
    "William Shakespeare": "who wrote the play hamlet and romeo and juliet",
}


def _top_titles(retriever, k=3):
    return [[d.title for d, _ in hits] for hits in retriever.search(list(QUESTIONS.values()), k)]


def test_bm25_finds_answer_documents(bm25_index, small_corpus, retriever_config):
    retriever = load_retriever("bm25", bm25_index, small_corpus, retriever_config)
    assert len(retriever) == 60
    tops = _top_titles(retriever)
    assert all(title in top for title, top in zip(QUESTIONS, tops))
    hits = retriever.search(["jupiter planet"], 5)[0]
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert retriever.search(["qqqzzz xyzzy"], 3) == [[]]  # no term matches: no documents


def test_dense_finds_answer_documents(dense_index, small_corpus, retriever_config):
    retriever = load_retriever("dense", dense_index, small_corpus, retriever_config)
    tops = _top_titles(retriever)
    assert all(title in top for title, top in zip(QUESTIONS, tops))
    assert len(retriever.search(["x"], 100)[0]) == 60  # topk beyond the corpus is capped
    torch_search = replace(retriever_config, dense=replace(retriever_config.dense, search="torch"))
    queries = list(QUESTIONS) + ["x"]
    by_torch = load_retriever("dense", dense_index, small_corpus, torch_search).search(queries, 5)
    by_faiss = retriever.search(queries, 5)
    assert [[d for d, _ in hits] for hits in by_torch] == [[d for d, _ in hits] for hits in by_faiss]
    assert np.allclose(
        [[s for _, s in hits] for hits in by_torch], [[s for _, s in hits] for hits in by_faiss], atol=1e-5
    )  # the same documents and scores


def test_encoder_vectors_are_unit_length_and_batch_independent(retriever_config):
    encoder = Encoder(replace(retriever_config.dense, batch_size=2))
    texts = ["a short one", "a considerably longer sentence about the Amazon river basin", "third"]
    batched = encoder.encode(texts, "")
    single = np.concatenate([encoder.encode([t], "") for t in texts])
    assert batched.shape == (3, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(batched, single, atol=1e-5)  # padding does not leak into mean pooling
    assert encoder.encode([], "").shape == (0, encoder.dim)


def test_dense_index_encodes_prefix_and_wiki18_contents(tmp_path, retriever_config):
    """Passages are encoded as upstream's index builder does: the passage prefix, then `contents` as stored
    (the quoted title line, a newline, the text)."""
    import faiss

    from s3core.data.jsonl import write_jsonl
    from s3core.retrieval.dense import INDEX_FILE, build_dense_index

    corpus = tmp_path / "corpus.jsonl"
    contents = ['"Paris"\nParis is the capital of France.', '"Lyon"\nLyon is a city in France.']
    write_jsonl(corpus, [{"id": str(i), "contents": c} for i, c in enumerate(contents)])
    dense = replace(retriever_config.dense, passage_prefix="passage: ")
    build_dense_index(corpus, tmp_path / "index", dense)
    index = faiss.read_index(str(tmp_path / "index" / INDEX_FILE))
    stored = np.stack([index.reconstruct(i) for i in range(index.ntotal)])
    expected = Encoder(dense).encode(contents, "passage: ")
    np.testing.assert_allclose(stored, expected, atol=1e-5)
    unquoted = Encoder(dense).encode([c.replace('"', "") for c in contents], "passage: ")
    assert not np.allclose(stored, unquoted, atol=1e-3)


def test_lucene_bm25_finds_answer_documents_like_bm25s(small_corpus, retriever_config, tmp_path):
    """`engine: pyserini`: Anserini's indexer and BM25 searcher (Java 17) over the same corpus."""
    import os
    import shutil

    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        if os.environ.get("CI"):
            pytest.fail("CI must run the Lucene test: install openjdk-17-jdk-headless")
        pytest.skip("no Java here: install a JDK 17 to run Lucene (apt-get install openjdk-17-jdk-headless)")
    from s3core.retrieval.bm25 import build_bm25_index

    lucene_config = parse("retriever", {"bm25": {"engine": "pyserini"}})
    assert build_bm25_index(small_corpus, tmp_path / "lucene", lucene_config.bm25, threads=1) == 60
    retriever = load_retriever("bm25", tmp_path / "lucene", small_corpus, lucene_config)
    assert len(retriever) == 60 and type(retriever).__name__ == "LuceneRetriever"
    tops = _top_titles(retriever)
    assert all(title in top for title, top in zip(QUESTIONS, tops))
    hits = retriever.search(["jupiter planet"], 5)[0]
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True) and hits[0][0].title == "Jupiter"
    assert hits[0][0].contents.startswith('"Jupiter"\n')  # the raw wiki-18 row comes back whole
    from concurrent.futures import ThreadPoolExecutor

    from s3core.retrieval.client import RetrieverClient
    from s3core.serving.sidecar import Sidecar
    from s3core.stages.services import serve_command

    queries = [f"{word} history" for word in ["river", "planet", "mountain", "poet", "capital", "war"] * 3]
    with Sidecar(
        serve_command("bm25", tmp_path / "lucene", small_corpus, lucene_config), tmp_path / "server.log"
    ) as server:
        client = RetrieverClient(server.url, lucene_config.client)
        with ThreadPoolExecutor(8) as pool:  # the JVM answers from the server's threads
            remote = list(pool.map(lambda q: [d.id for d in client.search([q], 4)[0]], queries))
    assert remote == [[d.id for d, _ in hits] for hits in retriever.search(queries, 4)]


def test_torch_flat_search_returns_faiss_top_k_across_shards_and_chunks():
    import faiss

    from s3core.retrieval.flat_search import TorchFlatSearch, flat_vectors, open_flat_search

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1000, 32)).astype(np.float32)
    index = faiss.IndexFlatIP(32)
    index.add(vectors)
    queries = rng.standard_normal((7, 32)).astype(np.float32)
    expected_scores, expected_ids = index.search(queries, 10)
    assert np.array_equal(flat_vectors(index), vectors)
    shards = TorchFlatSearch.from_vectors(
        flat_vectors(index), [torch.device("cpu")] * 3, chunk_rows=128
    )  # 3 shards x 3 chunks
    scores, ids = shards.search(queries, 10)
    assert np.array_equal(ids, expected_ids) and np.allclose(scores, expected_scores, atol=1e-4)
    assert shards.search(queries, 5000)[1].shape == (7, 1000)  # k beyond the index: all rows
    assert open_flat_search(index, "faiss") is index  # no GPUs here: FAISS on the CPU
    assert isinstance(open_flat_search(index, "torch"), TorchFlatSearch)


def test_exact_topk_equals_torch_topk_with_ties_and_a_ragged_tail():
    from s3core.retrieval.flat_search import exact_topk

    generator = torch.Generator().manual_seed(0)
    for rows, width, k, group in [
        (5, 100_000, 3, 1024),
        (3, 50_000, 10, 64),
        (7, 4097 * 3 + 5, 5, 16),
        (4, 10_000, 1, 8),
    ]:
        scores = torch.randn(rows, width, generator=generator)
        values, ids = exact_topk(scores, k, group)
        expected = torch.topk(scores, k, dim=1)
        assert torch.equal(values, expected.values) and torch.equal(ids, expected.indices)
        tied = torch.randint(0, 5, (rows, width), generator=generator).float()  # many equal maxima
        values, ids = exact_topk(tied, k, group)
        assert torch.equal(values, torch.topk(tied, k, dim=1).values)
        assert torch.equal(torch.gather(tied, 1, ids), values)  # the ids point at those values
    narrow = torch.randn(2, 30, generator=generator)  # too narrow to group: plain top-k
    assert torch.equal(exact_topk(narrow, 3, 8)[1], torch.topk(narrow, 3, dim=1).indices)


def test_torch_flat_search_over_wide_chunks_returns_faiss_top_k():
    import faiss

    from s3core.retrieval.flat_search import TorchFlatSearch

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((60_000, 16)).astype(np.float32)  # one chunk wide enough for exact_topk's groups
    index = faiss.IndexFlatIP(16)
    index.add(vectors)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    scores, ids = TorchFlatSearch.from_vectors(vectors, [torch.device("cpu")]).search(queries, 10)
    expected_scores, expected_ids = index.search(queries, 10)
    assert np.array_equal(ids, expected_ids) and np.allclose(scores, expected_scores, atol=1e-4)


def test_a_streamed_flat_index_file_is_what_faiss_writes_and_opens_memory_mapped(tmp_path):
    import faiss

    from s3core.errors import DataError
    from s3core.retrieval.flat_index_file import open_flat_index, write_flat_index

    rows = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    reference = faiss.IndexFlatIP(8)
    reference.add(rows)
    blocks = [rows[:7], rows[7:7].reshape(0, 8), rows[7:].astype(np.float64)]  # any block sizes and dtype
    assert write_flat_index(tmp_path / "flat.faiss", 8, 50, blocks) == 50
    assert (tmp_path / "flat.faiss").read_bytes() == faiss.serialize_index(reference).tobytes()
    mapped = open_flat_index(tmp_path / "flat.faiss")
    queries = rows[:3] + 0.1
    for got, want in zip(mapped.search(queries, 4), reference.search(queries, 4)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(DataError, match="49 rows written but 50 announced"):
        write_flat_index(tmp_path / "short.faiss", 8, 50, [rows[:49]])
    with pytest.raises(DataError, match="more than the 10 rows announced"):
        write_flat_index(tmp_path / "long.faiss", 8, 10, [rows[:5], rows[5:11]])
    with pytest.raises(DataError, match=r"shape \(3, 4\) does not hold rows of width 8"):
        write_flat_index(tmp_path / "wide.faiss", 8, 3, [rows[:3, :4]])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flat.faiss"]  # nothing half-written kept


def test_a_sharded_build_equals_the_single_build(tmp_path, small_corpus, dense_index, retriever_config):
    import faiss

    from s3core.errors import DataError
    from s3core.retrieval.dense import INDEX_FILE, encode_shard, gather_dense_index, shard_rows

    dense = retriever_config.dense
    assert [len(shard_rows(60, i, 3)) for i in range(3)] == [20, 20, 20]
    assert [list(shard_rows(7, i, 3)) for i in range(3)] == [[0, 1], [2, 3], [4, 5, 6]]
    files = [tmp_path / f"{shard}.npy" for shard in range(3)]
    assert [encode_shard(small_corpus, i, 3, path, dense) for i, path in enumerate(files)] == [20, 20, 20]
    assert gather_dense_index(files, small_corpus, tmp_path / "index", dense) == 60
    sharded = faiss.read_index(str(tmp_path / "index" / INDEX_FILE))
    single = faiss.read_index(str(dense_index / INDEX_FILE))
    np.testing.assert_allclose(sharded.reconstruct_n(0, 60), single.reconstruct_n(0, 60), atol=1e-5)
    with pytest.raises(DataError, match="60 documents but its 2 shard files hold 40 vectors"):
        gather_dense_index(files[:2], small_corpus, tmp_path / "short", dense)


def test_the_cli_encodes_shards_and_joins_them(tmp_path, small_corpus, retriever_config):
    import json

    from s3core.cli import main

    config = json.dumps({"retriever": to_dict(retriever_config)})
    for shard in range(2):
        assert (
            main(
                [
                    "encode-shard",
                    "--corpus",
                    str(small_corpus),
                    "--shard",
                    str(shard),
                    "--shards",
                    "2",
                    "--out",
                    str(tmp_path / f"{shard}.npy"),
                    "--config",
                    config,
                ]
            )
            == 0
        )
    assert (
        main(
            [
                "index",
                "--kind",
                "dense",
                "--corpus",
                str(small_corpus),
                "--out",
                str(tmp_path / "index"),
                "--config",
                config,
                "--shards",
                str(tmp_path / "0.npy"),
                str(tmp_path / "1.npy"),
            ]
        )
        == 0
    )
    hits = load_retriever("dense", tmp_path / "index", small_corpus, retriever_config).search(["jupiter planet"], 1)
    assert hits[0][0][0].title == "Jupiter"


def test_an_index_is_never_served_with_another_corpus(
    tmp_path, bm25_index, dense_index, small_corpus, retriever_config
):
    """Same line lengths (here: the same rows, two swapped) used to pass the length check and serve the wrong
    documents for every hit."""
    from s3core.errors import DataError

    lines = small_corpus.read_text().splitlines(keepends=True)
    same_lengths = next(
        (i, j)
        for i in range(len(lines))
        for j in range(i + 1, len(lines))
        if len(lines[i]) == len(lines[j]) and lines[i] != lines[j]
    )
    i, j = same_lengths
    lines[i], lines[j] = lines[j], lines[i]
    other = tmp_path / "other.jsonl"
    other.write_text("".join(lines))
    assert other.stat().st_size == small_corpus.stat().st_size
    for kind, index in (("bm25", bm25_index), ("dense", dense_index)):
        with pytest.raises(DataError, match=f"other.jsonl is not the corpus {index} was built from"):
            load_retriever(kind, index, other, retriever_config)
        assert len(load_retriever(kind, index, small_corpus, retriever_config)) == len(lines)  # its own: served


def test_an_empty_corpus_is_refused_with_a_message(tmp_path, retriever_config):
    from s3core.errors import DataError
    from s3core.retrieval.bm25 import build_bm25_index
    from s3core.retrieval.dense import build_dense_index

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match="empty.jsonl holds no documents"):
        build_bm25_index(empty, tmp_path / "bm25", retriever_config.bm25)
    with pytest.raises(DataError, match="empty.jsonl holds no documents"):
        build_dense_index(empty, tmp_path / "dense", retriever_config.dense)
