import pytest

from s3core.metrics import exact_match, normalize_answer, parse_judge, span_match, token_f1, judge_messages


@pytest.mark.parametrize("raw,expected", [
    ("The Eiffel Tower!", "eiffel tower"),
    ("  a   cat, an apple and THE dog. ", "cat apple and dog"),
    ("theater", "theater"),                      # articles only as whole words
    ("Wilhelm Conrad Röntgen", "wilhelm conrad röntgen"),  # non-ASCII letters kept
    ("“quoted”", "“quoted”"),                    # non-ASCII punctuation kept, as upstream
    ("", ""),
])
def test_normalize(raw, expected):
    assert normalize_answer(raw) == expected


def test_exact_match_multiple_golds_and_empty():
    assert exact_match("the Beatles.", ["Rolling Stones", "Beatles"]) == 1.0
    assert exact_match("Beatles band", ["Beatles"]) == 0.0
    assert exact_match("", ["Beatles"]) == 0.0
    assert exact_match("", [""]) == 1.0


def test_token_f1_hand_computed():
    # pred tokens: [barack, obama, president]; gold: [barack, obama] -> P=2/3, R=1 -> F1=0.8
    assert token_f1("Barack Obama, president", ["Barack Obama"]) == pytest.approx(0.8)
    assert token_f1("Obama", ["George Bush", "Barack Obama"]) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert token_f1("", ["x"]) == 0.0
    assert token_f1("x", []) == 0.0
    assert token_f1("the", ["a"]) == 0.0  # both normalise to nothing


def test_span_match_is_token_aligned():
    assert span_match("It was Paris, France.", ["paris"])
    assert not span_match("comparison", ["paris"])          # not a substring match
    assert span_match("The answer is New York City", ["new york"])
    assert not span_match("York New", ["new york"])
    assert not span_match("anything", ["the"])               # gold empty after normalisation
    assert not span_match("", ["paris"])


def test_judge_prompt_and_parse():
    content = judge_messages("It is Paris.", ["Paris", "City of Light"])[0]["content"]
    assert "It is Paris." in content and "Paris, City of Light" in content and "yes" in content
    assert parse_judge("Yes.") and parse_judge("yes, it is")
    assert not parse_judge("No") and not parse_judge("") and not parse_judge("I think yes")
