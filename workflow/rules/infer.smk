# Methods -> context files, one rule per method (infer_direct, infer_rag_dense, infer_s3, ...) and per further s3
# run (infer_s3__<ablation>, infer_s3__seed<N>: the run's searcher with its own search settings).
# A retrieving method queries the run's retriever server of its index (servers: per_run), else starts one as a
# sidecar on a free port inside its own job; the job's provenance file records where it ran, the software versions
# and the servers it used.


for method in PLAN.eval_methods:

    rule:
        name:
            f"infer_{method.replace('.', '__')}"
        input:
            unpack(
                lambda wildcards, method=method: PLAN.infer_inputs(
                    method, wildcards.dataset
                )
            ),
        output:
            PATHS.contexts(method, "{dataset}"),
        log:
            main=PATHS.log("infer", method, "{dataset}"),
            server=PATHS.log("infer", method, "{dataset}", suffix=".server.log"),
            provenance=PATHS.log(
                "infer", method, "{dataset}", suffix=".provenance.json"
            ),
        benchmark:
            PATHS.benchmark("infer", method=method)
        priority: PLAN.priority(method)
        conda:
            "../../envs/evaluation.yaml"
        threads: PLAN.infer_cores(method)
        resources:
            **sized(
                "infer", "infer", f"infer_{PLAN.method(method).name}", method=method
            ),
            **off_chain_resources(method),
        params:
            method=method,
            config=sections("infer", method),
            extra=lambda wildcards, method=method: args(
                PLAN.infer_args(method, wildcards.dataset)
            ),
            nice=PLAN.nice(method),
        shell:
            "s3core --threads {threads} --nice {params.nice} --provenance {log.provenance} infer --method {params.method:q} --qa {input.qa} --out {output} "
            "{params.extra} --config {params.config:q} --server-log {log.server} 2> {log.main}"
