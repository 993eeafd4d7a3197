import random

import pytest

from s3core.evaluation.metrics import (
    exact_match,
    judge_messages,
    normalize_answer,
    parse_judge,
    span_match,
    span_tokens,
    token_f1,
)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  a   cat, an apple and THE dog. ", "cat apple and dog"),
        ("theater", "theater"),  # articles only as whole words
        ("Wilhelm Conrad Röntgen", "wilhelm conrad röntgen"),  # non-ASCII letters kept
        ("“quoted”", "“quoted”"),  # non-ASCII punctuation kept, as upstream
        ("", ""),
    ],
)
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


def test_span_tokens_split_typographic_punctuation():
    assert span_tokens("zola’s 1969—the “beatles” paris…") == [
        "zola",
        "’",
        "s",
        "1969",
        "—",
        "the",
        "“",
        "beatles",
        "”",
        "paris",
        "…",
    ]
    assert span_tokens("Ro\u0308ntgen") == span_tokens("Röntgen") == ["ro\u0308ntgen"]  # NFD, marks stay in the word


def test_span_match_is_token_aligned():
    assert span_match("It was Paris, France.", ["paris"])
    assert not span_match("comparison", ["paris"])  # not a substring match
    assert span_match("The answer is New York City", ["new york"])
    assert not span_match("York New", ["new york"])
    assert not span_match("anything", ["the"])  # gold empty after normalisation (upstream: match)
    assert not span_match("", ["paris"])


@pytest.mark.parametrize(
    "answer,gold",
    [
        ("Paris…", "Paris"),
        ("Émile Zola’s novel", "Emile Zola"),
        ("In 1969—the year", "1969"),
        ("“Beatles”", "The Beatles"),
        ("«Le Monde»", "le monde"),
        ("Zola’s", "Zola"),
    ],
)
def test_span_match_sees_through_typographic_punctuation(answer, gold):
    expected = gold != "Emile Zola"  # accents are kept: É is not E
    assert span_match(answer, [gold]) is expected


PIECES = [
    "Paris",
    "paris",
    "the",
    "The",
    "a",
    "an",
    "Zola",
    "Émile",
    "E\u0301mile",
    "Röntgen",
    "1969",
    "3.14",
    "42",
    "New",
    "York",
    "city",
    "naïve",
    "straße",
    "東京",
    "🙂",
    "U.S.",
    "rock'n'roll",
    "co-op",
    "São",
    "Paulo",
]
PUNCTUATION = [
    "…",
    "’",
    "‘",
    "—",
    "–",
    "“",
    "”",
    "«",
    "»",
    "•",
    "·",
    "¿",
    "¡",
    "©",
    ",",
    ".",
    "!",
    "?",
    "'",
    '"',
    "(",
    ")",
    "-",
    "/",
    "%",
    "$",
    "&",
    "#",
    "\u0301",
    "\u00a0",
    "\u2009",
    "\u200b",
    "\t",
    "\n",
]


def _random_text(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        word = rng.choice(PIECES)
        if rng.random() < 0.5:
            word = rng.choice(["", rng.choice(PUNCTUATION)]) + word + rng.choice(PUNCTUATION)
        parts.append(word)
        parts.append(rng.choice([" ", " ", "", rng.choice(PUNCTUATION)]))
    return "".join(parts)


def test_span_match_agrees_with_pyserini_has_answers():
    """Upstream's span check is pyserini's has_answers on normalised strings: ours agrees on every generated case
    whose gold keeps a token after normalisation; an empty gold matches everything there and nothing here."""
    from pyserini.eval.evaluate_dpr_retrieval import SimpleTokenizer, has_answers

    tokenizer = SimpleTokenizer()
    rng = random.Random(13)
    cases = hits = empty = 0
    for _ in range(3000):
        prediction = _random_text(rng, rng.randint(0, 8))
        tokens = prediction.split()
        if tokens and rng.random() < 0.5:  # a piece of the prediction itself, so that many cases match
            start = rng.randrange(len(tokens))
            golds = [" ".join(tokens[start : start + rng.randint(1, 3)])]
        else:
            golds = [_random_text(rng, rng.randint(0, 3)) for _ in range(rng.randint(1, 3))]
        upstream = has_answers(
            normalize_answer(prediction), [normalize_answer(g) for g in golds], tokenizer, regex=False
        )
        if any(not span_tokens(normalize_answer(g)) for g in golds):
            empty += 1
            assert upstream, (prediction, golds)
            continue
        cases += 1
        hits += upstream
        assert span_match(prediction, golds) == upstream, (prediction, golds)
    assert cases > 2000 and 0.2 < hits / cases < 0.8 and empty > 50  # both outcomes well represented


def test_judge_prompt_is_upstreams():
    [message] = judge_messages("It is Paris.", ["Paris", "City of Light"])
    assert message == {
        "role": "user",
        "content": (
            "Please check if any of the golden answers is contained in the following response: It is Paris.\n\n"
            "Golden answers: ['Paris', 'City of Light']\n\nPlease directly answer with 'yes' or 'no'."
        ),
    }


@pytest.mark.parametrize(
    "reply,verdict",
    [
        ("Yes.", True),
        ("yes, it is", True),
        ("I think YES", True),
        ("Eyes", True),  # 'yes' anywhere, as upstream
        ("No", False),
        ("no, yes", True),
        ("Not really", False),
        ("nope", False),
        ("", None),
        ("Maybe", None),
        ("Paris", None),
    ],
)
def test_parse_judge(reply, verdict):
    assert parse_judge(reply) is verdict
