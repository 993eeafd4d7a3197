# Indexes over the corpus: bm25s (sparse) and a Hugging Face encoder + FAISS flat IP (dense), or upstream's
# prebuilt e5 index imported from its downloaded pieces (retriever.dense.source: download).


rule index:
    input:
        corpus=CORPUS,
        parts=index_parts,
        models=index_models,
    output:
        directory(f"{RESULTS}/index/{{kind}}"),
    params:
        retriever=section_json("retriever"),
        parts_flag=lambda wildcards, input: "--parts" if input.parts else "",
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **job_resources("index"),
    log:
        main=f"{RESULTS}/logs/index_{{kind}}.log",
        provenance=f"{RESULTS}/logs/index_{{kind}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/index_{{kind}}.tsv"
    threads: config["threads"]
    shell:
        "s3core --threads {threads} --provenance {log.provenance} index --kind {wildcards.kind} --corpus {input.corpus} "
        "--out {output} --retriever {params.retriever:q} {params.parts_flag} {input.parts:q} 2> {log.main}"
