"""The searcher's prompt (s3 paper and code, structure kept, wording ours).

One user turn: the searcher's role (a search copilot working for a separate answer-generation model), the tag
protocol, an example of the format with placeholders, then — after the fixed marker line — the question in
`<question>` tags and the initial naive-RAG documents in an `<information>` block (upstream's retrieval dump).
Search results come back as upstream's rollout renders them (`Doc k(Title: "T") text`). The example has no
real question: small models copy a concrete one word for word (SmolLM2-135M sent a worked example's query,
"Vladimir Nabokov birthplace", in most of its searches).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s3core.data.corpus import Document, format_docs, format_observation
from s3core.errors import DataError
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

Example of the format (words in [brackets] stand for your own):
<question>[the question]</question>
<information>Doc 1 (Title: "[a title]") [a document]
Doc 2 (Title: "[a title]") [a document]</information>
<think>[what the documents say, and what is still missing]</think>
<important_info>[1]</important_info>
<search_complete>False</search_complete>
<query>{"query": "[a few words for what is still missing]"}</query>
<information>Doc 1 (Title: "[a title]") [a document]
Doc 2 (Title: "[a title]") [a document]</information>
<important_info>[1]</important_info>
<search_complete>True</search_complete>
"""


def observation(docs: list[Document]) -> str:
    """A search result as the observation after a searcher turn (upstream's rollout)."""
    return f"\n\n<information>{format_observation(docs)}</information>\n\n"


@dataclass(frozen=True)
class SearcherPrompt:
    """The searcher's first message: ours, or the text a checkpoint was trained with (`searcher.prompt_file`), in
    which `{question}` and `{initial_docs}` (the naive-RAG documents, upstream's retrieval dump) are filled in."""

    template: str | None = None

    def messages(self, question: str, initial_docs: list[Document], max_selected: int) -> Messages:
        """The conversation before the first turn; our prompt asks for at most `max_selected` ids per turn."""
        if self.template is not None:
            body = self.template.replace("{question}", question).replace("{initial_docs}", format_docs(initial_docs))
        else:
            protocol = PROTOCOL.replace("{max_selected}", str(max_selected))  # its JSON braces stay as written
            body = (
                f"{protocol}\n{MARKER}\n<question>{question}</question>\n"
                f"<information>{format_docs(initial_docs)}</information>"
            )
        return [{"role": "user", "content": body}]


def load_prompt(path: str | None) -> SearcherPrompt:
    """Our prompt (no file), or a checkpoint's own from `path`, which must hold both placeholders."""
    if path is None:
        return SearcherPrompt()
    try:
        template = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"searcher.prompt_file: cannot read {path} ({exc.strerror})") from exc
    missing = [p for p in ("{question}", "{initial_docs}") if p not in template]
    if missing:
        raise DataError(
            f"searcher.prompt_file {path}: no {' or '.join(missing)} in it; mark where the question and "
            "the initial documents go"
        )
    return SearcherPrompt(template)
