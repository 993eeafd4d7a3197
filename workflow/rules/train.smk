# s3 training: the naive-RAG cache (GenAcc of the top-k docs per training question, computed once), PPO on the
# searcher with the Gain-Beyond-RAG reward, and the training curve. Checkpoints under train/s3/checkpoints are not
# outputs: a killed run resumes from them. With train.engine verl the training job first starts a Ray cluster
# across its nodes (resources.train_s3.nodes; s3core ray-run). precompute and train_s3 go first when jobs wait for
# cores or GPUs: they are the DAG's long chain (cache -> PPO -> s3 inference -> evaluation).


rule precompute:
    input:
        qa=f"{RESULTS}/data/qa/train.jsonl",
        index=index_path("wiki", config["search"]["retriever"]),
        corpus=corpus_path("wiki"),
        models=training_models(),
    output:
        RAG_CACHE,
    params:
        retriever=section_json("retriever"),
        search=section_json("search"),
        generators=section_json("generators"),
        judge=section_json("judge"),
        reward=section_json("reward"),
        generator=REWARD_GENERATOR,
    conda:
        "../../envs/evaluation.yaml"
    resources:
        **job_resources("precompute"),
    log:
        main=f"{RESULTS}/logs/precompute.log",
        server=f"{RESULTS}/logs/precompute.server.log",
        provenance=f"{RESULTS}/logs/precompute.provenance.json",
    benchmark:
        f"{RESULTS}/benchmarks/precompute.tsv"
    threads: config["threads"]
    priority: 10
    shell:
        "s3core --threads {threads} --provenance {log.provenance} precompute --qa {input.qa} --out {output} --index {input.index} "
        "--corpus {input.corpus} --retriever {params.retriever:q} --search {params.search:q} "
        "--generator {params.generator} --generators {params.generators:q} --judge {params.judge:q} "
        "--reward {params.reward:q} --server-log {log.server} 2> {log.main}"


rule train_s3:
    input:
        cache=RAG_CACHE,
        index=index_path("wiki", config["search"]["retriever"]),
        corpus=corpus_path("wiki"),
        models=training_models(),
    output:
        searcher=directory(SEARCHER_DIR),
        metrics=f"{TRAIN_RUN}/metrics.jsonl",
    params:
        run=lambda wildcards, output: os.path.dirname(output.metrics),
        retriever=section_json("retriever"),
        search=section_json("search"),
        searcher=section_json("searcher"),
        train=section_json("train"),
        reward=section_json("reward"),
        generators=section_json("generators"),
        judge=section_json("judge"),
        generator=REWARD_GENERATOR,
        launcher=training_launcher(),
    conda:
        "../../envs/training.yaml"
    container:
        "containers/training.sif"
    resources:
        **job_resources("train_s3"),
    log:
        main=f"{RESULTS}/logs/train_s3.log",
        server=f"{RESULTS}/logs/train_s3.server.log",
        provenance=TRAINING_PROVENANCE,
    benchmark:
        f"{RESULTS}/benchmarks/train_s3.tsv"
    threads: config["threads"]
    priority: 10
    shell:
        "{params.launcher} s3core --threads {threads} --provenance {log.provenance} train --cache {input.cache} --out {params.run} --index {input.index} "
        "--corpus {input.corpus} --retriever {params.retriever:q} --search {params.search:q} "
        "--searcher {params.searcher:q} --train {params.train:q} --reward {params.reward:q} "
        "--generator {params.generator} --generators {params.generators:q} --judge {params.judge:q} "
        "--reward {params.reward:q} --server-log {log.server} 2> {log.main}"


rule plot_training:
    input:
        f"{TRAIN_RUN}/metrics.jsonl",
    output:
        f"{TRAIN_RUN}/curve.png",
    conda:
        "../../envs/evaluation.yaml"
    log:
        f"{RESULTS}/logs/plot_training.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_training.tsv"
    shell:
        "s3core plot --metrics {input} --out {output} 2> {log}"
