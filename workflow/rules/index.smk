# Indexes over each corpus in use: BM25 (bm25s or Lucene) and a Hugging Face encoder + FAISS flat IP (dense), or,
# for wiki-18, upstream's prebuilt e5 and Lucene indexes imported from the downloaded files
# (retriever.<kind>.source: download). With retriever.dense.shards N > 1 the passages are encoded by N encode_shard
# jobs (one GPU each) and the index job joins their vectors in corpus order.


rule encode_shard:
    input:
        corpus=PATHS.corpus("{corpus}"),
        models=PLAN.encoder_models(),
    output:
        PATHS.shard("{corpus}", "{shard}"),
    log:
        main=PATHS.log("index", "{corpus}", "dense.shards", "{shard}"),
        provenance=PATHS.log(
            "index", "{corpus}", "dense.shards", "{shard}", suffix=".provenance.json"
        ),
    benchmark:
        PATHS.benchmark("encode_shard")
    conda:
        "../../envs/retrieval.yaml"
    threads: config["threads"]
    resources:
        **sized("encode_shard", "encode_shard"),
    params:
        config=sections("encode-shard"),
        shards=config["retriever"]["dense"]["shards"],
    shell:
        "s3core --threads {threads} --provenance {log.provenance} encode-shard --corpus {input.corpus} "
        "--shard {wildcards.shard} --shards {params.shards} --out {output} --config {params.config:q} "
        "2> {log.main}"


rule index:
    input:
        corpus=PATHS.corpus("{corpus}"),
        sources=lambda wildcards: PLAN.index_inputs(wildcards.corpus, wildcards.kind),
        models=lambda wildcards: PLAN.index_models(wildcards.corpus, wildcards.kind),
    output:
        directory(PATHS.index("{corpus}", "{kind}")),
    log:
        main=PATHS.log("index", "{corpus}", "{kind}"),
        provenance=PATHS.log("index", "{corpus}", "{kind}", suffix=".provenance.json"),
    benchmark:
        PATHS.benchmark("index")
    conda:
        "../../envs/retrieval.yaml"
    threads: config["threads"]
    resources:
        **sized("index", "index"),
    params:
        config=sections("index"),
        prebuilt=lambda wildcards: args(
            PLAN.index_source(wildcards.corpus, wildcards.kind)
        ),
    shell:
        "s3core --threads {threads} --provenance {log.provenance} index --kind {wildcards.kind} --corpus {input.corpus} "
        "--out {output} --config {params.config:q} {params.prebuilt} 2> {log.main}"
