"""One list of methods (s3core.methods.registry): the config's default, the jobs' lookup and the report's rows and
labels all come from it; a method another package registers joins it."""

from __future__ import annotations

import pytest

from s3core.config import schema as config
from s3core.errors import ConfigError
from s3core.methods import get_method
from s3core.methods.registry import builtin, labels, registry
from s3core.plan.experiment import plan
from s3core.reporting.tables import label, row_order
from s3core.search.reward import FORMS, METRICS

NAMES = [method.name for method in builtin()]


def test_the_schemas_default_is_every_method_but_the_released_checkpoint_in_row_order():
    methods = config.schema()["properties"]["eval"]["properties"]["methods"]
    assert methods["default"] == [m for m in NAMES if m != "s3_released"]
    assert all(name in methods["description"] for name in NAMES)


def test_every_method_is_found_under_its_name_and_a_run_label_under_s3():
    assert [get_method(name).name for name in NAMES] == NAMES
    assert get_method("s3.no_selection.seed43").name == "s3"
    with pytest.raises(ConfigError, match="unknown method 'bm26'"):
        get_method("bm26")


def test_the_report_orders_and_labels_rows_from_the_registry():
    assert row_order()[: len(NAMES)] == NAMES and list(labels()) == list(registry())
    assert [label(m) for m in ("rag_dense", "s3_step0", "s3.no_selection")] == [
        "RAG-dense",
        "s3 (step 0)",
        "s3 [no_selection]",
    ]


def test_an_unknown_method_in_the_config_names_the_key_and_the_allowed_ones():
    data = config.load("config/config.yaml")
    data["eval"]["methods"] = ["direct", "rag_bm26"]
    with pytest.raises(ConfigError, match="config key 'eval.methods': unknown method 'rag_bm26'; allowed: direct, cot"):
        plan(data)


def test_the_schema_offers_exactly_the_reward_metrics_and_forms_the_reward_has():
    reward = config.schema()["properties"]["reward"]["properties"]
    assert reward["metric"]["enum"] == list(METRICS) and reward["form"]["enum"] == list(FORMS)
    assert {metric.paper_row for metric in METRICS.values()} == {"GenAcc", "LLMJudge", "Span", "EM"}


def test_a_new_reward_form_is_one_entry_of_the_table(monkeypatch):
    from s3core.search.reward import gain_beyond_rag

    monkeypatch.setitem(FORMS, "halved", lambda ours, rag: (ours - rag) / 2)  # CONTRIBUTING.md, step 1
    assert gain_beyond_rag(1.0, 0.0, "halved") == 0.5 and gain_beyond_rag(1.0, 0.0, "gbr") == 1.0
    reward = config.schema()["properties"]["reward"]["properties"]
    assert "halved" not in reward["form"]["enum"]  # step 2: until the schema names it, a config cannot pick it
