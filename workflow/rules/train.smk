# s3 training: the naive-RAG cache (the reward generator's answers from the initial search's documents, computed
# once per initial search, reward generator and judging), PPO on the searcher with the Gain-Beyond-RAG reward, and
# the training curve, once per run (s3, each ablation s3.<name>, each further seed .seed<N>) into train/<run>.
# Checkpoints under train/<run>/checkpoints are not outputs: a killed run resumes from them. With train.engine verl
# the training job first starts a Ray cluster across its nodes (resources.train_s3.nodes; s3core ray-run).
# precompute and train_s3 go first when jobs wait for cores or GPUs: they are the DAG's long chain.


rule precompute:
    input:
        qa=PATHS.qa("train"),
        index=lambda wildcards: PATHS.index(
            "wiki",
            PLAN.cache_of(wildcards.generator, wildcards.cache).run.sections["search"][
                "retriever"
            ],
        ),
        corpus=PATHS.corpus("wiki"),
        models=lambda wildcards: PLAN.training_models(
            PLAN.cache_of(wildcards.generator, wildcards.cache).run.label
        ),
    output:
        PATHS.rag_cache("{generator}", "{cache}"),
    log:
        main=PATHS.log("precompute", "{generator}", "{cache}"),
        server=PATHS.log("precompute", "{generator}", "{cache}", suffix=".server.log"),
        provenance=PATHS.log(
            "precompute", "{generator}", "{cache}", suffix=".provenance.json"
        ),
    benchmark:
        PATHS.benchmark("precompute")
    priority: scheduling.CHAIN_PRIORITY
    conda:
        "../../envs/evaluation.yaml"
    threads: lambda wildcards: PLAN.answering_cores(wildcards.generator)
    resources:
        **sized("precompute", "precompute"),
    params:
        config=lambda wildcards: sections(
            "precompute", PLAN.cache_of(wildcards.generator, wildcards.cache).run.label
        ),
    shell:
        "s3core --threads {threads} --provenance {log.provenance} precompute --qa {input.qa} --out {output} --index {input.index} "
        "--corpus {input.corpus} --generator {wildcards.generator:q} --config {params.config:q} "
        "--server-log {log.server} 2> {log.main}"


rule train_s3:
    input:
        cache=lambda wildcards: PLAN.caches[wildcards.run].path,
        index=lambda wildcards: PATHS.index(
            "wiki", PLAN.runs[wildcards.run].sections["search"]["retriever"]
        ),
        corpus=PATHS.corpus("wiki"),
        models=lambda wildcards: PLAN.training_models(wildcards.run),
    output:
        searcher=directory(PATHS.searcher("{run}")),
        metrics=PATHS.metrics("{run}"),
    log:
        main=PATHS.log("train_{run}"),
        server=PATHS.log("train_{run}", suffix=".server.log"),
        provenance=PATHS.training_provenance("{run}"),
    benchmark:
        PATHS.benchmark("train_s3")
    priority: scheduling.CHAIN_PRIORITY
    conda:
        "../../envs/training.yaml"
    container:
        "containers/training.sif"
    threads: config["threads"]
    resources:
        **sized("train_s3", "train_s3"),
        trainings=1,  # the local profile runs one at a time (memory); SLURM jobs have their own
    params:
        run=lambda wildcards: PATHS.train_dir(wildcards.run),
        config=lambda wildcards: sections("train", wildcards.run),
        generator=lambda wildcards: PLAN.reward_generator(wildcards.run),
        launcher=args(PLAN.training_launcher()),
    shell:
        "{params.launcher} s3core --threads {threads} --provenance {log.provenance} train --cache {input.cache} --out {params.run:q} --index {input.index} "
        "--corpus {input.corpus} --generator {params.generator:q} --config {params.config:q} "
        "--server-log {log.server} 2> {log.main}"


rule plot_training:
    input:
        PATHS.metrics("{run}"),
    output:
        PATHS.curve("{run}"),
    log:
        PATHS.log("plot_training", "{run}"),
    benchmark:
        PATHS.benchmark("plot_training")
    conda:
        "../../envs/evaluation.yaml"
    shell:
        "s3core plot --metrics {input} --out {output} 2> {log}"
