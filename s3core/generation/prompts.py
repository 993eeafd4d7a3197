"""The frozen generator's prompt (s3 paper and code): contexts in the system turn, the question as the user turn."""

from __future__ import annotations

from s3core.corpus import Document, format_docs
from s3core.generation import Messages

GENERATOR_SYSTEM = (
    "Use the following contexts (some might be irrelevant) on demand:\n"
    "Contexts:\n{docs}\n"
    "Important: You MUST directly answer the question without any other text and thinking."
)
DIRECT_SYSTEM = "Important: You MUST directly answer the question without any other text and thinking."
COT_SYSTEM = ("Answer the question. Think it through step by step first, then write only the final short answer "
              "between <answer> and </answer>, e.g. <answer> Paris </answer>.")


def generator_messages(question: str, docs: list[Document], style: str = "direct") -> Messages:
    """Answer-generation messages; with no documents the context block is left out (Direct inference).
    `style` "cot" asks for step-by-step reasoning and the answer in `<answer>` tags (the CoT baseline)."""
    if style == "cot":
        system = COT_SYSTEM
    else:
        system = GENERATOR_SYSTEM.format(docs=format_docs(docs)) if docs else DIRECT_SYSTEM
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]
