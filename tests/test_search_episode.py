"""The s3 episode loop driven by a scripted policy (the engine boundary) with the real SmolLM2 tokenizer."""

import pytest

from s3core.config.sections import SearchConfig, parse
from s3core.data.corpus import Document
from s3core.errors import DataError
from s3core.search.episode import CORRECTION, Episode, cut_response
from s3core.search.hf_policy import load_tokenizer
from s3core.search.prompt import MARKER, load_prompt
from s3core.search.rollout import play


@pytest.fixture(scope="module")
def tokenizer(demo_llm):
    return load_tokenizer(str(demo_llm))


def _docs(prefix: str, n: int) -> list[Document]:
    return [Document(f"{prefix}{i}", f"Title {prefix}{i}", f"text of {prefix}{i}") for i in range(1, n + 1)]


class ScriptedPolicy:
    """Replies with the next scripted text of each question (keyed by the question in the context)."""

    def __init__(self, tokenizer, scripts: dict[str, list[str]]):
        self.tokenizer = tokenizer
        self.scripts = {q: list(turns) for q, turns in scripts.items()}
        self.batches: list[int] = []

    def generate(self, contexts, max_new_tokens, temperature):
        self.batches.append(len(contexts))
        replies = []
        for context in contexts:
            text = self.tokenizer.decode(context)
            question = next(q for q in self.scripts if f"<question>{q}</question>" in text)
            replies.append(self.tokenizer.encode(self.scripts[question].pop(0), add_special_tokens=False))
        return replies


class RecordingSearch:
    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, queries, topk):
        self.calls.append(list(queries))
        return [_docs(f"{q[:1]}{len(self.calls)}-", topk) for q in queries]


def _search_config(**overrides) -> SearchConfig:
    return parse("search", {"topk": 4, **overrides})


def test_prompt_has_protocol_marker_question_and_initial_docs(tokenizer):
    episode = Episode({"question": "Who wrote Hamlet?"}, _docs("r", 3), tokenizer, _search_config())
    prompt = tokenizer.decode(episode.ids)
    assert MARKER in prompt and "<question>Who wrote Hamlet?</question>" in prompt
    assert prompt.index(MARKER) < prompt.index('<information>Doc 1 (Title: "Title r1") text of r1\nDoc 2 (Title:')
    assert "at most 3 ids" in prompt and "at most 2 ids" in tokenizer.decode(
        Episode({"question": "q"}, _docs("r", 3), tokenizer, _search_config(max_selected=2)).ids
    )
    assert episode.action_mask == [0] * len(episode.ids)


def test_a_checkpoints_own_prompt_file_fills_question_and_initial_docs(tokenizer, tmp_path):
    path = tmp_path / "upstream_prompt.txt"
    path.write_text(
        'Loop with JSON {"query": "..."}.\n<question>\n{question}\n</question>\n'
        "<information>\n{initial_docs}\n</information>\n"
    )
    episode = Episode(
        {"question": "Who wrote Hamlet?"}, _docs("r", 2), tokenizer, _search_config(), load_prompt(str(path))
    )
    [message] = load_prompt(str(path)).messages("Who wrote Hamlet?", _docs("r", 2), 3)
    assert message["content"] == (
        'Loop with JSON {"query": "..."}.\n<question>\nWho wrote Hamlet?\n</question>\n'
        '<information>\nDoc 1 (Title: "Title r1") text of r1\nDoc 2 (Title: "Title r2") '
        "text of r2\n</information>\n"
    )
    assert message["content"] in tokenizer.decode(episode.ids) and MARKER not in tokenizer.decode(episode.ids)
    path.write_text("no placeholders")
    with pytest.raises(DataError, match="no {question} or {initial_docs} in it"):
        load_prompt(str(path))
    with pytest.raises(DataError, match="cannot read .*missing.txt"):
        load_prompt(str(tmp_path / "missing.txt"))


def test_search_then_complete_masks_observations_and_selects_docs(tokenizer):
    turn1 = (
        '<think>need the author</think><search_complete>False</search_complete><query>{"query": "Hamlet author"}'
        "</query>"
    )
    turn2 = "<important_info>[2]</important_info><search_complete>True</search_complete>"
    policy = ScriptedPolicy(tokenizer, {"Who wrote Hamlet?": [turn1 + " trailing text", turn2]})
    search = RecordingSearch()
    [episode] = play([{"question": "Who wrote Hamlet?"}], [_docs("r", 3)], policy, search, _search_config(), 0.0)
    assert episode.done and (episode.turns, episode.searches, episode.invalid) == (2, 1, 0)
    assert search.calls == [["Hamlet author"]]
    trained = [t for t, m in zip(episode.ids, episode.action_mask) if m]
    assert tokenizer.decode(trained) == turn1 + turn2  # cut after </query>; trained = turns only
    observed = [
        t for t, m in zip(episode.ids[episode.prompt_length :], episode.action_mask[episode.prompt_length :]) if not m
    ]
    assert tokenizer.decode(observed) == (
        '\n\n<information>Doc 1(Title: "Title H1-1") text of H1-1\n'
        + "".join(f'Doc {i}(Title: "Title H1-{i}") text of H1-{i}\n' for i in (2, 3))
        + 'Doc 4(Title: "Title H1-4") text of H1-4</information>\n\n'
    )
    assert [d.id for d in episode.selected_docs()] == ["H1-2", "r1", "r2", "r3"]  # tagged first, then untagged blocks


def test_ablations_without_selection_and_without_begin_with_search(tokenizer):
    turn1 = '<important_info>[1]</important_info><search_complete>False</search_complete><query>{"query": "x"}</query>'
    turn2 = "<important_info>[2]</important_info><search_complete>True</search_complete>"
    question = {"question": "Who wrote Hamlet?"}

    def run(**flags):
        policy = ScriptedPolicy(tokenizer, {"Who wrote Hamlet?": [turn1, turn2]})
        [episode] = play([question], [_docs("r", 3)], policy, RecordingSearch(), _search_config(**flags), 0.0)
        return episode

    assert [d.id for d in run().selected_docs()] == ["r1", "x1-2"]  # the full s3: the selection
    assert [d.id for d in run(selection=False).selected_docs()] == [  # every retrieved document
        "r1",
        "r2",
        "r3",
        "x1-1",
        "x1-2",
        "x1-3",
        "x1-4",
    ]
    alone = run(begin_with_search=False)  # no naive-RAG documents
    assert "text of r1" not in tokenizer.decode(alone.ids[: alone.prompt_length])
    assert "<information></information>" in tokenizer.decode(alone.ids[: alone.prompt_length])
    assert [d.id for d in alone.selected_docs()] == ["x1-2"]
    assert [d.id for d in run(selection=False, begin_with_search=False).selected_docs()] == [
        "x1-1",
        "x1-2",
        "x1-3",
        "x1-4",
    ]


def test_invalid_turn_gets_correction_and_the_episode_goes_on(tokenizer):
    turns = ["I am not sure what to do.", 'capital"}</query>', "<search_complete>yes</search_complete>"]
    policy, search = ScriptedPolicy(tokenizer, {"q?": turns}), RecordingSearch()
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, search, _search_config(), 0.0)
    assert (episode.turns, episode.invalid, episode.searches) == (3, 1, 1)
    assert search.calls == [["capital"]]  # the turn closed the query the correction opened
    assert CORRECTION.strip() + 'capital"}</query>' in episode.transcript()  # only the searcher's tokens added


def test_a_turn_after_a_correction_may_write_its_own_query(tokenizer):
    turns = ["no action", '<query>{"query": "own"}</query>', 'late"}</query>', "<search_complete>yes</search_complete>"]
    policy, search = ScriptedPolicy(tokenizer, {"q?": turns}), RecordingSearch()
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, search, _search_config(), 0.0)
    assert search.calls == [["own"]]  # no correction before the third turn: its lone closing tag is no query
    assert (episode.turns, episode.invalid, episode.searches) == (4, 2, 1)


def test_tags_refer_to_the_latest_block_no_earlier_tag_took(tokenizer):
    turns = [
        "<important_info>[3, 1]</important_info> no query",  # invalid turn: takes the initial block
        '<important_info>[2]</important_info><query>{"query": "a"}</query>',  # initial block already taken: ignored
        '<query>{"query": "b"}</query>',  # block a1 stays untagged: all of it
        # 9 not in 1..8; the 2nd tag is ignored
        "<important_info>[4, 2, 9]</important_info><important_info>[1]</important_info>"
        '<search_complete>False</search_complete><query>{"query": "c"}</query>',
        "<important_info>[2]</important_info>",  # final turn: takes block c3
    ]
    policy = ScriptedPolicy(tokenizer, {"q?": turns})
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, RecordingSearch(), _search_config(), 0.0)
    assert (episode.turns, episode.searches, episode.invalid) == (5, 3, 1)
    assert [d.id for d in episode.selected_docs()] == [
        "r1",
        "r3",
        "b2-2",
        "b2-4",
        "c3-2",
        "a1-1",
        "a1-2",
        "a1-3",
        "a1-4",
    ]


def test_turn_limit_searches_max_turns_plus_one_then_one_final_turn(tokenizer):
    always = '<query>{"query": "more"}</query>'
    search_config = _search_config(max_turns=2)
    policy = ScriptedPolicy(tokenizer, {"q?": [always] * 10})
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, RecordingSearch(), search_config, 0.0)
    assert search_config.rounds == 3
    assert (episode.searches, episode.turns, episode.done) == (3, 4, True)
    search_config = _search_config(max_turns=2, extra_search_round=False)
    policy = ScriptedPolicy(tokenizer, {"q?": [always] * 10})
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, RecordingSearch(), search_config, 0.0)
    assert (episode.searches, episode.turns) == (2, 3)


def test_episodes_are_batched_per_turn_and_queries_share_one_request(tokenizer):
    done = "<search_complete>True</search_complete>"
    query = '<query>{"query": "%s"}</query>'
    scripts = {"a?": [query % "a1", done], "b?": [done], "c?": [query % "c1", query % "c2", done]}
    policy = ScriptedPolicy(tokenizer, scripts)
    search = RecordingSearch()
    questions = [{"question": q} for q in scripts]
    episodes = play(questions, [_docs("r", 3)] * 3, policy, search, _search_config(), 0.0)
    assert policy.batches == [3, 2, 1]  # all active episodes in one batch per turn
    assert search.calls == [["a1", "c1"], ["c2"]]  # one retriever request per turn
    assert [e.searches for e in episodes] == [1, 0, 2]


def test_observation_cut_and_context_budget(tokenizer):
    search_config = _search_config(max_obs_tokens=10)
    policy = ScriptedPolicy(
        tokenizer, {"q?": ['<query>{"query": "x"}</query>', "<search_complete>1</search_complete>"]}
    )
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, RecordingSearch(), search_config, 0.0)
    first_turn = len(tokenizer.encode('<query>{"query": "x"}</query>', add_special_tokens=False))
    assert episode.action_mask[episode.prompt_length + first_turn :].count(0) == 10
    prompt_length = len(Episode({"question": "q?"}, _docs("r", 3), tokenizer, search_config).ids)
    tight = _search_config(max_new_tokens=20, max_context_tokens=prompt_length + 30)
    policy = ScriptedPolicy(tokenizer, {"q?": ['<query>{"query": "x"}</query>'] * 5})
    [episode] = play([{"question": "q?"}], [_docs("r", 3)], policy, RecordingSearch(), tight, 0.0)
    assert episode.truncated and episode.searches == 1


def test_cut_response():
    assert cut_response('<query>{"query": "a"}</query><query>b</query>') == '<query>{"query": "a"}</query>'
    assert cut_response('a"}</query> more') == 'a"}</query>'
    assert cut_response("no tags") == "no tags"
