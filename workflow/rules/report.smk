# The paper-style tables: a row per method, a column per dataset, one table per generator, suite and corpus;
# every cell of the paper's Tables 1-3, 5, 6 and Figure 10 beside ours (tables/paper.md); the training cost beside
# its Table 4 (tables/training_cost.md); and the report page that shows them with
# the figures (report/index.html, opens without a server).


for stage in ["all", *STAGES]:
    tables = "" if stage == "all" else f"{stage}/"
    table_rule = "table" if stage == "all" else f"table_{stage}"

    rule:
        name:
            table_rule
        input:
            answers=PLAN.stage_answers(stage),
            manifest=PATHS.data_manifest,
            training=[PATHS.metrics(run) for run in PLAN.stage_runs(stage)[:1]],  # the cost beside Table 4
        output:
            md=PATHS.table(f"{tables}main.md"),
            tex=PATHS.table(f"{tables}main.tex"),
            csv=report(
                PATHS.table(f"{tables}main.csv"),
                caption="../report/results.rst",
                category="Tables",
            ),
            paper_md=PATHS.table(f"{tables}paper.md"),
            paper_tex=PATHS.table(f"{tables}paper.tex"),
            paper_csv=report(
                PATHS.table(f"{tables}paper.csv"),
                caption="../report/paper.rst",
                category="Tables",
            ),
            cost_md=PATHS.table(f"{tables}training_cost.md"),
            cost_csv=report(
                PATHS.table(f"{tables}training_cost.csv"),
                caption="../report/training_cost.rst",
                category="Tables",
            ),
        log:
            PATHS.log(table_rule),
        benchmark:
            PATHS.benchmark(table_rule)
        localrule: True
        conda:
            "../../envs/evaluation.yaml"
        params:
            corpora=PLAN.json_file(PLAN.set_corpus),
            config=sections("table"),
            paper="--no-paper" if config["assets"]["kind"] == "custom" else "",
            s3_runs=PLAN.json_file(PLAN.s3_runs_sections()),
            training=args(
                [
                    "--training-metrics",
                    PATHS.metrics(PLAN.stage_runs(stage)[0]),
                    "--training-provenance",
                    PATHS.training_provenance(PLAN.stage_runs(stage)[0]),
                ]
                if PLAN.stage_runs(stage)
                else []
            ),
        shell:
            "s3core table --answers {input.answers} --md {output.md} --csv {output.csv} --tex {output.tex} --corpora {params.corpora:q} "
            "--paper-md {output.paper_md} --paper-csv {output.paper_csv} --paper-tex {output.paper_tex} --config {params.config:q} "
            "--s3-runs {params.s3_runs:q} --manifest {input.manifest} {params.paper} "
            "--cost-md {output.cost_md} --cost-csv {output.cost_csv} {params.training} > {log} 2>&1"


rule report:
    input:
        results_md=PATHS.table("main.md"),
        results_csv=PATHS.table("main.csv"),
        paper_md=PATHS.table("paper.md"),
        cost_md=PATHS.table("training_cost.md"),
        curve=PLAN.training_outputs()[:1],  # the base run's
    output:
        report(
            directory(PATHS.report),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        PATHS.log("report"),
    benchmark:
        PATHS.benchmark("report")
    conda:
        "../../envs/evaluation.yaml"
    params:
        gpu_hours=gpu_hours_file,
        curve=lambda wildcards, input: args(
            ["--curve", *input.curve] if input.curve else []
        ),
        # shlex, not {:q}: Snakemake quotes an empty note as nothing at all
        text=args(
            [
                "--title",
                f"s3-workflow results: {config['suite']}",
                "--note",
                config["report"]["note"],
            ]
        ),
    shell:
        "s3core report --results-md {input.results_md} --results-csv {input.results_csv} "
        "--paper-md {input.paper_md} --cost-md {input.cost_md} --gpu-hours {params.gpu_hours:q} {params.curve} {params.text} "
        "--out-dir {output:q} 2> {log}"
