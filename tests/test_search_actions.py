"""The s3 searcher's action parser and selected-context extraction on tricky trajectories."""

import pytest

from s3core.corpus import Document, format_docs
from s3core.search.actions import parse_action, parse_doc_ids, parse_query
from s3core.search.selection import InformationBlock, dedupe, selected_context


@pytest.mark.parametrize("raw,expected", [
    ('{"query": "capital of France"}', "capital of France"),
    ('{"query": ["first one", "second"]}', "first one"),
    ('["listed query"]', "listed query"),
    ("capital of France", "capital of France"),          # not JSON -> raw text
    ('{"query": "unterminated', '{"query": "unterminated'),
    ('{"other": 1}', ""),
    ('{"query": []}', ""),
])
def test_parse_query(raw, expected):
    assert parse_query(raw) == expected


def test_query_turn_with_think_and_important_info():
    text = ('<think>need more</think><important_info>[2, 1]</important_info>'
            '<search_complete>False</search_complete><query>{"query": "who painted it"}</query>')
    action = parse_action(text, block_size=3)
    assert (action.query, action.complete, action.important_ids, action.valid) == ("who painted it", False, [2, 1], True)


@pytest.mark.parametrize("value", ["True", "true", "YES", "y", "1", " yes "])
def test_search_complete_overrides_query(value):
    action = parse_action(f'<query>{{"query": "x"}}</query><search_complete>{value}</search_complete>', 3)
    assert action.complete and action.query is None and action.valid


@pytest.mark.parametrize("text", [
    "I think the answer is Paris.",                              # no tags at all
    "<query>{\"query\": \"x\"}",                                 # unclosed tag
    "<query></query>",                                           # empty query
    '<query>{"query": ""}</query><search_complete>no</search_complete>',
    "<search_complete>maybe</search_complete>",
])
def test_invalid_actions(text):
    assert not parse_action(text, 3).valid


def test_nested_or_repeated_tags_take_the_last_complete_one():
    text = '<query>{"query": "a"}</query> then <query>{"query": "b"}</query>'
    assert parse_action(text, 3).query == "b"
    assert parse_action("<important_info>[1]</important_info><important_info>[3]</important_info>", 3).important_ids == [3]


def test_doc_ids_out_of_range_duplicates_and_cap():
    assert parse_doc_ids("[0, 2, 2, 9, 1, 3, 4]", block_size=8) == [2, 1, 3]   # at most 3 kept
    assert parse_doc_ids("[5, 9]", block_size=3) == []
    assert parse_doc_ids("Doc 1 and Doc 3", block_size=3) == [1, 3]
    assert parse_doc_ids("[]", block_size=3) == []


def _docs(prefix, n):
    return [Document(f"{prefix}{i}", f"T{prefix}{i}", f"text {prefix}{i}") for i in range(1, n + 1)]


def test_selected_context_rules():
    rag = InformationBlock(_docs("r", 3))                  # never marked: contributes all
    first = InformationBlock(_docs("a", 4))
    first.mark([3, 1])
    first.mark([1, 4])                                     # a second mention adds ids, no duplicates
    ignored = InformationBlock(_docs("b", 2))
    ignored.mark([])                                       # marked with nothing: contributes nothing
    last = InformationBlock(_docs("c", 2))                 # no important_info anywhere: all docs
    context = selected_context([rag, first, ignored, last])
    assert [d.id for d in context] == ["r1", "r2", "r3", "a3", "a1", "a4", "c1", "c2"]
    assert format_docs(context[:2]) == "Doc 1 (Title: Tr1) text r1\nDoc 2 (Title: Tr2) text r2"  # renumbered


def test_dedupe_keeps_first_occurrence_by_text():
    docs = [Document("1", "A", "same"), Document("2", "B", "same"), Document("3", "A", "other")]
    assert [d.id for d in dedupe(docs)] == ["1", "3"]
    rag = InformationBlock([Document("1", "A", "same")])
    later = InformationBlock([Document("9", "A", "same"), Document("8", "C", "new")])
    later.mark([1, 2])
    assert [d.id for d in selected_context([rag, later])] == ["1", "8"]
