# The paper-style tables: a row per method, a column per dataset, one table per generator, suite and corpus.


rule table:
    input:
        all_answers(),
    output:
        md=f"{RESULTS}/tables/main.md",
        csv=f"{RESULTS}/tables/main.csv",
    params:
        corpora=json.dumps(SET_CORPUS),
    conda:
        "../../envs/evaluation.yaml"
    log:
        f"{RESULTS}/logs/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/table.tsv"
    shell:
        "s3core table --answers {input} --md {output.md} --csv {output.csv} --corpora {params.corpora:q} > {log} 2>&1"
