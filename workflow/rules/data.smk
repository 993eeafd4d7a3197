# Demo assets: corpus subset, QA sets and manifest; the LLM converted once from GGUF.
import os


rule download:
    output:
        corpus=CORPUS,
        qa=expand(f"{RESULTS}/data/qa/{{name}}.jsonl", name=["train", *DATASETS]),
        manifest=f"{RESULTS}/data/manifest.json",
    params:
        assets=section_json("assets"),
        out=lambda wildcards, output: os.path.dirname(output.manifest),
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **job_resources("download"),
    log:
        f"{RESULTS}/logs/download.log",
    benchmark:
        f"{RESULTS}/benchmarks/download.tsv"
    shell:
        "s3core download --assets {params.assets:q} --out {params.out} 2> {log}"


rule convert_llm:
    output:
        directory(LLM_DIR),
    params:
        gguf=config["assets"]["llm"]["gguf"],
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **job_resources("convert_llm"),
    log:
        f"{RESULTS}/logs/convert_llm.log",
    benchmark:
        f"{RESULTS}/benchmarks/convert_llm.tsv"
    threads: config["threads"]
    shell:
        "s3core --threads {threads} convert-llm --gguf {params.gguf:q} --out {output} 2> {log}"
