"""IRCoT: interleaved retrieval and chain-of-thought. The question retrieves first; then the reasoner writes one
sentence of reasoning at a time, and each sentence that does not give the answer is the next query."""

from __future__ import annotations

import re

from s3core.config.sections import JobConfig
from s3core.data.corpus import Document, format_docs
from s3core.data.rows import ContextRow, Question, search_text
from s3core.generation import Messages
from s3core.methods import Method
from s3core.methods.agent import Trail, run_agent, trail_rows
from s3core.methods.models import reasoner
from s3core.retrieval.client import RetrieverClient

SYSTEM = (
    "Answer the question by reasoning step by step over the documents, one short sentence per step. "
    'When you know the answer, write a sentence that begins with "So the answer is:".'
)
ANSWER = re.compile(r"so the answer is", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n")


def first_sentence(text: str) -> str:
    """The text up to the end of its first sentence (or line)."""
    return SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()


class IRCoT:
    stop = ["\n"]

    def first_query(self, question: Question) -> str:
        return search_text(question)

    def messages(self, trail: Trail) -> Messages:
        user = f"Documents:\n{format_docs(trail.docs)}\n\nQuestion: {trail.question['question']}"
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def read(self, output: str) -> tuple[str, str | None]:
        sentence = first_sentence(output)
        if not sentence or ANSWER.search(sentence):
            return sentence, None
        return sentence + " ", sentence

    def observe(self, trails: list[Trail], queries: list[str], results: list[list[Document]]) -> list[str]:
        return ["" for _ in trails]  # the documents enter the prompt, not the reasoning


def run(questions: list[Question], retriever: RetrieverClient, config: JobConfig) -> list[ContextRow]:
    """Up to `max_steps` reasoning sentences; context = every retrieved document, deduplicated."""
    own = config.baselines.ircot
    trails = run_agent(
        questions,
        IRCoT(),
        reasoner(config),
        retriever.search,
        own.topk,
        own.max_steps - 1,
        own.max_new_tokens,
    )
    return trail_rows(trails, "ircot")


METHOD = Method("ircot", "IRCoT", run, section_key="baselines.ircot", uses_reasoner=True)
