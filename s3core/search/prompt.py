"""The searcher's prompt (s3 paper and code, structure kept, wording ours).

One user turn: the searcher's role (a search copilot working for a separate answer-generation model), the tag
protocol, a worked example of the format, then — after the fixed marker line — the question in `<question>`
tags and the initial naive-RAG documents in an `<information>` block (upstream's retrieval dump). Search results
come back as upstream's rollout renders them (`Doc k(Title: "T") text`).
"""

from __future__ import annotations

from s3core.corpus import Document, format_docs, format_observation
from s3core.generation import Messages

MARKER = "Now it is your turn. The question and the documents found by searching for it:"

PROTOCOL = """\
You are a search copilot for a separate answer-generation model. Your job is to collect the documents that \
model needs to answer a question; you never answer the question yourself. You see the question and the \
documents already retrieved for it. Each turn:
1. Optionally reason inside <think> and </think>.
2. Name the ids of the documents of the latest <information> block that help answer the question: \
<important_info>[1, 2]</important_info> (at most {max_selected} ids; [] when none helps).
3. Say whether the documents kept so far are enough for the generation model: \
<search_complete>True</search_complete> or <search_complete>False</search_complete>.
4. If they are not enough, write one new search query as JSON: <query>{"query": "..."}</query>. \
Write queries that look for what is still missing; do not repeat earlier queries.
The search results come back inside <information> and </information>.

Example of the format:
<question>Which country is the birthplace of the author of the novel "Pale Fire"?</question>
<information>Doc 1 (Title: "Pale Fire") Pale Fire is a 1962 novel by Vladimir Nabokov...
Doc 2 (Title: "Fire") Fire is the rapid oxidation of a material...</information>
<think>Doc 1 names the author; his birthplace is still missing.</think>
<important_info>[1]</important_info>
<search_complete>False</search_complete>
<query>{"query": "Vladimir Nabokov birthplace"}</query>
<information>Doc 1(Title: "Vladimir Nabokov") Vladimir Nabokov was born in Saint Petersburg, Russia...
Doc 2(Title: "Saint Petersburg") Saint Petersburg is a city in Russia...</information>
<important_info>[1]</important_info>
<search_complete>True</search_complete>
"""


def observation(docs: list[Document]) -> str:
    """A search result as the observation after a searcher turn (upstream's rollout)."""
    return f"\n\n<information>{format_observation(docs)}</information>\n\n"


def searcher_messages(question: str, initial_docs: list[Document], max_selected: int) -> Messages:
    """The searcher's conversation before its first turn; the prompt asks for at most `max_selected` ids per turn."""
    protocol = PROTOCOL.replace("{max_selected}", str(max_selected))  # the protocol's JSON braces stay as written
    body = f"{protocol}\n{MARKER}\n<question>{question}</question>\n<information>{format_docs(initial_docs)}</information>"
    return [{"role": "user", "content": body}]
