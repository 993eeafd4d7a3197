"""How many corpus passages the dense encoder cuts: each passage's length as it is encoded (the passage prefix, then
wiki-18 `contents`, special tokens included) against `retriever.dense.max_length`. Counted with the encoder's
tokenizer when it loads; else estimated from words, and the report says so."""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from s3core.assets.demo import resolve_path
from s3core.config.sections import DenseConfig
from s3core.data.corpus import Document, read_corpus
from s3core.errors import AssetError

BATCH = 1024
LONGEST = 20
#: English text averages about 0.75 words per subword token.
TOKENS_PER_WORD = 4 / 3


def load_tokenizer(encoder: str) -> tuple[Any | None, str | None]:
    """(the encoder's tokenizer, None), or (None, why it could not be loaded)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(resolve_path(encoder))), None
    except (ImportError, OSError, ValueError, AssetError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _batches(docs: Iterator[Document]) -> Iterator[list[Document]]:
    while batch := list(islice(docs, BATCH)):
        yield batch


def _lengths(docs: list[Document], prefix: str, tokenizer: Any | None) -> list[int]:
    texts = [prefix + doc.contents for doc in docs]
    if tokenizer is None:
        return [round(len(text.split()) * TOKENS_PER_WORD) for text in texts]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]]


def passage_lengths(corpus: Path, dense: DenseConfig) -> dict[str, Any]:
    """The passage-length report of a corpus JSONL: counts, quantiles and the longest passages over the limit."""
    tokenizer, failure = load_tokenizer(dense.encoder)
    lengths = array("I")  # 4 bytes a passage (wiki-18: 21M)
    longest: list[tuple[int, str]] = []
    for docs in _batches(read_corpus(corpus)):
        counted = _lengths(docs, dense.passage_prefix, tokenizer)
        lengths.extend(counted)
        for doc, count in zip(docs, counted):
            if count > dense.max_length:
                heapq.heappush(longest, (count, doc.id))
                if len(longest) > LONGEST:
                    heapq.heappop(longest)
    counts = np.frombuffer(lengths, dtype=np.uint32) if lengths else np.zeros(0, dtype=np.uint32)
    over = int((counts > dense.max_length).sum())
    return {
        "counted_with": f"the tokenizer of {dense.encoder}"
        if tokenizer is not None
        else f"an estimate, words x {TOKENS_PER_WORD:.2f}, not the encoder's tokens ({failure})",
        "max_length": dense.max_length,
        "passages": len(lengths),
        "over_max_length": over,
        "share_over": round(over / len(lengths), 4) if lengths else 0.0,
        "tokens": {
            "median": int(np.median(counts)),
            "p90": int(np.percentile(counts, 90)),
            "p99": int(np.percentile(counts, 99)),
            "max": int(counts.max()),
        }
        if lengths
        else {},
        "longest_over": [{"id": doc_id, "tokens": count} for count, doc_id in sorted(longest, reverse=True)],
    }
