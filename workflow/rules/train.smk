# s3 training: the naive-RAG cache (GenAcc of the top-k docs per training question, computed once per initial search
# and reward), PPO on the searcher with the Gain-Beyond-RAG reward, and the training curve, once per run (s3,
# each ablation s3.<name>, each further seed .seed<N>) into train/<run>. Checkpoints under train/<run>/checkpoints
# are not outputs: a killed run resumes from them. With train.engine verl the training job first starts a Ray cluster
# across its nodes (resources.train_s3.nodes; s3core ray-run). precompute and train_s3 go first when jobs wait for
# cores or GPUs: they are the DAG's long chain (cache -> PPO -> s3 inference -> evaluation).


rule precompute:
    input:
        qa=f"{RESULTS}/data/qa/train.jsonl",
        index=lambda wildcards: index_path(
            "wiki", cache_run(wildcards).sections["search"]["retriever"]
        ),
        corpus=corpus_path("wiki"),
        models=lambda wildcards: training_models(cache_run(wildcards)),
    output:
        f"{RESULTS}/cache/rag/{{generator}}/{{cache}}.jsonl",
    log:
        main=f"{RESULTS}/logs/precompute/{{generator}}/{{cache}}.log",
        server=f"{RESULTS}/logs/precompute/{{generator}}/{{cache}}.server.log",
        provenance=f"{RESULTS}/logs/precompute/{{generator}}/{{cache}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/precompute/{{generator}}/{{cache}}.tsv"
    priority: CHAIN_PRIORITY
    conda:
        "../../envs/evaluation.yaml"
    threads: lambda wildcards: answering_cores(wildcards.generator)
    resources:
        **job_resources("precompute"),
    params:
        config=lambda wildcards: job_json(
            "retriever",
            "search",
            "generators",
            "judge",
            "reward",
            run=cache_run(wildcards),
        ),
    shell:
        "s3core --threads {threads} --provenance {log.provenance} precompute --qa {input.qa} --out {output} --index {input.index} "
        "--corpus {input.corpus} --generator {wildcards.generator:q} --config {params.config:q} "
        "--server-log {log.server} 2> {log.main}"


rule train_s3:
    input:
        cache=lambda wildcards: rag_cache(S3_RUNS[wildcards.run]),
        index=lambda wildcards: index_path(
            "wiki", S3_RUNS[wildcards.run].sections["search"]["retriever"]
        ),
        corpus=corpus_path("wiki"),
        models=lambda wildcards: training_models(S3_RUNS[wildcards.run]),
    output:
        searcher=directory(f"{RESULTS}/train/{{run}}/searcher"),
        metrics=f"{RESULTS}/train/{{run}}/metrics.jsonl",
    log:
        main=f"{RESULTS}/logs/train_{{run}}.log",
        server=f"{RESULTS}/logs/train_{{run}}.server.log",
        provenance=f"{RESULTS}/logs/train_{{run}}.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/train_{{run}}.tsv"
    priority: CHAIN_PRIORITY
    conda:
        "../../envs/training.yaml"
    container:
        "containers/training.sif"
    threads: config["threads"]
    resources:
        **job_resources("train_s3"),
        trainings=1,  # the local profile runs one at a time (memory); SLURM jobs have their own
    params:
        run=lambda wildcards, output: os.path.dirname(output.metrics),
        config=lambda wildcards: job_json(
            "retriever",
            "search",
            "searcher",
            "train",
            "reward",
            "generators",
            "judge",
            run=S3_RUNS[wildcards.run],
        ),
        generator=lambda wildcards: reward_generator(S3_RUNS[wildcards.run]),
        launcher=training_launcher(),
    shell:
        "{params.launcher} s3core --threads {threads} --provenance {log.provenance} train --cache {input.cache} --out {params.run:q} --index {input.index} "
        "--corpus {input.corpus} --generator {params.generator:q} --config {params.config:q} "
        "--server-log {log.server} 2> {log.main}"


rule plot_training:
    input:
        f"{RESULTS}/train/{{run}}/metrics.jsonl",
    output:
        f"{RESULTS}/train/{{run}}/curve.png",
    log:
        f"{RESULTS}/logs/plot_training/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_training/{{run}}.tsv"
    conda:
        "../../envs/evaluation.yaml"
    shell:
        "s3core plot --metrics {input} --out {output} 2> {log}"
