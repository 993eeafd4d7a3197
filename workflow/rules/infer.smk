# Methods -> context files, one rule per method (infer_direct, infer_rag_dense, infer_s3, ...) and per further s3
# run (infer_s3__<ablation>, infer_s3__seed<N>: the run's searcher with its own search settings).
# A retrieving method queries the run's retriever server of its index (servers: per_run), else starts one as a
# sidecar on a free port inside its own job; the job's provenance file records where it ran, the software versions
# and the servers it used.


for method in EVAL_METHODS:

    rule:
        name:
            f"infer_{method.replace('.', '__')}"
        input:
            unpack(infer_inputs(method)),
        output:
            f"{RESULTS}/contexts/{method}/{{dataset}}.jsonl",
        log:
            main=f"{RESULTS}/logs/infer/{method}/{{dataset}}.log",
            server=f"{RESULTS}/logs/infer/{method}/{{dataset}}.server.log",
            provenance=f"{RESULTS}/logs/infer/{method}/{{dataset}}.provenance.json",
        benchmark:
            f"{RESULTS}/benchmarks/infer/{method}/{{dataset}}.tsv"
        priority: chain_priority(method)
        conda:
            "../../envs/evaluation.yaml"
        threads: infer_cores(method)
        resources:
            **job_resources("infer", f"infer_{method_name(method)}"),
            **off_chain_resources(method),
        params:
            method=method,
            config=job_json(
                "retriever",
                "search",
                "searcher",
                "baselines",
                "generators",
                run=S3_RUNS.get(method),
            ),
            extra=infer_args(method),
            nice=job_nice(method),
        shell:
            "s3core --threads {threads} --nice {params.nice} --provenance {log.provenance} infer --method {params.method:q} --qa {input.qa} --out {output} "
            "{params.extra} --config {params.config:q} --server-log {log.server} 2> {log.main}"
