"""The verl engine against verl itself (run in the training env: `make test` runs this folder with
.venv-training): s3's overrides compose onto verl's own trainer config, the training parquet loads through verl's
dataset, and s3's agent loop plays real episodes (real retriever server, demo LLM) through verl's interfaces."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import verl
import yaml
from hydra import compose, initialize_config_dir
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from verl.experimental.agent_loop.agent_loop import DictConfigWrap
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.rollout.replica import TokenOutput

from s3core.config import schema as config
from s3core.config.sections import GeneratorConfig, SearchConfig, TrainConfig, parse, section, to_dict
from s3core.data.corpus import Document
from s3core.errors import S3Error
from s3core.search.hf_policy import HFPolicy, load_tokenizer
from s3core.search.policy import STOP_STRINGS
from s3core.search.prompt import SearcherPrompt
from s3core.search.reward import gain_beyond_rag
from s3core.serving.sidecar import Sidecar
from s3core.stages.services import serve_command
from s3core.verl_engine import agent_loop
from s3core.verl_engine.agent_loop import trim_trailing_observation
from s3core.verl_engine.data import AGENT_NAME, item_of, write_training_parquet
from s3core.verl_engine.hydra_overrides import verl_overrides
from s3core.verl_engine.launch import gpu_plan, write_agent_loops

VERL_CONFIG = Path(verl.__file__).parent / "trainer" / "config"
ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "config" / "paper.yaml"


def paper_sections() -> tuple[TrainConfig, SearchConfig]:
    """config/paper.yaml's train and search sections."""
    paper = config.load(PAPER)
    return section("train", paper["train"]), section("search", paper["search"])


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(VERL_CONFIG), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def cache_rows(docs: list[Document]) -> list[dict]:
    """Two naive-RAG cache rows (the precompute rule's answer-file shape)."""
    rows = []
    for i, (question, gold) in enumerate(
        [("Who developed the theory of relativity?", "Albert Einstein"), ("What is the largest planet?", "Jupiter")]
    ):
        rows.append(
            {
                "id": f"q{i}",
                "question": question,
                "golden_answers": [gold],
                "data_source": "nq",
                "method": "rag",
                "docs": [d.to_dict() for d in docs[:3]],
                "trace": None,
                "genacc": 0.0,
            }
        )
    return rows


@pytest.fixture(scope="module")
def corpus_docs(small_corpus) -> list[Document]:
    return [Document.from_row(json.loads(line)) for line in small_corpus.read_text().splitlines()]


@pytest.fixture(scope="module")
def retriever_url(tmp_path_factory, bm25_index, small_corpus, retriever_config):
    log = tmp_path_factory.mktemp("retriever") / "server.log"
    with Sidecar(serve_command("bm25", bm25_index, small_corpus, retriever_config), log) as sidecar:
        yield sidecar.url


def search_config(**changes) -> SearchConfig:
    return parse(
        "search",
        {
            "retriever": "bm25",
            "topk": 2,
            "initial_topk": 2,
            "max_turns": 1,
            "max_new_tokens": 24,
            "max_obs_tokens": 400,
            "max_context_tokens": 2048,
            **changes,
        },
    )


def test_the_paper_settings_compose_onto_verls_own_trainer_config(tmp_path):
    train, search = paper_sections()
    overrides = verl_overrides(
        train,
        search,
        "/models/qwen",
        tmp_path / "train.parquet",
        tmp_path / "agent_loops.yaml",
        tmp_path / "ckpt",
        2,
        8,
    )
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
    assert rollout.response_length == search.max_context_tokens
    assert (cfg.trainer.total_training_steps, cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (20, 2, 8)
    assert cfg.trainer.default_local_dir == str(tmp_path / "ckpt") and cfg.trainer.resume_mode == "auto"


def test_extra_overrides_win_and_an_unknown_key_is_refused_by_verls_config(tmp_path):
    paper_train, search = paper_sections()
    train = replace(
        paper_train, verl=replace(paper_train.verl, extra_overrides=("actor_rollout_ref.actor.optim.lr=3e-6",))
    )
    args = (search, "/m", tmp_path / "t.parquet", tmp_path / "a.yaml", tmp_path / "c", 1, 1)
    assert composed(verl_overrides(train, *args)).actor_rollout_ref.actor.optim.lr == pytest.approx(3e-6)
    train = replace(train, verl=replace(train.verl, extra_overrides=("actor_rollout_ref.actor.no_such_key=1",)))
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
    """verl's rollout-server interface answering from a script (token ids of fixed searcher turns); turn i is
    generated with weights of version 3 + i, as a server whose weights are updated between turns reports it."""

    def __init__(self, tokenizer, turns: list[str]):
        self.turns = [tokenizer.encode(t, add_special_tokens=False) for t in turns]
        self.requests: list[dict] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.requests.append({"request_id": request_id, "prompt_ids": prompt_ids, "sampling_params": sampling_params})
        turn = len(self.requests) - 1
        return TokenOutput(
            token_ids=self.turns[turn], extra_fields={"min_global_steps": 3 + turn, "max_global_steps": 3 + turn}
        )


class ModelServer:
    """verl's rollout-server interface generating with a real Hugging Face model."""

    def __init__(self, policy: HFPolicy):
        self.policy = policy

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        [ids] = self.policy.generate([prompt_ids], sampling_params["max_tokens"], sampling_params["temperature"])
        return TokenOutput(token_ids=ids)


def make_loop(
    tmp_path,
    tokenizer,
    server,
    retriever_url,
    generator_config: GeneratorConfig,
    search: SearchConfig,
    prompt_length=2048,
    response_length=None,
):
    spec = {
        "search": search,
        "reward": parse("reward", {}),
        "retriever_url": retriever_url,
        "retriever_client": parse("retriever", {}).client,
        "generator": "smol",
        "generators": {"smol": generator_config},
        "prompt_file": None,
        "judge": parse("judge", {"enabled": False}),
        "failures_path": str(tmp_path / "failures.jsonl"),
        "stats_path": str(tmp_path / "episodes.jsonl"),
    }
    services_path = tmp_path / "services.json"
    services_path.write_text(json.dumps(to_dict(spec)))
    registry = write_agent_loops(tmp_path / "agent_loops.yaml", services_path)
    cfg = composed(
        [
            f"data.max_response_length={response_length or search.max_context_tokens}",
            f"data.max_prompt_length={prompt_length}",
            "actor_rollout_ref.rollout.name=vllm",
        ]
    )
    agent_loop.services.cache_clear()  # each test's own services file
    entry = yaml.safe_load(registry.read_text())[0]
    assert entry["_target_"] == "s3core.verl_engine.agent_loop.S3AgentLoop"
    return agent_loop.S3AgentLoop(
        trainer_config=DictConfigWrap(cfg),
        server_manager=server,
        tokenizer=tokenizer,
        processor=None,
        dataset_cls=RLHFDataset,
        data_config=DictConfigWrap(cfg.data),
        services_path=entry["services_path"],
    )


@pytest.fixture(scope="module")
def generator_config(demo_llm) -> GeneratorConfig:
    return parse("generators", {"smol": {"backend": "hf", "model": str(demo_llm), "batch_size": 4}})["smol"]


def test_the_agent_loop_plays_a_search_episode_masks_observations_and_rewards_gbr(
    tmp_path, demo_llm, corpus_docs, retriever_url, generator_config
):
    tokenizer = load_tokenizer(str(demo_llm))
    search = search_config()
    server = ScriptedServer(
        tokenizer,
        [
            '<query>{"query": "Jupiter planet"}</query>',
            "<important_info>[1]</important_info>\n<search_complete>True</search_complete>",
        ],
    )
    loop = make_loop(tmp_path, tokenizer, server, retriever_url, generator_config, search)
    row = cache_rows(corpus_docs)[1]
    output = asyncio.run(
        loop.run({"temperature": 0.6, "top_p": 1.0}, extra_info={"s3_item": json.dumps(row)}, global_steps=7)
    )

    initial = [Document.from_row(d) for d in row["docs"][:2]]
    messages = SearcherPrompt().messages(row["question"], initial, search.max_selected)
    expected_prompt = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    assert output.prompt_ids == list(expected_prompt["input_ids"])
    first, second = server.requests
    assert first["request_id"] == second["request_id"]  # one episode, one sticky session
    assert first["prompt_ids"] == output.prompt_ids
    assert first["sampling_params"]["logprobs"] is False
    assert first["sampling_params"]["stop"] == STOP_STRINGS and first["sampling_params"]["include_stop_str_in_output"]
    assert first["sampling_params"]["max_tokens"] == search.max_new_tokens
    assert (
        second["prompt_ids"]
        == output.prompt_ids + output.response_ids[: len(second["prompt_ids"]) - len(output.prompt_ids)]
    )

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
    assert (output.extra_fields["min_global_steps"], output.extra_fields["max_global_steps"]) == (3, 4)
    [stats] = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert stats == {"step": 7, **info}


def test_the_agent_loop_with_a_real_model_server_plays_to_the_end(
    tmp_path, demo_llm, corpus_docs, retriever_url, generator_config, hf_generator
):
    tokenizer = load_tokenizer(str(demo_llm))
    search = search_config()
    server = ModelServer(HFPolicy(hf_generator.model, tokenizer, 1))
    loop = make_loop(tmp_path, tokenizer, server, retriever_url, generator_config, search)
    row = cache_rows(corpus_docs)[0]
    output = asyncio.run(loop.run({"temperature": 0.0}, extra_info={"s3_item": json.dumps(row)}))
    info = output.extra_fields["reward_extra_info"]
    assert 1 <= info["turns"] <= search.rounds + 1 and info["docs"] >= 1
    assert len(output.response_ids) == len(output.response_mask) > 0
    assert sum(output.response_mask) == info["response_tokens"] > 0
    assert info["genacc"] in (0.0, 1.0) and output.reward_score == info["genacc"] - row["genacc"]


def extra_requirements(package: str, extras: set[str]) -> list[Requirement]:
    """What `package[extras]` requires, nested extras (`verl[verl-core]` inside `verl[vllm]`) followed."""
    wanted, seen, found = set(extras), set(), []
    while wanted - seen:
        extra = (wanted - seen).pop()
        seen.add(extra)
        for text in importlib.metadata.requires(package):
            requirement = Requirement(text)
            if requirement.marker and requirement.marker.evaluate({"extra": extra}):
                if canonicalize_name(requirement.name) == canonicalize_name(package):
                    wanted |= requirement.extras
                else:
                    found.append(requirement)
    return found


def training_env_pins() -> dict[str, str]:
    """envs/training.yaml's pip pins and the ones its post-deploy script installs (flash-attn)."""
    env = yaml.safe_load((ROOT / "envs" / "training.yaml").read_text())["dependencies"][-1]["pip"]
    script = (ROOT / "envs" / "training.post-deploy.sh").read_text()
    entries = env + re.findall(r"\b[A-Za-z0-9_.\-]+==[0-9][^\s]*", script)
    return {canonicalize_name(entry.split("==")[0]): entry.split("==")[1] for entry in entries}


def test_the_training_env_pins_everything_verls_vllm_and_fsdp_extras_ask_for():
    """The V1 trainer (TransferQueue, from `verl[verl-core]`), vLLM rollouts and FSDP workers (flash-attn, trl):
    every requirement of the two extras, nested ones included, pinned at a version it accepts."""
    pins = training_env_pins()
    requirements = extra_requirements("verl", {"vllm", "fsdp"})
    assert {"transferqueue", "flash-attn", "vllm", "torch", "trl"} <= {canonicalize_name(r.name) for r in requirements}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"envs/training.yaml does not pin {requirement} (a requirement of verl's extras)"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {requirement}"
    assert pins["verl"] == importlib.metadata.version("verl")


def test_the_paper_gpu_plan_passes_verls_own_config_validation(tmp_path, demo_llm):
    """verl's checks of batch sizes against GPUs, on the paper config's plan (8 GPUs, 2 for the generator)."""
    from verl.utils.config import validate_config

    train, search = paper_sections()
    devices = ",".join(str(i) for i in range(config.load(PAPER)["resources"]["train_s3"]["gpu"]))
    plan = gpu_plan({"CUDA_VISIBLE_DEVICES": devices}, train)
    assert (plan.nodes, plan.gpus_per_node) == (1, 6)
    overrides = verl_overrides(
        train,
        search,
        str(demo_llm),
        tmp_path / "t.parquet",
        tmp_path / "a.yaml",
        tmp_path / "c",
        plan.nodes,
        plan.gpus_per_node,
    )
    validate_config(composed(overrides), use_reference_policy=True, use_critic=True)
    seven = verl_overrides(
        train, search, str(demo_llm), tmp_path / "t.parquet", tmp_path / "a.yaml", tmp_path / "c", 1, 7
    )
    with pytest.raises(AssertionError, match="divisible"):
        validate_config(composed(seven), use_reference_policy=True, use_critic=True)


def test_a_first_prompt_longer_than_verls_prompt_length_is_refused_with_the_key(
    tmp_path, demo_llm, corpus_docs, retriever_url, generator_config
):
    tokenizer = load_tokenizer(str(demo_llm))
    server = ScriptedServer(tokenizer, [])
    loop = make_loop(tmp_path, tokenizer, server, retriever_url, generator_config, search_config(), prompt_length=64)
    row = cache_rows(corpus_docs)[0]
    with pytest.raises(S3Error, match="train.verl.max_prompt_length"):
        asyncio.run(loop.run({"temperature": 0.6}, extra_info={"s3_item": json.dumps(row)}))
    assert server.requests == []


def test_each_s3_setting_reaches_the_value_verls_v1_trainer_uses(tmp_path, demo_llm):
    """Read back from the dataclasses verl's workers build, not from the keys written: clip range (and no dual
    clip, as upstream's PPO), gradient clipping of actor and critic, the critic's fixed micro-batches, parameter
    offload, no rollout log-probs, the V1 trainer, one checkpoint kept, the loggers' paths on every Ray worker."""
    from verl.trainer.ppo.core_algos import compute_policy_loss_vanilla
    from verl.utils.config import omega_conf_to_dataclass

    train, search = paper_sections()
    env = {"VERL_FILE_LOGGER_PATH": str(tmp_path / "m.jsonl"), "TENSORBOARD_DIR": str(tmp_path / "tb")}
    cfg = composed(
        verl_overrides(
            train, search, str(demo_llm), tmp_path / "t.parquet", tmp_path / "a.yaml", tmp_path / "c", 1, 6, env
        )
    )
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    critic = omega_conf_to_dataclass(cfg.critic)
    assert (actor.clip_ratio_low, actor.clip_ratio_high) == (train.clip, train.clip)
    assert actor.optim.clip_grad == critic.optim.clip_grad == train.grad_clip
    assert (actor.use_dynamic_bsz, actor.ppo_micro_batch_size_per_gpu) == (False, train.micro_batch_size)
    assert (
        critic.engine.use_dynamic_bsz,
        critic.engine.micro_batch_size_per_gpu,
        critic.engine.infer_micro_batch_size_per_gpu,
    ) == (False, 1, 1)
    assert actor.fsdp_config.param_offload and cfg.actor_rollout_ref.ref.fsdp_config.param_offload

    # a negative advantage with a ratio far outside the clip range: PPO's loss -A * ratio, no dual-clip floor
    actor.global_batch_info.update(dp_size=1, batch_num_tokens=1, global_batch_size=1)
    ratio, advantage = 5.0, -1.0
    loss, _ = compute_policy_loss_vanilla(
        torch.zeros(1, 1),
        torch.full((1, 1), math.log(ratio)),
        torch.full((1, 1), advantage),
        torch.ones(1, 1),
        "token-mean",
        actor,
    )
    assert loss.item() == pytest.approx(-advantage * ratio)

    assert cfg.trainer.use_v1 and not cfg.actor_rollout_ref.rollout.calculate_log_probs
    assert cfg.trainer.max_actor_ckpt_to_keep == cfg.trainer.max_critic_ckpt_to_keep == 1
    assert dict(cfg.ray_kwargs.ray_init.runtime_env.env_vars) == env


def scripted_episode(tmp_path, demo_llm, corpus_docs, retriever_url, generator_config, turns, response_length=None):
    """(output, server) of one episode whose searcher turns come from a script."""
    tokenizer = load_tokenizer(str(demo_llm))
    server = ScriptedServer(tokenizer, turns)
    loop = make_loop(
        tmp_path, tokenizer, server, retriever_url, generator_config, search_config(), response_length=response_length
    )
    row = cache_rows(corpus_docs)[1]
    output = asyncio.run(loop.run({"temperature": 0.6}, extra_info={"s3_item": json.dumps(row)}, global_steps=1))
    return output, server


SEARCH_TURNS = [
    '<query>{"query": "Jupiter planet"}</query>',
    "<important_info>[1]</important_info>\n<search_complete>True</search_complete>",
]


def test_verls_v1_worker_stores_the_episode_with_ints_for_its_weight_versions(
    tmp_path, demo_llm, corpus_docs, retriever_url, generator_config, monkeypatch
):
    """verl's V1 `AgentLoopWorkerTQ._agent_loop_postprocess` on s3's output: the row it puts into TransferQueue has
    the reward on a generated token and the weight versions the step metrics read as ints."""
    from verl.trainer.ppo.v1 import agent_loop_tq

    output, _ = scripted_episode(tmp_path, demo_llm, corpus_docs, retriever_url, generator_config, SEARCH_TURNS)
    stored = {}

    async def put(*, keys, fields, tags, partition_id):
        stored.update(keys=keys, fields=fields, tags=tags, partition_id=partition_id)

    monkeypatch.setattr(agent_loop_tq.tq, "async_kv_batch_put", put)
    worker = object.__new__(agent_loop_tq.AgentLoopWorkerTQ.__ray_actor_class__)
    worker.reward_loop_worker_handles, worker.distillation_enabled, worker.processor = None, False, None
    asyncio.run(worker._agent_loop_postprocess(output, False, uid="q1", session_id=0, global_steps=1))
    [tag] = stored["tags"]
    assert stored["keys"] == ["q1_0_0"] and stored["partition_id"] == "train" and tag["status"] == "success"
    assert np.array([tag["min_global_steps"]], dtype=int).tolist() == [3]  # what the step metrics do
    assert np.array([tag["max_global_steps"]], dtype=int).tolist() == [4]
    fields = stored["fields"]
    mask, scores = fields["response_mask"][0], fields["rm_scores"][0]
    assert mask[-1].item() == 1 and scores[-1].item() == pytest.approx(output.reward_score)
    assert tag["response_len"] == len(output.response_ids) == len(output.response_mask)


def test_an_episode_cut_inside_an_observation_ends_its_response_on_a_generated_token(
    tmp_path, demo_llm, corpus_docs, retriever_url, generator_config
):
    """verl's response length ends the episode inside an <information> block: the cut observation is not trained
    on, so the reward lands on the searcher's own last token, from where GAE carries it back."""
    tokenizer = load_tokenizer(str(demo_llm))
    query = tokenizer.encode(SEARCH_TURNS[0], add_special_tokens=False)
    output, _ = scripted_episode(
        tmp_path, demo_llm, corpus_docs, retriever_url, generator_config, SEARCH_TURNS, response_length=len(query) + 10
    )
    assert output.response_ids == query and output.response_mask == [1] * len(query)
    assert trim_trailing_observation([5, 6, 7, 8], [1, 0, 1, 0]) == ([5, 6, 7], [1, 0, 1])
    assert trim_trailing_observation([5], [0]) == ([], [])


def test_a_failed_episode_is_recorded_for_the_job_to_fail(
    tmp_path, demo_llm, corpus_docs, retriever_url, generator_config
):
    """verl's V1 trainer logs an agent loop's exception and trains on; the failures file makes the job fail."""
    from s3core.verl_engine.launch import check_failures

    tokenizer = load_tokenizer(str(demo_llm))
    loop = make_loop(
        tmp_path,
        tokenizer,
        ScriptedServer(tokenizer, []),
        retriever_url,
        generator_config,
        search_config(),
        prompt_length=64,
    )
    with pytest.raises(S3Error):
        asyncio.run(loop.run({"temperature": 0.6}, extra_info={"s3_item": json.dumps(cache_rows(corpus_docs)[0])}))
    with pytest.raises(S3Error, match="1 episode\\(s\\) failed .* question 'q0': S3Error: .*max_prompt_length"):
        check_failures(tmp_path / "failures.jsonl")
