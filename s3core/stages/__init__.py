"""The work of the workflow's rules that is more than one call into a module: the retriever a job uses (a sidecar
or a running server), the naive-RAG cache, training with its engine, inference and evaluation. `s3core.cli` parses
a verb's options and calls one function here; the README's "Where things live" maps rule → verb → module."""
