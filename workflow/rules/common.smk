# Helpers shared by the rules: result paths, config sections as JSON, and per-method inputs.
import json

from s3core.methods import get_method

RESULTS = f"results/{config['suite']}"
DATASETS = list(config["assets"]["eval"])
METHODS = config["eval"]["methods"]
GENERATORS = list(config["generators"])
CORPUS = f"{RESULTS}/data/corpus.jsonl"
LLM_DIR = f"{RESULTS}/assets/llm"


wildcard_constraints:
    dataset="|".join(DATASETS),
    method="|".join(METHODS),
    generator="|".join(GENERATORS),
    kind="bm25|dense",


def section_json(name):
    """A config section as JSON text for an `s3core --<section>` option (stable key order)."""
    return json.dumps(config[name], sort_keys=True)


def retriever_kind(method):
    return get_method(method).retriever


def infer_inputs(wildcards):
    """The QA set, plus the index and corpus when the method retrieves."""
    inputs = {"qa": f"{RESULTS}/data/qa/{wildcards.dataset}.jsonl"}
    kind = retriever_kind(wildcards.method)
    if kind:
        inputs.update(index=f"{RESULTS}/index/{kind}", corpus=CORPUS)
    return inputs


def infer_retriever_args(wildcards, input):
    """`--index/--corpus` for a retrieving method, nothing otherwise."""
    return f"--index {input.index} --corpus {input.corpus}" if "index" in input.keys() else ""


def generator_models(wildcards):
    """Local model folders this workflow builds (the converted demo LLM) that evaluation reads."""
    used = [wildcards.generator, config["judge"]["generator"] or wildcards.generator]
    return sorted({config["generators"][g]["model"] for g in used} & {LLM_DIR})


def all_answers():
    return expand(
        f"{RESULTS}/answers/{{method}}/{{generator}}/{{dataset}}.jsonl",
        method=METHODS,
        generator=GENERATORS,
        dataset=DATASETS,
    )
