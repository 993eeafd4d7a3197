"""The query encoder's CUDA-graph buckets: padding to a bucket leaves every vector as it was."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from s3core.retrieval.dense import Encoder
from s3core.retrieval.encoder_graphs import bucket_of, buckets, pad_tokens

QUERIES = ["who wrote hamlet", "largest planet in the solar system gas giant with many moons", "everest", "x"]


def test_buckets_are_powers_of_two_up_to_the_limit():
    assert buckets(512) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert buckets(100) == [1, 2, 4, 8, 16, 32, 64, 100]  # the last bucket is the limit itself
    assert buckets(256, 16) == [16, 32, 64, 128, 256]
    assert buckets(8, 16) == [16]
    assert [bucket_of(n, buckets(100)) for n in (1, 3, 64, 65, 100)] == [1, 4, 64, 100, 100]


def test_padding_rows_attend_to_one_token():
    tokens = {"input_ids": np.array([[101, 7, 102]]), "attention_mask": np.array([[1, 1, 1]])}
    padded = pad_tokens(tokens, 4, 16)
    assert padded["input_ids"].shape == padded["attention_mask"].shape == (4, 16)
    assert padded["attention_mask"].sum(axis=1).tolist() == [3, 1, 1, 1]
    assert padded["input_ids"][0, :3].tolist() == [101, 7, 102] and not padded["input_ids"][0, 3:].any()


def _vectors(encoder: Encoder, tokens: dict[str, np.ndarray]) -> np.ndarray:
    return encoder._pooled({name: torch.from_numpy(array) for name, array in tokens.items()}).numpy()


def test_a_bucket_padded_batch_encodes_as_the_tokenizer_padded_one(retriever_config):
    encoder = Encoder(replace(retriever_config.dense, device="cpu"))
    tokens = encoder._tokenize(QUERIES)
    padded = pad_tokens(tokens, bucket_of(len(QUERIES), buckets(32)), 64)
    assert np.allclose(_vectors(encoder, padded)[: len(QUERIES)], _vectors(encoder, tokens), atol=1e-5)
    assert np.isfinite(_vectors(encoder, padded)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device (run on a GPU machine)")
def test_graphs_replay_the_eager_encoder_on_cuda(retriever_config):
    dense = replace(retriever_config.dense, device="cuda")
    graphed, eager = Encoder(dense), Encoder(replace(dense, cuda_graphs=False))
    assert graphed._graphs is not None and eager._graphs is None
    for queries in (QUERIES, QUERIES[:1], QUERIES * 9):
        assert np.allclose(graphed.encode(queries, ""), eager.encode(queries, ""), atol=2e-3)
