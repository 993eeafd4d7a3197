# Indexes over each corpus in use: BM25 (bm25s or Lucene) and a Hugging Face encoder + FAISS flat IP (dense), or,
# for wiki-18, upstream's prebuilt e5 index imported from its downloaded pieces (retriever.dense.source: download).


rule index:
    input:
        corpus=corpus_path("{corpus}"),
        parts=index_parts,
        models=index_models,
    output:
        directory(index_path("{corpus}", "{kind}")),
    params:
        retriever=section_json("retriever"),
        parts_flag=lambda wildcards, input: "--parts" if input.parts else "",
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
        "--out {output} --retriever {params.retriever:q} {params.parts_flag} {input.parts:q} 2> {log.main}"
