"""Every method by name (config `eval.methods`, paths, `--method`), with its table row label, in the paper's row
order: the one list the config schema's enum, the registry of `get_method`, the report and the tests are checked
against (tests/test_layers.py). Data only, so the report reads it without loading any method."""

from __future__ import annotations

CATALOG = {
    "direct": "Direct",
    "cot": "CoT",
    "rag_bm25": "RAG-BM25",
    "rag_dense": "RAG-dense",
    "ircot": "IRCoT",
    "search_o1": "Search-o1",
    "search_r1": "Search-R1",
    "deepretrieval": "DeepRetrieval",
    "s3_step0": "s3 (step 0)",
    "s3": "s3",
    "s3_released": "s3 (released)",
}
