"""The verl engine against verl itself (run in the training env: `make test` runs this folder with
.venv-training): s3's overrides compose onto verl's own trainer config, the training parquet loads through verl's
dataset, and s3's agent loop plays real episodes (real retriever server, demo LLM) through verl's interfaces."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from pathlib import Path

import pytest
import verl
import yaml
from hydra import compose, initialize_config_dir
from verl.experimental.agent_loop.agent_loop import DictConfigWrap
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.rollout.replica import TokenOutput

from s3core import config
from s3core.cli import serve_command
from s3core.corpus import Document
from s3core.errors import S3Error
from s3core.search.policy import HFPolicy, STOP_STRINGS, load_tokenizer
from s3core.search.prompt import SearcherPrompt
from s3core.search.rollout import search_rounds
from s3core.sidecar import Sidecar
from s3core.train.reward import gain_beyond_rag
from s3core.verl_engine import agent_loop
from s3core.verl_engine.data import AGENT_NAME, item_of, write_training_parquet
from s3core.verl_engine.hydra_overrides import verl_overrides
from s3core.verl_engine.launch import gpu_plan, write_agent_loops

VERL_CONFIG = Path(verl.__file__).parent / "trainer" / "config"
ROOT = Path(__file__).resolve().parents[2]


def paper_sections() -> dict:
    return config.load(ROOT / "config" / "paper.yaml")


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(VERL_CONFIG), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def cache_rows(docs: list[Document]) -> list[dict]:
    """Two naive-RAG cache rows (the precompute rule's answer-file shape)."""
    rows = []
    for i, (question, gold) in enumerate([("Who developed the theory of relativity?", "Albert Einstein"),
                                           ("What is the largest planet?", "Jupiter")]):
        rows.append({"id": f"q{i}", "question": question, "golden_answers": [gold], "data_source": "nq",
                     "method": "rag", "docs": [d.to_dict() for d in docs[:3]], "trace": None, "genacc": 0.0})
    return rows


@pytest.fixture(scope="module")
def corpus_docs(small_corpus) -> list[Document]:
    return [Document.from_row(json.loads(line)) for line in small_corpus.read_text().splitlines()]


@pytest.fixture(scope="module")
def retriever_url(tmp_path_factory, bm25_index, small_corpus, retriever_settings):
    log = tmp_path_factory.mktemp("retriever") / "server.log"
    with Sidecar(serve_command("bm25", bm25_index, small_corpus, retriever_settings), log) as sidecar:
        yield sidecar.url


def search_settings(**changes) -> dict:
    return config.section("search", {"retriever": "bm25", "topk": 2, "initial_topk": 2, "max_turns": 1,
                                     "max_new_tokens": 24, "max_obs_tokens": 400, "max_context_tokens": 2048,
                                     **changes})


def test_the_paper_settings_compose_onto_verls_own_trainer_config(tmp_path):
    sections = paper_sections()
    train, search = sections["train"], sections["search"]
    overrides = verl_overrides(train, search, "/models/qwen", tmp_path / "train.parquet",
                               tmp_path / "agent_loops.yaml", tmp_path / "ckpt", 2, 8)
    cfg = composed(overrides)
    assert cfg.algorithm.adv_estimator == "gae" and cfg.algorithm.gamma == 1.0 and cfg.algorithm.lam == 1.0
    assert cfg.algorithm.use_kl_in_reward and cfg.algorithm.kl_ctrl.kl_coef == pytest.approx(0.001)
    actor = cfg.actor_rollout_ref.actor
    assert actor.optim.lr == pytest.approx(1e-6) and cfg.critic.optim.lr == pytest.approx(1e-5)
    assert (actor.ppo_mini_batch_size, cfg.data.train_batch_size) == (30, 120)
    assert actor.clip_ratio == 0.2 and actor.entropy_coeff == pytest.approx(0.001) and actor.grad_clip == 1.0
    assert not actor.use_kl_loss
    rollout = cfg.actor_rollout_ref.rollout
    assert rollout.temperature == pytest.approx(0.6) and rollout.n == 1 and rollout.mode == "async"
    assert rollout.agent.default_agent_loop == AGENT_NAME
    assert rollout.response_length == search["max_context_tokens"]
    assert (cfg.trainer.total_training_steps, cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (20, 2, 8)
    assert cfg.trainer.default_local_dir == str(tmp_path / "ckpt") and cfg.trainer.resume_mode == "auto"


def test_extra_overrides_win_and_an_unknown_key_is_refused_by_verls_config(tmp_path):
    train = {**paper_sections()["train"]}
    train["verl"] = {**train["verl"], "extra_overrides": ["actor_rollout_ref.actor.optim.lr=3e-6"]}
    args = (paper_sections()["search"], "/m", tmp_path / "t.parquet", tmp_path / "a.yaml", tmp_path / "c", 1, 1)
    assert composed(verl_overrides(train, *args)).actor_rollout_ref.actor.optim.lr == pytest.approx(3e-6)
    train["verl"] = {**train["verl"], "extra_overrides": ["actor_rollout_ref.actor.no_such_key=1"]}
    with pytest.raises(Exception, match="no_such_key"):
        composed(verl_overrides(train, *args))


def test_the_training_parquet_loads_through_verls_dataset(tmp_path, demo_llm, corpus_docs):
    rows = cache_rows(corpus_docs)
    path = write_training_parquet(rows, tmp_path / "train.parquet")
    cfg = composed([f"data.train_files={path}", "data.max_prompt_length=512"])
    dataset = RLHFDataset([str(path)], load_tokenizer(str(demo_llm)), cfg.data)
    assert len(dataset) == 2
    item = dataset[1]
    assert item["agent_name"] == AGENT_NAME
    assert item_of(item["extra_info"]) == rows[1]
    assert item["raw_prompt"][0]["content"] == rows[1]["question"]


class ScriptedServer:
    """verl's rollout-server interface answering from a script (token ids of fixed searcher turns)."""

    def __init__(self, tokenizer, turns: list[str]):
        self.turns = [tokenizer.encode(t, add_special_tokens=False) for t in turns]
        self.requests: list[dict] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.requests.append({"prompt_ids": prompt_ids, "sampling_params": sampling_params})
        return TokenOutput(token_ids=self.turns[len(self.requests) - 1])


class ModelServer:
    """verl's rollout-server interface generating with a real Hugging Face model."""

    def __init__(self, policy: HFPolicy):
        self.policy = policy

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        [ids] = self.policy.generate([prompt_ids], sampling_params["max_tokens"], sampling_params["temperature"])
        return TokenOutput(token_ids=ids)


def make_loop(tmp_path, tokenizer, server, retriever_url, hf_settings, search, prompt_length=2048):
    spec = {"search": search, "reward_form": "gbr", "retriever_url": retriever_url,
            "retriever_client": config.section("retriever", {})["client"],
            "generator": "smol", "generators": {"smol": hf_settings}, "prompt_file": None,
            "judge": config.section("judge", {"enabled": False})}
    services_path = tmp_path / "services.json"
    services_path.write_text(json.dumps(spec))
    registry = write_agent_loops(tmp_path / "agent_loops.yaml", services_path)
    cfg = composed([f"data.max_response_length={search['max_context_tokens']}",
                    f"data.max_prompt_length={prompt_length}", "actor_rollout_ref.rollout.name=vllm"])
    entry = yaml.safe_load(registry.read_text())[0]
    assert entry["_target_"] == "s3core.verl_engine.agent_loop.S3AgentLoop"
    return agent_loop.S3AgentLoop(trainer_config=DictConfigWrap(cfg), server_manager=server, tokenizer=tokenizer,
                                  processor=None, dataset_cls=RLHFDataset, data_config=DictConfigWrap(cfg.data),
                                  services_path=entry["services_path"])


@pytest.fixture(scope="module")
def hf_settings(demo_llm) -> dict:
    return config.section("generators", {"smol": {"backend": "hf", "model": str(demo_llm), "batch_size": 4}})["smol"]


def test_the_agent_loop_plays_a_search_episode_masks_observations_and_rewards_gbr(
        tmp_path, demo_llm, corpus_docs, retriever_url, hf_settings):
    tokenizer = load_tokenizer(str(demo_llm))
    search = search_settings()
    server = ScriptedServer(tokenizer, ['<query>{"query": "Jupiter planet"}</query>',
                                       "<important_info>[1]</important_info>\n<search_complete>True</search_complete>"])
    loop = make_loop(tmp_path, tokenizer, server, retriever_url, hf_settings, search)
    row = cache_rows(corpus_docs)[1]
    output = asyncio.run(loop.run({"temperature": 0.6, "top_p": 1.0}, extra_info={"s3_item": json.dumps(row)}))

    initial = [Document.from_row(d) for d in row["docs"][:2]]
    messages = SearcherPrompt().messages(row["question"], initial, search["max_selected"])
    expected_prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                    return_dict=True)
    assert output.prompt_ids == list(expected_prompt["input_ids"])
    first, second = server.requests
    assert first["prompt_ids"] == output.prompt_ids
    assert first["sampling_params"]["stop"] == STOP_STRINGS and first["sampling_params"]["include_stop_str_in_output"]
    assert first["sampling_params"]["max_tokens"] == search["max_new_tokens"]
    assert second["prompt_ids"] == output.prompt_ids + output.response_ids[: len(second["prompt_ids"]) - len(output.prompt_ids)]

    mask = output.response_mask
    assert len(mask) == len(output.response_ids) and mask[0] == 1 and mask[-1] == 1 and 0 in mask
    observation = tokenizer.decode([t for t, m in zip(output.response_ids, mask) if m == 0])
    generated = tokenizer.decode([t for t, m in zip(output.response_ids, mask) if m == 1])
    assert "<information>" in observation and "Jupiter" in observation and "<query>" not in observation
    assert "<query>" in generated and "<search_complete>True" in generated and "<information>" not in generated

    info = output.extra_fields["reward_extra_info"]
    assert (info["turns"], info["searches"], info["docs"]) == (2, 1, 3)
    assert output.reward_score == gain_beyond_rag(info["genacc"], row["genacc"], "gbr")
    assert info["gbr"] == info["genacc"] - row["genacc"]
    tensors = output.as_dict()
    assert tensors["rm_scores"][-1].item() == pytest.approx(output.reward_score)
    assert tensors["response_mask"].tolist() == mask


def test_the_agent_loop_with_a_real_model_server_plays_to_the_end(
        tmp_path, demo_llm, corpus_docs, retriever_url, hf_settings, hf_generator):
    tokenizer = load_tokenizer(str(demo_llm))
    search = search_settings()
    server = ModelServer(HFPolicy(hf_generator.model, tokenizer, 1))
    loop = make_loop(tmp_path, tokenizer, server, retriever_url, hf_settings, search)
    row = cache_rows(corpus_docs)[0]
    output = asyncio.run(loop.run({"temperature": 0.0}, extra_info={"s3_item": json.dumps(row)}))
    info = output.extra_fields["reward_extra_info"]
    assert 1 <= info["turns"] <= search_rounds(search) + 1 and info["docs"] >= 1
    assert len(output.response_ids) == len(output.response_mask) > 0
    assert sum(output.response_mask) == info["response_tokens"] > 0
    assert info["genacc"] in (0.0, 1.0) and output.reward_score == info["genacc"] - row["genacc"]


def test_the_training_env_pins_what_verls_vllm_extra_asks_for():
    """envs/training.yaml's GPU stack = the pins of the installed verl's `vllm` extra."""
    extra = {}
    for requirement in importlib.metadata.requires("verl"):
        spec, _, marker = requirement.partition(";")
        if 'extra == "vllm"' in marker and "==" in spec:
            name, version = spec.strip().split("==")
            extra[name.lower()] = version
    env = yaml.safe_load((ROOT / "envs" / "training.yaml").read_text())["dependencies"][-1]["pip"]
    pins = dict(entry.lower().split("==") for entry in env)
    assert {"torch", "vllm", "transformers"} <= extra.keys()
    assert {name: pins.get(name) for name in extra} == extra


def test_the_paper_gpu_plan_passes_verls_own_config_validation(tmp_path, demo_llm):
    """verl's checks of batch sizes against GPUs, on the paper config's plan (8 GPUs, 2 for the generator)."""
    from verl.utils.config import validate_config

    sections = paper_sections()
    train, search = sections["train"], sections["search"]
    devices = ",".join(str(i) for i in range(sections["resources"]["train_s3"]["gpu"]))
    plan = gpu_plan({"CUDA_VISIBLE_DEVICES": devices}, train)
    assert (plan.nodes, plan.gpus_per_node) == (1, 6)
    overrides = verl_overrides(train, search, str(demo_llm), tmp_path / "t.parquet", tmp_path / "a.yaml",
                               tmp_path / "c", plan.nodes, plan.gpus_per_node)
    validate_config(composed(overrides), use_reference_policy=True, use_critic=True)
    seven = verl_overrides(train, search, str(demo_llm), tmp_path / "t.parquet", tmp_path / "a.yaml",
                           tmp_path / "c", 1, 7)
    with pytest.raises(AssertionError, match="divisible"):
        validate_config(composed(seven), use_reference_policy=True, use_critic=True)


def test_a_first_prompt_longer_than_verls_prompt_length_is_refused_with_the_key(
        tmp_path, demo_llm, corpus_docs, retriever_url, hf_settings):
    tokenizer = load_tokenizer(str(demo_llm))
    server = ScriptedServer(tokenizer, [])
    loop = make_loop(tmp_path, tokenizer, server, retriever_url, hf_settings, search_settings(), prompt_length=64)
    row = cache_rows(corpus_docs)[0]
    with pytest.raises(S3Error, match="train.verl.max_prompt_length"):
        asyncio.run(loop.run({"temperature": 0.6}, extra_info={"s3_item": json.dumps(row)}))
    assert server.requests == []
