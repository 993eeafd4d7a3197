"""The baselines: prompts, parsing of tricky model outputs, stop rules and the shared agent loop, driven by a
scripted model and an in-memory search (the real server and demo LLM run them in the workflow test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from s3core.config.sections import job_config
from s3core.data.corpus import Document
from s3core.evaluation.evaluator import cot_answer
from s3core.generation import Messages
from s3core.generation.prompts import generator_messages
from s3core.methods import get_method
from s3core.methods.agent import run_agent, trail_rows
from s3core.methods.deepretrieval import rewriter_messages, rewritten_query
from s3core.methods.ircot import IRCoT, first_sentence
from s3core.methods.search_o1 import BEGIN_RESULT, END_RESULT, SearchO1, condensed, parse_query
from s3core.methods.search_r1 import SearchR1, parse_turn

QUESTIONS = [
    {"id": f"q{i}", "question": f"question {i}?", "golden_answers": ["x"], "data_source": "nq"} for i in range(3)
]


class ScriptedModel:
    """A Generator whose continuation is `script(messages, prefix)`; records every batch it is given."""

    name = "scripted"
    prompt_format = "chat"

    def __init__(self, script: Callable[[Messages, str], str]):
        self.script = script
        self.batches: list[int] = []

    def complete(self, conversations, prefixes, max_new_tokens=None, stop=None):
        self.batches.append(len(conversations))
        return [self.script(c, p) for c, p in zip(conversations, prefixes)]

    def chat(self, conversations, max_new_tokens=None):
        return self.complete(conversations, ["" for _ in conversations], max_new_tokens)


class RecordingSearch:
    """Documents named after the query; records each request's queries."""

    def __init__(self):
        self.requests: list[list[str]] = []

    def __call__(self, queries: list[str], topk: int) -> list[list[Document]]:
        self.requests.append(list(queries))
        return [[Document(f"{q}-{k}", q, f"text about {q} #{k}") for k in range(topk)] for q in queries]


# ---------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "output, kept, query",
    [
        (
            "<think>need more</think><search> capital of France",
            "<think>need more</think><search> capital of France </search>",
            "capital of France",
        ),
        ("<search>q1</search> trailing", "<search> q1 </search>", "q1"),
        ("<think>ok</think><answer> Paris", "<think>ok</think><answer> Paris </answer>", None),
        ("<search>  </search>", "<search>  </search>", None),
        ("no tags at all", "no tags at all", None),
        ("<answer>A</answer><search>late</search>", "<answer> A </answer>", None),
    ],
)
def test_search_r1_turn_parsing(output, kept, query):
    assert parse_turn(output) == (kept, query)


def test_search_o1_query_and_condensing():
    assert parse_query("I should look it up. <|begin_search_query|> tallest tower ") == (
        "I should look it up. <|begin_search_query|>tallest tower<|end_search_query|>",
        "tallest tower",
    )
    assert parse_query("The answer is \\boxed{Paris}.") == ("The answer is \\boxed{Paris}.", None)
    assert parse_query("<|begin_search_query|><|end_search_query|>")[1] is None
    assert condensed("blah\nFinal Information: Tower is 330 m.") == "Tower is 330 m."
    assert condensed("  no marker here ") == "no marker here"


@pytest.mark.parametrize(
    "text, sentence",
    [
        ("Paris is in France. It is the capital.", "Paris is in France."),
        ("  First line\nsecond line", "First line"),
        ("No end punctuation", "No end punctuation"),
        ("", ""),
    ],
)
def test_ircot_first_sentence(text, sentence):
    assert first_sentence(text) == sentence


def test_ircot_reads_a_step_or_the_answer():
    agent = IRCoT()
    assert agent.read("Hamlet was written by Shakespeare. More text") == (
        "Hamlet was written by Shakespeare. ",
        "Hamlet was written by Shakespeare.",
    )
    assert agent.read("So the answer is: Shakespeare.") == ("So the answer is: Shakespeare.", None)
    assert agent.read("   ") == ("", None)


@pytest.mark.parametrize(
    "output, query",
    [
        ('<think>t</think><answer>{"query": "(Hamlet OR play) AND author"}</answer>', "(Hamlet OR play) AND author"),
        ('<answer>{"query": "unclosed json"}', "unclosed json"),
        ("<answer>raw keywords here</answer>", "raw keywords here"),
        ('<answer>{"query": ["first", "second"]}</answer>', "first"),
        ("<answer>a</answer> then <answer>b</answer>", "b"),
        ("no answer tag", "the question?"),
        ("<answer>   </answer>", "the question?"),
    ],
)
def test_deepretrieval_query_extraction(output, query):
    assert rewritten_query(output, "the question?") == query


def test_deepretrieval_prompt_names_the_question_and_format():
    text = rewriter_messages("who wrote hamlet")[0]["content"]
    assert "who wrote hamlet" in text and "<answer>" in text and '"query"' in text


@pytest.mark.parametrize(
    "text, answer",
    [
        ("Step 1: ... Step 2: ... <answer>Paris</answer>", "Paris"),
        ("reasoning <answer> Paris", "Paris"),
        ("<answer>first</answer> more <answer>second</answer>", "second"),
        ("It is in France.\nSo the answer is Paris.", "Paris"),
        ("Thinking...\nParis", "Paris"),
        ("", ""),
    ],
)
def test_cot_answer_extraction(text, answer):
    assert cot_answer(text) == answer


def test_cot_prompt_asks_for_reasoning_and_answer_tags():
    system = generator_messages("who?", [], style="cot")[0]["content"]
    assert "step by step" in system and "<answer>" in system
    assert "directly answer" in generator_messages("who?", [])[0]["content"]


# ---------------------------------------------------------------------------------------------- loops


def search_r1_script(searches_before_answer: int) -> Callable[[Messages, str], str]:
    def script(messages: Messages, prefix: str) -> str:
        done = prefix.count("<search>")
        if done < searches_before_answer:
            return f"<think>step {done}</think><search> topic {done}"
        return "<think>enough</think><answer> x"

    return script


def test_search_r1_loop_batches_rounds_and_collects_documents():
    model, search = ScriptedModel(search_r1_script(2)), RecordingSearch()
    trails = run_agent(QUESTIONS, SearchR1(), model, search, topk=3, max_searches=4, max_new_tokens=50)
    assert model.batches == [3, 3, 3]  # all questions in one batch per round
    assert search.requests == [["topic 0"] * 3, ["topic 1"] * 3]  # one retriever request per round
    assert all(t.searches == 2 and t.done for t in trails)
    assert trails[0].text.count('<information>Doc 1(Title: "topic 0")') == 1 and trails[0].text.endswith("</answer>")
    rows = trail_rows(trails, "search_r1")
    assert [d["id"] for d in rows[0]["docs"]] == [f"topic {i}-{k}" for i in range(2) for k in range(3)]
    assert rows[0]["method"] == "search_r1" and "<search> topic 1 </search>" in rows[0]["trace"]


def test_search_r1_stops_after_max_turns():
    model, search = ScriptedModel(search_r1_script(99)), RecordingSearch()
    trails = run_agent(QUESTIONS[:1], SearchR1(), model, search, topk=2, max_searches=4, max_new_tokens=50)
    assert trails[0].searches == 4 and len(search.requests) == 4
    assert len(model.batches) == 5  # the round after the last search lets it finish


def test_duplicate_documents_are_dropped_in_order():
    model = ScriptedModel(lambda m, p: "<search> same" if p.count("<search>") < 2 else "<answer> x")
    trails = run_agent(QUESTIONS[:1], SearchR1(), model, RecordingSearch(), topk=2, max_searches=4, max_new_tokens=9)
    assert [d["id"] for d in trail_rows(trails, "search_r1")[0]["docs"]] == ["same-0", "same-1"]


def test_ircot_retrieves_with_the_question_then_with_each_sentence():
    steps = ["Step one is here.", "Step two follows.", "So the answer is: x."]
    model = ScriptedModel(lambda m, p: steps[p.count(". ")] + " ignored rest")
    search = RecordingSearch()
    trails = run_agent(QUESTIONS[:2], IRCoT(), model, search, topk=3, max_searches=3, max_new_tokens=20)
    assert search.requests == [["question 0?", "question 1?"], ["Step one is here."] * 2, ["Step two follows."] * 2]
    assert trails[0].text == "Step one is here. Step two follows. So the answer is: x."
    assert 'Doc 1 (Title: "question 0?")' in IRCoT().messages(trails[0])[1]["content"]


def test_ircot_stops_after_max_steps():
    model, search = ScriptedModel(lambda m, p: f"Step {p.count('. ')} of many. "), RecordingSearch()
    trails = run_agent(QUESTIONS[:1], IRCoT(), model, search, topk=1, max_searches=3, max_new_tokens=20)
    assert len(model.batches) == 4 and len(search.requests) == 4 and trails[0].done  # 4 steps, 1 + 3 retrievals


def test_search_o1_condenses_each_search_with_the_model():
    def script(messages: Messages, prefix: str) -> str:
        if messages[0]["content"].startswith("Previous reasoning"):
            return "Final Information: the tower is tall."
        return "Let me check. <|begin_search_query|>tower height" if not prefix else "So \\boxed{330 m}."

    model, search = ScriptedModel(script), RecordingSearch()
    agent = SearchO1(model, max_searches=4, condense_max_new_tokens=32)
    trails = run_agent(QUESTIONS[:2], agent, model, search, topk=3, max_searches=4, max_new_tokens=50)
    assert search.requests == [["tower height", "tower height"]]
    assert model.batches == [2, 2, 2]  # reasoning, condensing, reasoning
    assert f"{BEGIN_RESULT}the tower is tall.{END_RESULT}" in trails[0].text
    assert len(trail_rows(trails, "search_o1")[0]["docs"]) == 3  # raw documents, not the condensed text


def test_methods_name_their_index_from_config():
    config = job_config(
        {
            "search": {"retriever": "bm25"},
            "baselines": {
                "ircot": {"retriever": "bm25"},
                "search_o1": {"retriever": "dense"},
                "search_r1": {"retriever": "dense"},
            },
        }
    )
    kinds = {
        m: get_method(m).index_kind(config)
        for m in ["direct", "cot", "rag_bm25", "rag_dense", "ircot", "search_o1", "search_r1", "deepretrieval", "s3"]
    }
    assert kinds == {
        "direct": None,
        "cot": None,
        "rag_bm25": "bm25",
        "rag_dense": "dense",
        "ircot": "bm25",
        "search_o1": "dense",
        "search_r1": "dense",
        "deepretrieval": "bm25",
        "s3": "bm25",
    }
    assert get_method("cot").answer_style == "cot" and get_method("ircot").answer_style == "direct"


def test_methods_name_the_models_they_load():
    generators = {name: {"backend": "hf", "model": f"m/{name}"} for name in ("g1", "g2")}
    baselines = {"search_r1": {"model": "m/sr1"}, "deepretrieval": {"model": "m/dr"}}
    config = job_config({"generators": generators, "baselines": baselines})
    assert get_method("ircot").model_paths(config) == ["m/g1"]  # the first generator reasons
    config = replace(config, baselines=replace(config.baselines, reasoner="g2"))
    assert get_method("search_o1").model_paths(config) == ["m/g2"]
    assert get_method("search_r1").model_paths(config) == ["m/sr1"]
    assert get_method("deepretrieval").model_paths(config) == ["m/dr"]
    assert get_method("rag_dense").model_paths(config) == [] == get_method("s3").model_paths(config)
