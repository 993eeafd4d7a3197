# The paper-style tables: a row per method, a column per dataset, one table per generator, suite and corpus;
# and every cell of the paper's Tables 1 and 2 beside ours (tables/paper.md).


rule table:
    input:
        all_answers(),
    output:
        md=f"{RESULTS}/tables/main.md",
        csv=f"{RESULTS}/tables/main.csv",
        paper_md=f"{RESULTS}/tables/paper.md",
        paper_csv=f"{RESULTS}/tables/paper.csv",
    params:
        corpora=json.dumps(SET_CORPUS),
        generators=section_json("generators"),
        baselines=section_json("baselines"),
        report=section_json("report"),
    conda:
        "../../envs/evaluation.yaml"
    log:
        f"{RESULTS}/logs/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/table.tsv"
    shell:
        "s3core table --answers {input} --md {output.md} --csv {output.csv} --corpora {params.corpora:q} "
        "--paper-md {output.paper_md} --paper-csv {output.paper_csv} --generators {params.generators:q} "
        "--baselines {params.baselines:q} --report {params.report:q} > {log} 2>&1"
