"""One s3 episode (engine-free): the searcher's token trajectory, its information blocks and its turn state.

The trajectory is the prompt, then alternating searcher turns (trained tokens) and observations (masked
tokens: `<information>` search results and the corrective message after an invalid turn), as upstream builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from s3core.config.sections import SearchConfig
from s3core.data.corpus import Document
from s3core.search.actions import Action, parse_action
from s3core.search.prompt import SearcherPrompt, observation
from s3core.search.selection import InformationBlock, dedupe, selected_context

QUERY_END = "</query>"
#: How the corrective observation ends: a query opened, its JSON object begun, so the searcher's next turn only has
#: to name what to search for and close it (SmolLM2-135M, asked with the tag alone, wrote prose in most turns)
QUERY_OPENING = '<query>{"query": "'
CORRECTION = (
    "\n\nMy last turn had no valid action. The documents are not enough yet, so I write a new search query "
    "as JSON between <query> and </query>:\n" + QUERY_OPENING
)


def cut_response(text: str) -> str:
    """A turn ends at its first `</query>` (upstream's stop string)."""
    return text.split(QUERY_END, 1)[0] + QUERY_END if QUERY_END in text else text


class Episode:
    """The state of one question's search; `run_episodes` drives many of them in lock-step."""

    def __init__(
        self,
        question: Mapping[str, Any],
        initial_docs: list[Document],
        tokenizer: Any,
        search: SearchConfig,
        prompt: SearcherPrompt = SearcherPrompt(),
    ):
        self.question = question
        self.tokenizer = tokenizer
        self.search = search
        # without `begin_with_search` the searcher starts from the question alone (an empty first block)
        self.blocks = [InformationBlock(list(initial_docs) if search.begin_with_search else [])]
        messages = prompt.messages(question["question"], self.blocks[0].docs, search.max_selected)
        self.ids: list[int] = list(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        self.prompt_length = len(self.ids)
        self.action_mask: list[int] = [0] * self.prompt_length
        self.turns = self.searches = self.invalid = 0
        self.queries: list[str] = []  # what it searched for, in order
        self.done = False
        self.truncated = False
        self.corrected = False  # the latest observation is the correction, which opened a query

    def _append(self, text: str, trained: bool, limit: int | None = None) -> None:
        ids = self.tokenizer.encode(text, add_special_tokens=False)[:limit]
        self.ids.extend(ids)
        self.action_mask.extend([int(trained)] * len(ids))

    def respond(self, new_ids: list[int]) -> Action:
        """Record a searcher turn (the policy's new tokens) and return its parsed action. After a correction, a
        turn that closes the query without opening one of its own continues the query the correction opened."""
        text = cut_response(self.tokenizer.decode(new_ids, skip_special_tokens=True))
        self._append(text, trained=True)
        self.turns += 1
        continues = self.corrected and QUERY_END in text and "<query>" not in text
        self.corrected = False
        latest = self.blocks[-1]
        action = parse_action(QUERY_OPENING + text if continues else text, len(latest.docs))
        if action.important_ids is not None:
            latest.take(action.important_ids)
        return action

    def add_information(self, query: str, docs: list[Document]) -> None:
        """The result of searching `query`: a new block, shown as an observation cut to `max_obs_tokens`."""
        self.searches += 1
        self.queries.append(query)
        self.blocks.append(InformationBlock(list(docs)))
        self._append(observation(docs), trained=False, limit=self.search.max_obs_tokens)

    def add_correction(self) -> None:
        """The observation after a turn without a valid action: ask for a JSON query."""
        self.invalid += 1
        self.corrected = True
        self._append(CORRECTION, trained=False)

    def finish(self) -> None:
        self.done = True

    def check_budget(self) -> None:
        """End an episode whose context leaves no room for another turn (`max_context_tokens`)."""
        if len(self.ids) + self.search.max_new_tokens > self.search.max_context_tokens:
            self.done = self.truncated = True

    def selected_docs(self) -> list[Document]:
        """The documents the generator gets (docs/design.md §1, selected context); without `selection`, every
        document of every block (deduplicated)."""
        if not self.search.selection:
            return dedupe([doc for block in self.blocks for doc in block.docs])
        return selected_context(self.blocks)

    def transcript(self) -> str:
        """Everything after the prompt, as text (the context file's `trace`)."""
        text: str = self.tokenizer.decode(self.ids[self.prompt_length :], skip_special_tokens=False)
        return text

    def stats(self) -> dict[str, float]:
        return {
            "turns": self.turns,
            "searches": self.searches,
            "invalid": self.invalid,
            "truncated": float(self.truncated),
            "docs": len(self.selected_docs()),
            "response_tokens": sum(self.action_mask),
        }
