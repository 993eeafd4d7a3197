"""PPO math against hand-computed values; the trainer learns a controlled task and resumes exactly."""

import math
import shutil
from dataclasses import replace

import pytest
import torch
from toy_task import ToyEnvironment, make_tiny_model, toy_pool

from s3core.config.sections import TrainConfig, parse
from s3core.config.training_fingerprint import fingerprint
from s3core.errors import DataError, S3Error
from s3core.search.reward import gain_beyond_rag, gain_shares, is_yes_no, metric_value, training_pool
from s3core.train import checkpoint, ppo
from s3core.train.loop import items_for_step, train
from s3core.train.models import load_models
from s3core.train.trainer import PPOTrainer, Trajectory

T = torch.tensor


def close(actual: torch.Tensor, expected: list) -> None:
    torch.testing.assert_close(actual, T(expected), rtol=1e-4, atol=1e-4)


def test_gae_skips_observation_tokens():
    rewards, values, mask = T([[0.1, 5.0, 1.0]]), T([[0.2, 9.0, 0.4]]), T([[1.0, 0.0, 1.0]])
    advantages, returns = ppo.gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # t=2: δ = 1.0 − 0.4 = 0.6; t=1 is an observation (skipped); t=0: δ = 0.1 + 0.9·0.4 − 0.2 = 0.26,
    # A = 0.26 + 0.9·0.8·0.6 = 0.692
    close(advantages, [[0.692, 0.0, 0.6]])
    close(returns, [[0.892, 0.0, 1.0]])
    close(ppo.masked_whiten(advantages, mask), [[1 / math.sqrt(2), 0.0, -1 / math.sqrt(2)]])


def test_gae_with_gamma_lambda_one_is_return_minus_value():
    rewards, values, mask = T([[0.0, 0.0, 1.0]]), T([[0.5, 0.25, 0.75]]), T([[1.0, 1.0, 1.0]])
    advantages, returns = ppo.gae(rewards, values, mask, 1.0, 1.0)
    close(returns, [[1.0, 1.0, 1.0]])
    close(advantages, [[0.5, 0.75, 0.25]])


def test_token_rewards_put_kl_on_actions_and_score_on_last_action():
    logp, ref = T([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]]), T([[-1.5, -2.0, -1.0], [-1.0, -1.0, -1.0]])
    mask = T([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    rewards = ppo.token_rewards(T([2.0, 7.0]), logp, ref, mask, kl_coef=0.1)
    close(rewards, [[-0.05, 0.0, 2.2], [0.0, 0.0, 0.0]])  # no action: no score


def test_policy_loss_clipping():
    old = torch.zeros(1, 3)
    logp = torch.log(T([[1.5, 0.5, 0.5]]))
    loss, clipped = ppo.policy_loss(logp, old, T([[1.0, 1.0, -1.0]]), clip=0.2)
    close(loss, [[-1.2, -0.5, 0.8]])
    assert clipped.tolist() == [[1.0, 0.0, 1.0]]


def test_value_loss_clipping():
    loss, clipped = ppo.value_loss(T([[1.0, 1.0]]), T([[0.0, 0.0]]), T([[0.0, 2.0]]), clip=0.5)
    close(loss, [[0.5, 1.125]])
    assert clipped.tolist() == [[0.0, 1.0]]


def test_entropy_of_uniform_logits():
    assert ppo.entropy_from_logits(torch.zeros(1, 4)).item() == pytest.approx(math.log(4))


def test_reward_forms_and_training_filter():
    assert gain_beyond_rag(1.0, 1.0, "gbr") == 0.0 and gain_beyond_rag(1.0, 0.0, "gbr") == 1.0
    assert gain_beyond_rag(1.0, 1.0, "upstream") == 1.0 and gain_beyond_rag(0.0, 1.0, "upstream") == -1.0
    with pytest.raises(ValueError, match="gbr"):
        gain_beyond_rag(1.0, 0.0, "other")
    assert is_yes_no(["Yes"]) and is_yes_no(["maybe", "NO"]) and is_yes_no(["True"]) and is_yes_no(["fAlSe"])
    assert not is_yes_no(["no."]) and not is_yes_no(["yes sir"]) and not is_yes_no([])  # whole answers only
    cache = [
        {"id": "a", "genacc": 1.0, "golden_answers": ["Paris"]},
        {"id": "b", "genacc": 0.0, "golden_answers": ["yes"]},
        {"id": "c", "genacc": 0.0, "golden_answers": ["Rome"]},
    ]
    assert [r["id"] for r in training_pool(cache, True, True)] == ["c"]
    assert [r["id"] for r in training_pool(cache, False, False)] == ["a", "b", "c"]


def test_the_gbr_distribution_of_a_step():
    assert gain_shares([1.0, 0.0, -1.0, 0.0]) == {"gbr_below": 0.25, "gbr_zero": 0.5, "gbr_above": 0.25}
    assert gain_shares([]) == {"gbr_below": 0.0, "gbr_zero": 0.0, "gbr_above": 0.0}


def test_the_reward_metric_reads_the_score_it_names():
    row = {"id": "q1", "genacc": 1.0, "span": False, "judge": True, "em": 0.0}
    assert [metric_value(row, m) for m in ("genacc", "judge", "span", "em")] == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(DataError, match="'q1'.*needs the judge's verdict on every answer.*rule precompute"):
        metric_value({**row, "judge": None}, "judge")


def test_items_for_step_cover_each_epoch_once():
    pool = [{"i": i} for i in range(5)]
    seen = [row["i"] for step in range(5) for row in items_for_step(pool, step, 2, seed=1)]
    assert sorted(seen[:5]) == list(range(5)) and sorted(seen[5:10]) == list(range(5))
    assert items_for_step(pool, 3, 2, seed=1) == items_for_step(pool, 3, 2, seed=1)


def _ppo(steps: int) -> TrainConfig:
    """The `train` section of a toy run of `steps` PPO steps."""
    return parse(
        "train",
        {
            "steps": steps,
            "batch_size": 16,
            "mini_batch_size": 8,
            "actor_lr": 1e-2,
            "critic_lr": 1e-2,
            "entropy_coef": 0.0,
            "checkpoint_every": 2,
        },
    )


SEARCHER = parse("searcher", {"device": "cpu", "batch_size": 16})


def _shaping(train_config: TrainConfig) -> dict:
    return fingerprint(train_config, parse("search", {}), parse("reward", {}), "tiny", [])


TIMING = {"rollout_s", "update_s", "score_s", "optimise_s", "rollout_tokens_per_s", "update_tokens_per_s"}


@pytest.mark.slow  # PPO steps on a tiny model
def test_ppo_learns_the_controlled_task(tmp_path):
    model = make_tiny_model(tmp_path / "model")
    rows = train(
        toy_pool(),
        ToyEnvironment(),
        str(model),
        tmp_path / "run",
        _ppo(10),
        SEARCHER,
        1.0,
        _shaping(_ppo(10)),
    )
    first, last = sum(r["reward"] for r in rows[:2]) / 2, sum(r["reward"] for r in rows[-2:]) / 2
    assert first < 0.3 and last > first + 0.3, [r["reward"] for r in rows]
    assert (tmp_path / "run" / "searcher" / "config.json").exists()
    assert any((tmp_path / "run" / "tensorboard").iterdir())
    for key in ("kl", "entropy", "value_loss", "clip_fraction", "approx_kl", "rollout_tokens_per_s"):
        assert all(math.isfinite(r[key]) for r in rows), key


def _updated(model: str, micro_batch_size: int) -> tuple[dict[str, float], list[torch.Tensor], int]:
    """One PPO step over two trajectories (one mini-batch): the statistics, the actor's and critic's weights and
    how many forward passes the actor ran."""
    config = parse(
        "train",
        {"batch_size": 2, "mini_batch_size": 2, "micro_batch_size": micro_batch_size, "kl_coef": 0.1, "ppo_epochs": 1},
    )
    actor, critic, reference = load_models(model, torch.device("cpu"), True, False)
    trainer = PPOTrainer(actor, critic, reference, config, 1.0, 0, False)
    passes = []
    actor.base_model.register_forward_hook(lambda *_: passes.append(1))
    trajectories = [
        Trajectory([3, 4, 5, 6, 7, 8, 9], [0, 0, 1, 1, 0, 1, 1], 1.0),
        Trajectory([3, 5, 7, 9, 4], [0, 0, 0, 1, 1], -0.5),
    ]
    stats = trainer.update(trajectories, seed=0)
    return stats, [p.detach().clone() for p in [*actor.parameters(), *critic.parameters()]], len(passes)


def test_an_update_in_one_pass_scores_with_its_own_forward_and_equals_the_update_in_two_micro_batches(tmp_path):
    """One mini-batch, one micro-batch: the update's forward pass gives the old log-probs and values. Two
    micro-batches of the same mini-batch score the rollouts in a pass of their own first; the step is the same."""
    model = str(make_tiny_model(tmp_path / "model"))
    one_pass, one_pass_weights, one_pass_forwards = _updated(model, micro_batch_size=2)
    two_micro, two_micro_weights, two_micro_forwards = _updated(model, micro_batch_size=1)
    assert (one_pass_forwards, two_micro_forwards) == (1, 4)  # scoring + update: 2 micro-batches each
    assert one_pass["clip_fraction"] == one_pass["approx_kl"] == 0.0  # ratio exactly 1
    assert one_pass["kl"] == 0.0 and one_pass["actor_grad_norm"] > 0 and one_pass["critic_grad_norm"] > 0
    for key in one_pass.keys() - TIMING:
        assert one_pass[key] == pytest.approx(two_micro[key], rel=1e-4, abs=1e-6), key
    for a, b in zip(one_pass_weights, two_micro_weights, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    initial = load_models(model, torch.device("cpu"), False, False)[0]
    assert any(not torch.equal(a, b) for a, b in zip(initial.parameters(), one_pass_weights))  # it stepped


@pytest.mark.slow  # PPO steps on a tiny model
def test_resume_from_checkpoint_matches_an_uninterrupted_run(tmp_path):
    model = str(make_tiny_model(tmp_path / "model"))
    whole = train(toy_pool(), ToyEnvironment(), model, tmp_path / "whole", _ppo(4), SEARCHER, 1.0, _shaping(_ppo(4)))
    train(
        toy_pool(), ToyEnvironment(), model, tmp_path / "cut", _ppo(2), SEARCHER, 1.0, _shaping(_ppo(2))
    )  # "killed" after 2
    (tmp_path / "cut" / "checkpoints" / ".step_000003.partial").mkdir()  # a torn write
    shutil.rmtree(tmp_path / "cut" / "searcher")
    resumed = train(toy_pool(), ToyEnvironment(), model, tmp_path / "cut", _ppo(4), SEARCHER, 1.0, _shaping(_ppo(4)))
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for a, b in zip(whole, resumed):
        assert {k: v for k, v in a.items() if k not in TIMING} == pytest.approx(
            {k: v for k, v in b.items() if k not in TIMING}, rel=1e-5, abs=1e-7
        )
    assert checkpoint.latest(tmp_path / "cut" / "checkpoints").name == "step_000004"
    assert len(list((tmp_path / "cut" / "checkpoints").glob("step_*"))) == 1  # only the newest kept


def test_checkpoints_written_in_the_background_land_in_order_and_fail_loudly(tmp_path):
    with checkpoint.Writer(tmp_path / "run") as writer:
        writer.save(1, {"step": 1, "weights": torch.ones(3)})
        writer.save(2, {"step": 2, "weights": torch.zeros(3)})  # waits for step 1's first
    newest = checkpoint.latest(tmp_path / "run")
    assert newest.name == "step_000002" and checkpoint.load(newest, torch.device("cpu"))["step"] == 2
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["step_000002"]
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError), checkpoint.Writer(tmp_path / "file") as writer:
        writer.save(1, {"step": 1})


@pytest.mark.slow  # PPO steps on a tiny model
def test_checkpoints_of_other_settings_are_refused_and_more_steps_continue_a_run(tmp_path):
    """A changed setting that shapes training (here the actor's learning rate) must not "resume" the old run's
    checkpoint and publish its weights; more steps continue it."""
    model = str(make_tiny_model(tmp_path / "model"))
    train(toy_pool(), ToyEnvironment(), model, tmp_path / "run", _ppo(1), SEARCHER, 1.0, _shaping(_ppo(1)))
    changed = replace(_ppo(1), actor_lr=1e-3)
    with pytest.raises(S3Error, match="step_000001\\) of other training settings .* delete .*run/checkpoints"):
        train(toy_pool(), ToyEnvironment(), model, tmp_path / "run", changed, SEARCHER, 1.0, _shaping(changed))
    longer = train(toy_pool(), ToyEnvironment(), model, tmp_path / "run", _ppo(2), SEARCHER, 1.0, _shaping(_ppo(2)))
    assert [r["step"] for r in longer] == [1, 2]  # step 1 resumed, step 2 trained


def test_training_refuses_greedy_rollouts_and_an_empty_pool(tmp_path):
    from s3core.errors import ConfigError

    with pytest.raises(ConfigError, match="search.temperature"):
        train(toy_pool(), ToyEnvironment(), "unused", tmp_path, _ppo(1), SEARCHER, 0.0, _shaping(_ppo(1)))
    with pytest.raises(ConfigError, match="training pool is empty"):
        train([], ToyEnvironment(), "unused", tmp_path, _ppo(1), SEARCHER, 1.0, _shaping(_ppo(1)))
