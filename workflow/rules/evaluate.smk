# The shared evaluator: one frozen generator answers a context file; EM, F1 and GenAcc per question.


rule evaluate:
    input:
        contexts=PATHS.contexts("{method}", "{dataset}"),
        models=lambda wildcards: PLAN.generator_models(wildcards.generator),
    output:
        PATHS.answers("{method}", "{generator}", "{dataset}"),
    log:
        main=PATHS.log("evaluate", "{method}", "{generator}", "{dataset}"),
        provenance=PATHS.log(
            "evaluate",
            "{method}",
            "{generator}",
            "{dataset}",
            suffix=".provenance.json",
        ),
    benchmark:
        PATHS.benchmark("evaluate")
    priority: lambda wildcards: PLAN.priority(wildcards.method)
    conda:
        "../../envs/evaluation.yaml"
    threads: lambda wildcards: PLAN.answering_cores(wildcards.generator)
    resources:
        **sized("evaluate", "evaluate"),
        **off_chain_resources(),
    params:
        config=sections("evaluate"),
        nice=lambda wildcards: PLAN.nice(wildcards.method),
    shell:
        "s3core --threads {threads} --nice {params.nice} --provenance {log.provenance} evaluate --contexts {input.contexts} --out {output} "
        "--generator {wildcards.generator:q} --config {params.config:q} 2> {log.main}"
