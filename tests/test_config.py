import re

import pytest

from s3core.config import schema as config
from s3core.errors import ConfigError

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_demo_and_paper_configs_validate_with_defaults():
    demo = config.load(ROOT / "config/config.yaml")
    assert demo["retriever"]["server"]["host"] == "127.0.0.1"
    assert demo["retriever"]["bm25"] == {
        "engine": "bm25s",
        "source": "build",
        "k1": 0.9,
        "b": 0.4,
        "stemmer": "english",
        "stopwords": "english",
    }
    assert demo["judge"] == {"generator": None, "enabled": True}
    paper = config.load(ROOT / "config/paper.yaml")
    assert paper["retriever"]["dense"]["query_prefix"] == "query: "
    assert (paper["retriever"]["bm25"]["engine"], paper["retriever"]["bm25"]["source"]) == ("pyserini", "download")


def test_paper_config_has_the_papers_models():
    paper = config.load(ROOT / "config/paper.yaml")
    assert {g: s["model"] for g, s in paper["generators"].items()} == {
        "qwen2.5-7b-instruct": "Qwen/Qwen2.5-7B-Instruct",
        "qwen2.5-14b-instruct-gptq-int4": "Qwen/Qwen2.5-14B-Instruct-GPTQ-Int4",
        "claude-3-haiku": "anthropic.claude-3-haiku-20240307-v1:0",
    }
    claude = paper["generators"]["claude-3-haiku"]
    assert (claude["backend"], claude["prompt_format"], claude["aws_region"]) == ("bedrock", "single_user", "us-west-2")
    reward = paper["generators"][paper["reward"]["generator"]]
    assert reward["model"] == "Qwen/Qwen2.5-14B-Instruct-GPTQ-Int4" and reward["backend"] == "vllm"
    assert (reward["vllm"]["tensor_parallel_size"], reward["vllm"]["max_model_len"]) == (2, 8192)
    assert paper["train"]["verl"]["generator_gpus"] == 2
    assert paper["judge"]["generator"] is None  # each generator judges its own answers
    assert paper["searcher"]["model"] == "Qwen/Qwen2.5-7B-Instruct-1M"


def test_paper_config_evaluates_on_test_else_dev_at_most_3000():
    """Upstream evaluates each set on its test split where FlashRAG has one, else on dev."""
    flashrag_splits = {
        "nq": {"train", "dev", "test"},
        "triviaqa": {"train", "dev", "test"},
        "popqa": {"test"},
        "hotpotqa": {"train", "dev"},
        "2wikimultihopqa": {"train", "dev"},
        "musique": {"train", "dev"},
    }
    paper = config.load(ROOT / "config/paper.yaml")
    general = [s for s in paper["assets"]["eval"].values() if s["source"].startswith("flashrag:")]
    assert len(general) == 6
    for spec in general:
        dataset, split = spec["source"].removeprefix("flashrag:").split("/")
        assert split == ("test" if "test" in flashrag_splits[dataset] else "dev") and spec["size"] == 3000
    assert all(spec["corpus"] == "wiki" for spec in general)
    medical = {n: s for n, s in paper["assets"]["eval"].items() if s["source"].startswith("mirage:")}
    subsets = ("medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu")
    assert {n: (s["source"], s["corpus"]) for n, s in medical.items()} == {  # Table 2: each set on both corpora
        **{n: (f"mirage:{n}", "wiki") for n in subsets},
        **{f"{n}_medcorp": (f"mirage:{n}", "medcorp") for n in subsets},
    }
    assert all(s["size"] >= 4183 for s in medical.values())  # every MIRAGE question (MedMCQA: 4,183)
    assert paper["assets"]["medcorp"] == {
        "repos": ["MedRAG/textbooks", "MedRAG/pubmed", "MedRAG/wikipedia"],
        "statpearls": None,
    }  # the paper's MedCorp: no StatPearls


def test_workflow_schema_is_the_package_schema():
    assert (ROOT / "workflow/schemas/config.schema.yaml").resolve() == (
        ROOT / "s3core/resources/config.schema.yaml"
    ).resolve()


def test_bad_enum_names_key_and_allowed_values():
    with pytest.raises(ConfigError) as err:
        config.section("generators", {"g": {"backend": "vllm-magic", "model": "m"}})
    assert "generators.g.backend" in str(err.value) and "'hf'" in str(err.value) and "'openai'" in str(err.value)


def test_unknown_and_missing_keys_are_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("suite: x\nassets: {kind: demo}\ngenerators: {}\nretriever: {topk: 3, tpok: 4}\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert str(path) in message and "tpok" in message and "generators" in message


def test_section_accepts_json_text_and_fills_nested_defaults():
    section = config.section("retriever", '{"dense": {"encoder": "x"}}')
    assert section["dense"]["encoder"] == "x" and section["dense"]["max_length"] == 256
    assert section["client"]["retries"] == 5


def test_vllm_server_logs_default_to_the_suite_and_an_explicit_folder_is_kept():
    paper = config.load(ROOT / "config" / "paper.yaml")
    vllm = [g["vllm"]["log_dir"] for g in paper["generators"].values() if g["backend"] == "vllm"]
    assert vllm and set(vllm) == {"results/paper/logs/vllm"}
    mine = {"suite": "x", "generators": {"g": {"backend": "vllm", "model": "m", "vllm": {"log_dir": "/scratch/v"}}}}
    assert config.suite_defaults(mine)["generators"]["g"]["vllm"]["log_dir"] == "/scratch/v"


def test_a_judge_only_reward_needs_the_judge():
    data = config.load("config/config.yaml")
    config.check_across_keys({**data, "reward": {**data["reward"], "metric": "judge"}})
    with pytest.raises(ConfigError, match="'reward.metric': 'judge' .* judge.enabled is false"):
        config.check_across_keys(
            {**data, "reward": {**data["reward"], "metric": "judge"}, "judge": {**data["judge"], "enabled": False}}
        )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"suite": ".."}, "config key 'suite': '..' does not match"),
        ({"suite": "a/b"}, "config key 'suite': 'a/b' does not match"),
        ({"generators": {"../x": {"backend": "hf", "model": "m"}}}, "config key 'generators': '../x' does not match"),
        (
            {"eval_sets": {"nq`touch pwned`": {"source": "nq_test", "size": 1}}},
            "'assets.eval': 'nq`touch pwned`' does not",
        ),
        (
            {"eval_sets": {"train": {"source": "nq_test", "size": 1}}},
            "config key 'assets.eval': 'train' is reserved: 'train' is the training questions' file",
        ),
    ],
)
def test_names_that_would_escape_results_reach_a_shell_or_shadow_training_are_refused(change, message):
    data = config.load("config/config.yaml")
    if "eval_sets" in change:
        change = {"assets": {**data["assets"], "eval": change.pop("eval_sets")}}
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        config.validate({**data, **change})
    assert "letters, digits, _ . -" in str(err.value) or "reserved" in str(err.value)
