# Indexes over each corpus in use: BM25 (bm25s or Lucene) and a Hugging Face encoder + FAISS flat IP (dense), or,
# for wiki-18, upstream's prebuilt e5 and Lucene indexes imported from the downloaded files
# (retriever.<kind>.source: download). With retriever.dense.shards N > 1 the passages are encoded by N encode_shard
# jobs (one GPU each) and the index job joins their vectors in corpus order.


rule encode_shard:
    input:
        corpus=corpus_path("{corpus}"),
        models=encoder_models(),
    output:
        shard_path("{corpus}", "{shard}"),
    log:
        main=f"{RESULTS}/logs/index/{{corpus}}/dense.shards/{{shard}}.log",
        provenance=f"{RESULTS}/logs/index/{{corpus}}/dense.shards/{{shard}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/index/{{corpus}}/dense.shards/{{shard}}.tsv"
    conda:
        "../../envs/retrieval.yaml"
    threads: config["threads"]
    resources:
        **job_resources("encode_shard"),
    params:
        config=job_json("retriever"),
        shards=config["retriever"]["dense"]["shards"],
    shell:
        "s3core --threads {threads} --provenance {log.provenance} encode-shard --corpus {input.corpus} "
        "--shard {wildcards.shard} --shards {params.shards} --out {output} --config {params.config:q} "
        "2> {log.main}"


rule index:
    input:
        corpus=corpus_path("{corpus}"),
        sources=index_inputs,
        models=index_models,
    output:
        directory(index_path("{corpus}", "{kind}")),
    log:
        main=f"{RESULTS}/logs/index/{{corpus}}/{{kind}}.log",
        provenance=f"{RESULTS}/logs/index/{{corpus}}/{{kind}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/index/{{corpus}}/{{kind}}.tsv"
    conda:
        "../../envs/retrieval.yaml"
    threads: config["threads"]
    resources:
        **job_resources("index"),
    params:
        config=job_json("retriever"),
        prebuilt=index_source,
    shell:
        "s3core --threads {threads} --provenance {log.provenance} index --kind {wildcards.kind} --corpus {input.corpus} "
        "--out {output} --config {params.config:q} {params.prebuilt} 2> {log.main}"
