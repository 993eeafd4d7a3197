"""The s3 runs a config asks for: the base, each named ablation over its sections, each seed; their labels, the
caches they share, and the config errors an ablation gets."""

from __future__ import annotations

import copy

import pytest

from s3core.config import schema as config
from s3core.errors import ConfigError
from s3core.methods import method_name
from s3core.plan.runs import cache_names, s3_runs, seedless

DEMO = config.load("config/config.yaml")


def with_keys(**keys):
    data = copy.deepcopy(DEMO)
    data.update(keys)
    return config.check_across_keys(config.validate(data))


def test_runs_are_the_base_then_each_ablation_each_seed():
    data = with_keys(
        ablations={
            "short": {"search": {"topk": 2}},
            "long": {"train": {"steps": 9}},
            "em": {"reward": {"metric": "em"}},
        },
        seeds=[42, 7],
    )
    runs = s3_runs(data)
    assert [r.label for r in runs] == [
        "s3",
        "s3.seed7",
        "s3.short",
        "s3.short.seed7",
        "s3.long",
        "s3.long.seed7",
        "s3.em",
        "s3.em.seed7",
    ]
    short = runs[3]
    assert (short.ablation, short.seed, short.group) == ("short", 7, "s3.short")
    assert (
        short.sections["search"]["topk"] == 2 and short.sections["search"]["max_turns"] == DEMO["search"]["max_turns"]
    )
    assert short.sections["train"]["seed"] == 7 and runs[0].sections["train"]["seed"] == 42
    assert data["search"]["topk"] == DEMO["search"]["topk"]  # the config itself is untouched
    # the em reward is read off the same naive-RAG answers: one cache for every run
    assert set(cache_names(runs, "g").values()) == {"train"}


def test_runs_share_a_naive_rag_cache_unless_its_search_generator_or_judging_differs():
    data = with_keys(
        ablations={
            "em": {"reward": {"metric": "em"}},
            "span": {"reward": {"metric": "span"}},
            "judge": {"reward": {"metric": "judge"}},
            "judge_upstream": {"reward": {"metric": "judge", "form": "upstream"}},
            "wide": {"search": {"initial_topk": 5}},
            "selection": {"search": {"selection": False, "topk": 2}},
        },
        seeds=[42, 7],
    )
    names = cache_names(s3_runs(data), "g")
    assert names["s3.em"] == names["s3.span"] == names["s3.selection.seed7"] == "train"
    assert names["s3.judge"] == names["s3.judge_upstream.seed7"] == "train.judge"
    assert names["s3.wide"] == names["s3.wide.seed7"] == "train.wide"


def test_without_seeds_a_run_trains_with_train_seed():
    runs = s3_runs(with_keys(ablations={}, seeds=None, train={**DEMO["train"], "seed": 5}))
    assert [(r.label, r.seed) for r in runs] == [("s3", 5)]


def test_labels_name_their_method_and_their_seed_group():
    assert [method_name(x) for x in ("s3.no_selection.seed7", "s3", "s3_step0", "rag_dense")] == [
        "s3",
        "s3",
        "s3_step0",
        "rag_dense",
    ]
    assert seedless("s3.no_selection.seed7") == "s3.no_selection" and seedless("s3.seed43") == "s3"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"ablations": {"x": {"search": {"topk_typo": 3}}}}, "config key 'ablations.x.search': Additional properties"),
        ({"ablations": {"x": {"search": {"topk": 0}}}}, "config key 'ablations.x.search.topk': 0 is less than"),
        ({"ablations": {"x": {"model": {}}}}, "config key 'ablations.x': Additional properties"),
        ({"ablations": {"seed7": {"search": {"topk": 2}}}}, "config key 'ablations'"),
        ({"ablations": {"a.b": {"search": {"topk": 2}}}}, "config key 'ablations'"),
        (
            {"ablations": {"x": {"reward": {"metric": "judge"}}}, "judge": {"enabled": False}},
            "config key 'ablations.x.reward.metric': 'judge'",
        ),
        ({"seeds": [1, 1]}, "config key 'seeds'"),
    ],
)
def test_a_bad_ablation_or_seed_list_names_its_key(keys, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        with_keys(**keys)
