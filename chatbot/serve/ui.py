"""The chat page: Gradio Blocks over the same `Chatbot` as the API.

    page = create_ui(bot, settings)      # a gr.Blocks; api.py mounts it at / with THEME and CSS

The page streams each reply, then shows it rendered from the `Reply` fields: the answer, each
cited section as a title that opens to the quoted words, the red flags in a box that stands
out, and the disclaimer. Emergency replies come in a red alert box. Thumbs up/down go to the
same feedback store as the API. Each visitor's conversation lives in their own session
state (`gr.State`); the bot itself keeps none.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator

from chatbot.config import Settings, go_offline

go_offline()  # before Gradio loads: no analytics, no update checks

import gradio as gr  # noqa: E402

from chatbot.answer.reply import Reply  # noqa: E402
from chatbot.bot import Chatbot  # noqa: E402
from chatbot.serve.feedback import FeedbackStore  # noqa: E402
from chatbot.serve.ratelimit import RateLimiter, client_id  # noqa: E402

log = logging.getLogger(__name__)
Turns = list[dict]  # [{"question": str, "reply": Reply.to_dict()}], one per exchange
Messages = list[dict[str, str]]  # what gr.Chatbot shows: [{"role", "content"}]

THEME = gr.themes.Default(primary_hue="teal", neutral_hue="slate")  # local fonts only
CSS = """
.gradio-container { max-width: 860px !important; margin: 0 auto !important; }
#notice { font-size: 0.95em; border-left: 4px solid #0f766e; padding: 0.4em 0.9em; background: #f0fdfa; }
#notice p { margin: 0.25em 0; }
/* The boxes set their own text colour (!important beats the chat's prose colour), so they
   read the same in the light and the dark theme. */
.red-flags { border: 2px solid #b45309; background: #fffbeb; border-radius: 8px; padding: 0.5em 0.9em;
             margin-top: 0.8em; }
.red-flags, .red-flags * { color: #1f2937 !important; }
.red-flags ul { margin: 0.3em 0 0.1em 0; }
.emergency { border: 3px solid #b91c1c; background: #fef2f2; border-radius: 8px; padding: 0.6em 0.9em;
             font-size: 1.08em; }
.emergency, .emergency * { color: #7f1d1d !important; }
.sources { margin-top: 0.8em; font-size: 0.92em; }
.sources details { margin: 0.2em 0; }
.sources summary { cursor: pointer; }
.sources blockquote { white-space: pre-line; margin: 0.3em 0 0.5em 0.6em; }
.disclaimer { font-size: 0.85em; font-style: italic; opacity: 0.85; margin-top: 0.8em; }
"""


def create_ui(bot: Chatbot, settings: Settings, *, feedback: FeedbackStore | None = None,
              limiter: RateLimiter | None = None) -> gr.Blocks:
    page = ChatPage(bot, settings, feedback or FeedbackStore(settings.data_dir), limiter)
    rules = bot.rules
    wording = bot.wording
    with gr.Blocks(title=f"Questions and answers: {wording.covers}", analytics_enabled=False) as demo:
        gr.Markdown(f"## Questions about {html.escape(wording.covers)}\n"
                    f"Ask a question. Answers come from {wording.source} and name the sections they use.")
        gr.Markdown(f"_{html.escape(rules.disclaimer)}_\n\n"
                    "**In an emergency, call your local emergency number now.**", elem_id="notice")
        chat = gr.Chatbot(
            label="Conversation", show_label=False, height="62vh", min_height=420, layout="bubble", elem_id="chat",
            placeholder=f"**Ask about {html.escape(wording.covers)}**, or start with one of these:",
            examples=[{"text": question} for question in wording.examples],
            feedback_options=("Like", "Dislike"), buttons=["copy"], autoscroll=True,
        )
        turns = gr.State([])
        with gr.Row():
            box = gr.Textbox(
                placeholder="Type your question…", show_label=False, scale=8, autofocus=True,
                max_length=settings.max_message_chars, submit_btn="Send",
            )
        clear = gr.Button("Clear conversation", variant="secondary", size="sm")

        private = {"api_visibility": "private"}
        box.submit(page.respond, [box, turns], [box, chat, turns], **private)
        chat.example_select(page.respond_example, [turns], [box, chat, turns], **private)
        chat.like(page.rate, [turns], None, **private)
        clear.click(page.clear, None, [box, chat, turns], **private)
        chat.clear(page.clear, None, [box, chat, turns], **private)
    # Replies are CPU-bound and take milliseconds: as many at once as the API computes, the rest queue.
    demo.queue(default_concurrency_limit=settings.reply_concurrency)
    return demo


class ChatPage:
    """The page's event handlers; `turns` is the visitor's own session state."""

    def __init__(self, bot: Chatbot, settings: Settings, feedback: FeedbackStore,
                 limiter: RateLimiter | None = None) -> None:
        self.bot, self.settings, self.feedback, self.limiter = bot, settings, feedback, limiter

    def respond(self, message: str, turns: Turns, request: gr.Request | None = None,
                ) -> Iterator[tuple[str, Messages, Turns]]:
        """Yield (textbox, chat, turns): first the question, then the answer as it grows, then
        the finished reply rendered from its fields."""
        message = message or ""
        if not message.strip():
            yield "", messages(turns), turns
            return
        if len(message) > self.settings.max_message_chars:
            gr.Warning(f"Please keep your question under {self.settings.max_message_chars} characters.")
            yield message, messages(turns), turns
            return
        if self.limiter is not None and request is not None:
            allowed, wait = self.limiter.take(client_id(
                request.headers, request.client.host if request.client else None, self.settings.trust_proxy_headers,
            ))
            if not allowed:
                gr.Warning(f"Too many messages at once. Please wait {wait} s and try again.")
                yield message, messages(turns), turns
                return
        shown = [*messages(turns), {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield "", shown, turns
        reply = None
        try:
            for item in self.bot.stream(message, self.history(turns)):
                if isinstance(item, Reply):
                    reply = item
                else:
                    # A new list each time: Gradio diffs against the value it was last given.
                    shown = [*shown[:-1], {"role": "assistant", "content": shown[-1]["content"] + item}]
                    yield "", shown, turns
        except Exception:
            log.exception("The page could not answer a message")
            raise gr.Error("Sorry, something went wrong. Please try again.") from None
        if reply is None:
            raise gr.Error("Sorry, something went wrong. Please try again.")
        turns = [*turns, {"question": message, "reply": reply.to_dict()}]
        yield "", messages(turns), turns

    def respond_example(self, turns: Turns, example: gr.SelectData, request: gr.Request,
                        ) -> Iterator[tuple[str, Messages, Turns]]:
        yield from self.respond(str(example.value.get("text", "")), turns, request)

    def rate(self, turns: Turns, like: gr.LikeData) -> None:
        """Store a thumbs up/down with the question and answer it rates."""
        index = like.index if isinstance(like.index, int) else like.index[0]
        if like.liked not in (True, False) or index % 2 == 0 or index // 2 >= len(turns):
            return  # a rating withdrawn, or not on one of our answers
        turn = turns[index // 2]
        self.feedback.add("up" if like.liked else "down", question=turn["question"],
                          answer=turn["reply"]["answer"], source="page")
        gr.Info("Thank you for your feedback.")

    def clear(self) -> tuple[str, Messages, Turns]:
        return "", [], []

    def history(self, turns: Turns) -> list[dict[str, str]]:
        """The conversation as the bot takes it, trimmed from the oldest end to the limits."""
        history: list[dict[str, str]] = []
        for turn in turns:
            history += [{"role": "user", "content": turn["question"]},
                        {"role": "assistant", "content": turn["reply"]["answer"]}]
        history = history[-self.settings.max_history_turns:] if self.settings.max_history_turns > 0 else []
        while history and sum(len(t["content"].encode("utf-8")) for t in history) > self.settings.max_history_bytes:
            history = history[1:]
        return history


def messages(turns: Turns) -> Messages:
    shown: Messages = []
    for turn in turns:
        shown += [{"role": "user", "content": turn["question"]},
                  {"role": "assistant", "content": render_reply(turn["reply"])}]
    return shown


def render_reply(reply: dict) -> str:
    """A reply as Markdown with a little HTML, from its fields: alert, body, sources, red flags, disclaimer."""
    parts = []
    alert = reply.get("alert")
    if alert:
        signs = "; ".join(alert.get("signs") or [])
        described = f"\n\nYou described: {html.escape(signs)}." if signs else ""
        parts.append(f'<div class="emergency" role="alert">\n\n{alert["message"]}{described}\n\n</div>')
    if reply.get("body"):
        parts.append(reply["body"])
    if reply["citations"]:
        sources = "".join(
            f"<details><summary>[{c['n']}] {html.escape(c.get('label') or c['section'])}</summary>"
            f"<blockquote>{html.escape(c['quote'])}</blockquote></details>"
            for c in reply["citations"]
        )
        parts.append(f'<div class="sources"><strong>From the article</strong>{sources}</div>')
    if reply.get("red_flags"):
        flags = "\n".join(f"- {html.escape(flag)}" for flag in reply["red_flags"])
        heading = html.escape(reply.get("red_flags_heading") or "See a doctor if you have:")
        parts.append(f'<div class="red-flags">\n\n**{heading}**\n{flags}\n\n</div>')
    parts.append(f'<p class="disclaimer">{html.escape(reply["disclaimer"])}</p>')
    return "\n\n".join(parts)
