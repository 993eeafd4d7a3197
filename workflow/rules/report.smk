# The paper-style tables: a row per method, a column per dataset, one table per generator.


rule table:
    input:
        all_answers(),
    output:
        md=f"{RESULTS}/tables/main.md",
        csv=f"{RESULTS}/tables/main.csv",
    conda:
        "../../envs/evaluation.yaml"
    log:
        f"{RESULTS}/logs/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/table.tsv"
    shell:
        "s3core table --answers {input} --md {output.md} --csv {output.csv} > {log} 2>&1"
