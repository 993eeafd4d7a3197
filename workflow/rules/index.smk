# Indexes over each corpus in use: BM25 (bm25s or Lucene) and a Hugging Face encoder + FAISS flat IP (dense), or,
# for wiki-18, upstream's prebuilt e5 and Lucene indexes imported from the downloaded files
# (retriever.<kind>.source: download).


rule index:
    input:
        corpus=corpus_path("{corpus}"),
        downloads=index_downloads,
        models=index_models,
    output:
        directory(index_path("{corpus}", "{kind}")),
    params:
        retriever=section_json("retriever"),
        prebuilt=lambda wildcards: shlex.join(prebuilt_index(wildcards)),
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **job_resources("index"),
    log:
        main=f"{RESULTS}/logs/index/{{corpus}}/{{kind}}.log",
        provenance=f"{RESULTS}/logs/index/{{corpus}}/{{kind}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/index/{{corpus}}/{{kind}}.tsv"
    threads: config["threads"]
    shell:
        "s3core --threads {threads} --provenance {log.provenance} index --kind {wildcards.kind} --corpus {input.corpus} "
        "--out {output} --retriever {params.retriever:q} {params.prebuilt} 2> {log.main}"
