"""The frozen generator's prompts (s3 paper and code): contexts in the system turn, the question as the user turn;
one user message for single-message backends (upstream's Claude path)."""

from __future__ import annotations

from s3core.data.corpus import Document, format_docs, format_selected
from s3core.generation import Messages

ANSWER_NOW = "Important: You MUST directly answer the question without any other text and thinking."
GENERATOR_SYSTEM = (
    "Use the following contexts (some might be irrelevant) on demand:\nContexts:\n{context}\n\n" + ANSWER_NOW
)
SINGLE_MESSAGE = (
    "Use the following contexts (some might be irrelevant) on demand:\n\nContexts:\n{context}\n\n"
    "Question: {question}\n\n" + ANSWER_NOW
)
SINGLE_MESSAGE_NO_CONTEXT = ANSWER_NOW + "\n\nQuestion: {question}"
COT_SYSTEM = (
    "Answer the question. Think it through step by step first, then write only the final short answer "
    "between <answer> and </answer>, e.g. <answer> Paris </answer>."
)

#: How a method's documents are rendered for the generator: upstream's retrieval dump (naive RAG and the
#: baselines) or the s3 searcher's selected documents.
CONTEXT_FORMATS = {"rag": format_docs, "selected": format_selected}


def generator_messages(
    question: str, docs: list[Document], style: str = "direct", context_format: str = "rag", prompt_format: str = "chat"
) -> Messages:
    """Answer-generation messages; with no documents only the answer instruction is given (Direct inference).
    `style` "cot" asks for step-by-step reasoning and the answer in `<answer>` tags (the CoT baseline).
    `prompt_format` "single_user" puts everything in one user message."""
    if style == "cot":
        return _messages(COT_SYSTEM, f"{COT_SYSTEM}\n\nQuestion: {question}", question, prompt_format)
    if not docs:
        return _messages(ANSWER_NOW, SINGLE_MESSAGE_NO_CONTEXT.format(question=question), question, prompt_format)
    context = CONTEXT_FORMATS[context_format](docs)
    return _messages(
        GENERATOR_SYSTEM.format(context=context),
        SINGLE_MESSAGE.format(context=context, question=question),
        question,
        prompt_format,
    )


def _messages(system: str, single: str, question: str, prompt_format: str) -> Messages:
    """A system turn and the question as the user turn ("chat"), or the one user message ("single_user")."""
    if prompt_format == "single_user":
        return [{"role": "user", "content": single}]
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]
