# The paper-style tables: a row per method, a column per dataset, one table per generator, suite and corpus;
# every cell of the paper's Tables 1-3, 5, 6 and Figure 10 beside ours (tables/paper.md); the training cost beside
# its Table 4 (tables/training_cost.md); and the report page that shows them with
# the figures (report/index.html, opens without a server).


rule table:
    input:
        answers=all_answers(),
        training=training_metrics()[:1],  # the base run's: the training cost beside Table 4
    output:
        md=f"{RESULTS}/tables/main.md",
        tex=f"{RESULTS}/tables/main.tex",
        csv=report(
            f"{RESULTS}/tables/main.csv",
            caption="../report/results.rst",
            category="Tables",
        ),
        paper_md=f"{RESULTS}/tables/paper.md",
        paper_tex=f"{RESULTS}/tables/paper.tex",
        paper_csv=report(
            f"{RESULTS}/tables/paper.csv",
            caption="../report/paper.rst",
            category="Tables",
        ),
        cost_md=f"{RESULTS}/tables/training_cost.md",
        cost_csv=report(
            f"{RESULTS}/tables/training_cost.csv",
            caption="../report/training_cost.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/table.tsv"
    conda:
        "../../envs/evaluation.yaml"
    params:
        corpora=json.dumps(SET_CORPUS),
        config=job_json("generators", "baselines", "report"),
        s3_runs=s3_runs_json(),
        training=lambda wildcards, input: shlex.join(
            [
                "--training-metrics",
                *input.training,
                "--training-provenance",
                training_provenance("s3"),
            ]
            if input.training
            else []
        ),
    shell:
        "s3core table --answers {input.answers} --md {output.md} --csv {output.csv} --tex {output.tex} --corpora {params.corpora:q} "
        "--paper-md {output.paper_md} --paper-csv {output.paper_csv} --paper-tex {output.paper_tex} --config {params.config:q} "
        "--s3-runs {params.s3_runs:q} "
        "--cost-md {output.cost_md} --cost-csv {output.cost_csv} {params.training} > {log} 2>&1"


rule report:
    input:
        results_md=f"{RESULTS}/tables/main.md",
        results_csv=f"{RESULTS}/tables/main.csv",
        paper_md=f"{RESULTS}/tables/paper.md",
        cost_md=f"{RESULTS}/tables/training_cost.md",
        curve=training_outputs()[:1],  # the base run's
    output:
        report(
            directory(REPORT_DIR),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        "../../envs/evaluation.yaml"
    params:
        curve=lambda wildcards, input: shlex.join(
            ["--curve", *input.curve] if input.curve else []
        ),
        # shlex, not {:q}: Snakemake quotes an empty note as nothing at all
        text=shlex.join(
            [
                "--title",
                f"s3-workflow results: {config['suite']}",
                "--note",
                config["report"]["note"],
            ]
        ),
    shell:
        "s3core report --results-md {input.results_md} --results-csv {input.results_csv} "
        "--paper-md {input.paper_md} --cost-md {input.cost_md} {params.curve} {params.text} "
        "--out-dir {output:q} 2> {log}"
