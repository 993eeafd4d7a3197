"""The s3 searcher's action parser and selected-context extraction on tricky trajectories (upstream's rules)."""

import pytest

from s3core.data.corpus import Document, format_docs, format_observation, format_selected
from s3core.search.actions import parse_action, parse_doc_ids, parse_query
from s3core.search.selection import InformationBlock, dedupe, selected_context


@pytest.mark.parametrize(
    "raw,expected",
    [
        ('{"query": "capital of France"}', "capital of France"),
        ('{"query": ["first one", "second"]}', "first one"),
        ('{"query": "  spaced  "}', "  spaced  "),  # the value as written
        ('["listed query"]', '["listed query"]'),  # other JSON -> the raw text
        ('"a json string"', '"a json string"'),
        ("42", "42"),
        ("null", "null"),
        ('{"other": 1}', '{"other": 1}'),  # no query key -> raw text
        ('{"query": 7}', '{"query": 7}'),  # a non-string value -> raw text
        ('{"query": {"query": "x"}}', '{"query": {"query": "x"}}'),
        ('{"query": []}', '{"query": []}'),  # an empty list -> raw text
        ('{"query": [3]}', '{"query": [3]}'),
        ("capital of France", "capital of France"),  # not JSON -> raw text
        ('{"query": "unterminated', '{"query": "unterminated'),
        ("[" * 100000, "[" * 100000),  # too deep for the JSON parser -> raw text
    ],
)
def test_parse_query(raw, expected):
    assert parse_query(raw) == expected


def test_query_turn_with_think_and_important_info():
    text = (
        "<think>need more</think><important_info>[2, 1]</important_info>"
        '<search_complete>False</search_complete><query>{"query": "who painted it"}</query>'
    )
    action = parse_action(text, block_size=3)
    assert (action.query, action.complete, action.important_ids, action.valid) == (
        "who painted it",
        False,
        [2, 1],
        True,
    )


def test_query_tag_content_is_stripped_before_parsing():
    assert parse_action('<query>\n{\n  "query": "nabokov birthplace"\n} \n</query>', 3).query == "nabokov birthplace"
    assert parse_action("<query>  plain words \n</query>", 3).query == "plain words"


@pytest.mark.parametrize("value", ["True", "true", "YES", "y", "1", " yes ", "\nTrue\n"])
def test_search_complete_overrides_query(value):
    action = parse_action(f'<query>{{"query": "x"}}</query><search_complete>{value}</search_complete>', 3)
    assert action.complete and action.query is None and action.valid


@pytest.mark.parametrize(
    "text",
    [
        "I think the answer is Paris.",  # no tags at all
        '<query>{"query": "x"}',  # unclosed tag
        "<query></query>",  # empty query (upstream searches for "")
        '<query>{"query": ""}</query><search_complete>no</search_complete>',
        '<query>{"query": "   "}</query>',
        "<search_complete>maybe</search_complete>",
        "<search_complete>True.</search_complete>",  # not one of true/yes/1/y
    ],
)
def test_invalid_actions(text):
    assert not parse_action(text, 3).valid


def test_repeated_tags_take_the_first_occurrence():
    text = '<query>{"query": "a"}</query> then <query>{"query": "b"}</query>'
    assert parse_action(text, 3).query == "a"
    assert parse_action(
        "<important_info>[1]</important_info><important_info>[3]</important_info>", 3
    ).important_ids == [1]
    first_false = "<search_complete>False</search_complete><search_complete>True</search_complete>"
    assert not parse_action(first_false + '<query>{"query": "q"}</query>', 3).complete
    assert parse_action("<search_complete>yes</search_complete><search_complete>no</search_complete>", 3).complete


def test_doc_ids_range_block_and_duplicates():
    assert parse_doc_ids("[0, 2, 2, 9, 1, 3, 4, 8]", block_size=8) == [2, 1, 3, 4, 8]  # no cap of 3
    assert parse_doc_ids("[10, 12]", block_size=12) == []  # only 1..8, as upstream
    assert parse_doc_ids("[5, 9]", block_size=3) == []  # not in the block
    assert parse_doc_ids("Doc 1 and Doc 3", block_size=3) == [1, 3]
    assert parse_doc_ids("[1.5]", block_size=8) == [1, 5]  # every run of digits
    assert parse_doc_ids("[]", block_size=3) == []


def _docs(prefix, n):
    return [Document(f"{prefix}{i}", f"T{prefix}{i}", f"text {prefix}{i}") for i in range(1, n + 1)]


def test_tagged_docs_come_first_then_untagged_blocks_in_trajectory_order():
    rag = InformationBlock(_docs("r", 3))  # no tag: contributes all, after the tagged docs
    first = InformationBlock(_docs("a", 4))
    first.take([3, 1])  # kept in block order: a1, a3
    first.take([2, 4])  # a second tag after the same block is ignored
    nothing = InformationBlock(_docs("b", 2))
    nothing.take([])  # taken with no ids: contributes nothing
    last = InformationBlock(_docs("c", 2))  # no tag: all docs
    later = InformationBlock(_docs("d", 3))
    later.take([2])
    context = selected_context([rag, first, nothing, last, later])
    assert [d.id for d in context] == ["a1", "a3", "d2", "r1", "r2", "r3", "c1", "c2"]


def test_dedupe_keeps_first_occurrence_by_text():
    docs = [Document("1", "A", "same"), Document("2", "B", "same"), Document("3", "A", "other")]
    assert [d.id for d in dedupe(docs)] == ["1", "3"]
    rag = InformationBlock([Document("1", "A", "same")])
    later = InformationBlock([Document("9", "A", "same"), Document("8", "C", "new")])
    later.take([1, 2])
    assert [d.id for d in selected_context([rag, later])] == ["9", "8"]  # the tagged copy comes first


def test_the_three_renderings():
    docs = [Document("1", "Paris", "Paris is the capital."), Document("2", 'Le "Monde"', "A newspaper.")]
    assert format_docs(docs) == 'Doc 1 (Title: "Paris") Paris is the capital.\nDoc 2 (Title: "Le "Monde"") A newspaper.'
    assert format_observation(docs) == (
        'Doc 1(Title: "Paris") Paris is the capital.\nDoc 2(Title: "Le "Monde"") A newspaper.'
    )
    assert format_selected(docs) == (
        'Doc 1 (Title: Paris)\nParis is the capital.\n\nDoc 2 (Title: Le "Monde")\nA newspaper.\n\n'
    )
