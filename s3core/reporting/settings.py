"""The settings two numbers of the tables share before they compare (Search-R1 #40's list): each set's source,
split and question count, the corpus and its fingerprint, the retriever and its top-k, the metric and its judge,
the models; written from the run's data manifest and config sections, on top of every results table."""

from __future__ import annotations

from typing import Any

from s3core.config.sections import JobConfig


def settings_lines(manifest: dict[str, Any], job: JobConfig) -> list[str]:
    """One Markdown bullet per setting."""
    corpus = manifest.get("corpus", {})
    fingerprint = corpus.get("sha256") or ", ".join(
        f"{name} {digest[:12]}" for name, digest in manifest.get("sources", {}).items()
    )
    sets = "; ".join(
        f"{name}: {info.get('source', '?')}{' (' + info['split'] + ')' if info.get('split') else ''}, "
        f"{info.get('sampled', '?')} questions"
        for name, info in manifest.get("qa", {}).items()
        if name != "train"
    )
    retriever = job.retriever
    judge = job.judge
    judged = (judge.generator or "each generator itself") if judge.enabled else "off (the span check alone)"
    models = ", ".join(f"{name} = {g.model}" for name, g in job.generators.items())
    return [
        f"- Questions: {sets or 'see the data manifest'}",
        f"- Corpus: {corpus.get('documents', '?')} documents, fingerprint {fingerprint or 'not recorded'}",
        f"- Retriever: top-{retriever.topk}; BM25 {retriever.bm25.engine} (k1 {retriever.bm25.k1}, "
        f"b {retriever.bm25.b}); dense {retriever.dense.encoder} (max length {retriever.dense.max_length})",
        f"- Metric: GenAcc = the span check, else the LLM judge ({judged}); EM and F1 after SQuAD normalisation",
        f"- Models: {models}; searcher {job.searcher.model}",
    ]
