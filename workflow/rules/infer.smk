# Methods -> context files. A retrieving method starts its retriever server as a sidecar on a free port.


rule infer:
    input:
        unpack(infer_inputs),
    output:
        f"{RESULTS}/contexts/{{method}}/{{dataset}}.jsonl",
    params:
        retriever=section_json("retriever"),
        index_args=infer_retriever_args,
    conda:
        "../../envs/s3core.yaml"
    log:
        main=f"{RESULTS}/logs/infer/{{method}}/{{dataset}}.log",
        server=f"{RESULTS}/logs/infer/{{method}}/{{dataset}}.server.log",
    benchmark:
        f"{RESULTS}/benchmarks/infer/{{method}}/{{dataset}}.tsv"
    threads: config["threads"]
    shell:
        "s3core --threads {threads} infer --method {wildcards.method} --qa {input.qa} --out {output} "
        "{params.index_args} --retriever {params.retriever:q} --server-log {log.server} 2> {log.main}"
