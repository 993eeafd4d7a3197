# The shared evaluator: one frozen generator answers a context file; EM, F1 and GenAcc per question.


rule evaluate:
    input:
        contexts=f"{RESULTS}/contexts/{{method}}/{{dataset}}.jsonl",
        models=generator_models,
    output:
        f"{RESULTS}/answers/{{method}}/{{generator}}/{{dataset}}.jsonl",
    log:
        main=f"{RESULTS}/logs/evaluate/{{method}}/{{generator}}/{{dataset}}.log",
        provenance=f"{RESULTS}/logs/evaluate/{{method}}/{{generator}}/{{dataset}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{method}}/{{generator}}/{{dataset}}.tsv"
    priority: lambda wildcards: chain_priority(wildcards.method)
    conda:
        "../../envs/evaluation.yaml"
    threads: lambda wildcards: answering_cores(wildcards.generator)
    resources:
        **job_resources("evaluate"),
        **off_chain_resources(),
    params:
        config=job_json("generators", "judge", "baselines"),
        nice=lambda wildcards: job_nice(wildcards.method),
    shell:
        "s3core --threads {threads} --nice {params.nice} --provenance {log.provenance} evaluate --contexts {input.contexts} --out {output} "
        "--generator {wildcards.generator:q} --config {params.config:q} 2> {log.main}"
