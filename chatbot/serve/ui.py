"""The chat page: Gradio Blocks over the same `Chatbot` as the API.

    page = create_ui(bot, settings)      # a gr.Blocks; api.py mounts it at / with THEME, CSS, HEAD

A reply is drawn from its `Reply` fields, in the order a person needs them: an alert first
(emergency or urgent, announced as an alert), notices, the answer, its sources (each a title
that opens to the quoted words), then a compact footer of red flags and the disclaimer. The
visitor's own words are shown as plain text, never as HTML or Markdown. `static/page.js`
brings each new question to the top of the view, keeps an alert's headline on screen and
announces the answer (not the whole footer) to screen readers.

The conversation is kept in the visitor's browser (`gr.BrowserState`), so a reload keeps it;
the bot itself keeps none. One public endpoint, `/chat`, serves `gradio_client`; the page's
own events are private.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator

from chatbot.config import Settings, go_offline

go_offline()  # before Gradio loads: no analytics, no update checks

import gradio as gr  # noqa: E402
from gradio.themes.utils.fonts import LocalFont  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from chatbot.bot import Chatbot  # noqa: E402
from chatbot.errors import InvalidInput  # noqa: E402
from chatbot.serve.feedback import FeedbackStore  # noqa: E402
from chatbot.serve.ratelimit import RateLimiter, client_id  # noqa: E402
from chatbot.serve.schemas import ChatRequest, check_chat  # noqa: E402
from chatbot.serve.widget import starter_questions, static_text  # noqa: E402

log = logging.getLogger(__name__)
Turns = list[dict]  # [{"question": str, "reply": Reply.to_dict()}], one per exchange
Messages = list[dict[str, str]]  # what gr.Chatbot shows: [{"role", "content"}]

# Bold comes from the bundled 700 face too: with only 400 and 600 bundled, the browser took
# bold letters from a fallback font.
THEME = gr.themes.Default(
    primary_hue="teal", neutral_hue="slate",
    font=(LocalFont("Source Sans Pro", weights=(400, 600, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
).set(  # Send in a teal dark enough for white text (AA), in both schemes
    button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
    button_primary_text_color="white", button_primary_text_color_dark="white",
)
CSS = static_text("page.css")
HEAD = f"<script>{static_text('page.js')}</script>"
STORAGE_KEY = "chatbot-page"
API_DESCRIPTION = (
    "Answer a question from the patient-education articles. `message`: the question; `history`: the "
    "conversation so far, oldest first, as [{\"role\": \"user\"|\"assistant\", \"content\": str}]. Returns the "
    "reply as JSON, the same fields as POST /api/chat: answer, body, kind, alert, citations, red_flags, "
    "notices, disclaimer."
)
_MARKDOWN_PUNCTUATION = re.compile(r"([!\"#$%'()*+,\-./:;=?@\[\\\]^_`{|}~])")


def create_ui(bot: Chatbot, settings: Settings, *, feedback: FeedbackStore | None = None,
              limiter: RateLimiter | None = None) -> gr.Blocks:
    page = ChatPage(bot, settings, feedback or FeedbackStore(settings.data_dir), limiter)
    rules = bot.rules
    wording = bot.wording
    with gr.Blocks(title=f"Questions and answers: {wording.covers}", analytics_enabled=False) as demo:
        gr.Markdown(f"# Questions about {html.escape(wording.covers)}\n"
                    f"Ask a question. Answers come from {wording.source} and name the sections they use.",
                    elem_id="intro")
        gr.Markdown(f"{html.escape(rules.disclaimer)}\n\n"
                    "**In an emergency, call your local emergency number now.**", elem_id="notice")
        chat = gr.Chatbot(
            label="Conversation", show_label=False, height="62vh", min_height=420, layout="bubble", elem_id="chat",
            placeholder=f"**Ask about {html.escape(wording.covers)}**, or start with one of these:",
            examples=[{"text": question} for question in starter_questions(wording)],
            feedback_options=("Like", "Dislike"), buttons=["copy"],
            autoscroll=False,  # page.js brings the new question to the top instead
            latex_delimiters=[], sanitize_html=True,
        )
        turns = gr.BrowserState([], storage_key=STORAGE_KEY)
        with gr.Row(elem_id="composer", equal_height=True):
            box = gr.Textbox(
                label="Your question", show_label=False, placeholder="Type your question…", scale=8, min_width=0,
                autofocus=True, max_length=settings.max_message_chars, lines=1, max_lines=6, elem_id="box",
            )
            send = gr.Button("Send", variant="primary", scale=0, min_width=84, elem_id="send")

        private = {"api_visibility": "private"}
        box.submit(page.respond, [box, turns], [box, chat, turns], **private)
        send.click(page.respond, [box, turns], [box, chat, turns], **private)
        chat.example_select(page.respond_example, [turns], [box, chat, turns], **private)
        chat.like(page.rate, [turns], None, **private)
        chat.clear(page.clear, None, [box, chat, turns], **private)
        demo.load(messages, [turns], [chat], **private)  # the conversation kept in the browser
        gr.api(page.chat_api, api_name="chat", api_description=API_DESCRIPTION)
    # Replies are CPU-bound and take milliseconds: as many at once as the API computes, the rest queue.
    demo.queue(default_concurrency_limit=settings.reply_concurrency)
    return demo


class ChatPage:
    """The page's event handlers; `turns` is the visitor's own conversation."""

    def __init__(self, bot: Chatbot, settings: Settings, feedback: FeedbackStore,
                 limiter: RateLimiter | None = None) -> None:
        self.bot, self.settings, self.feedback, self.limiter = bot, settings, feedback, limiter

    def respond(self, message: str, turns: Turns, request: gr.Request | None = None,
                ) -> Iterator[tuple[str, Messages, Turns]]:
        """Yield (textbox, chat, turns): the question, the reply's alert and answer as it is
        written out, then the whole reply with its sources and footer."""
        message, turns = message or "", turns if isinstance(turns, list) else []
        if not message.strip():
            yield "", messages(turns), turns
            return
        if len(message) > self.settings.max_message_chars:
            gr.Warning(f"Please keep your question under {self.settings.max_message_chars} characters.")
            yield message, messages(turns), turns
            return
        if not self._allowed(request):
            yield message, messages(turns), turns
            return
        shown = messages(turns)
        yield "", [*shown, user_message(message), {"role": "assistant", "content": ""}], turns
        try:
            reply = self.bot.reply(message, self.history(turns)).to_dict()
        except Exception:
            log.exception("The page could not answer a message")
            raise gr.Error("Sorry, something went wrong. Please try again.") from None
        # The answer written out line by line, the footer with the last line; an alert comes
        # whole, at once, so that it is announced once.
        lines = [] if reply.get("alert") else [line for line in re.split(r"(?<=\n)", reply.get("body") or "") if line]
        for n in range(1, len(lines)):
            partial = render_reply(reply, body="".join(lines[:n]))
            yield "", [*shown, user_message(message), {"role": "assistant", "content": partial}], turns
        turns = [*turns, {"question": message, "reply": reply}]
        yield "", messages(turns, live=True), turns

    def respond_example(self, turns: Turns, example: gr.SelectData, request: gr.Request,
                        ) -> Iterator[tuple[str, Messages, Turns]]:
        yield from self.respond(str(example.value.get("text", "")), turns, request)

    def chat_api(self, message: str, history: list[dict] | None = None,
                 request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """The reply to `message` as JSON, given the conversation so far."""
        try:
            question = ChatRequest.model_validate({"message": message, "history": history})
            check_chat(question, self.settings)
        except ValidationError as exc:
            raise gr.Error(f"invalid request: {exc.errors()[0].get('msg', 'wrong shape')}") from None
        except InvalidInput as exc:
            raise gr.Error(str(exc)) from None
        if not self._allowed(request, warn=False):
            raise gr.Error("Too many messages at once. Please wait and try again.")
        return self.bot.reply(question.message, question.history_dicts()).to_dict()

    def _allowed(self, request: gr.Request | None, warn: bool = True) -> bool:
        if self.limiter is None or request is None:
            return True
        allowed, wait = self.limiter.take(client_id(
            request.headers, request.client.host if request.client else None, self.settings.trust_proxy_headers,
        ))
        if not allowed and warn:
            gr.Warning(f"Too many messages at once. Please wait {wait} s and try again.")
        return allowed

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


def messages(turns: Turns | None, live: bool = False) -> Messages:
    """The conversation as the chat shows it; with `live`, the newest reply's alert is announced."""
    kept = [t for t in (turns if isinstance(turns, list) else [])  # what a browser kept may be damaged
            if isinstance(t, dict) and isinstance(t.get("reply"), dict)]
    shown: Messages = []
    for i, turn in enumerate(kept):
        content = render_reply(turn["reply"], live=live and i == len(kept) - 1)
        shown += [user_message(str(turn.get("question", ""))), {"role": "assistant", "content": content}]
    return shown


def user_message(text: str) -> dict[str, str]:
    return {"role": "user", "content": plain(text)}


def plain(text: str) -> str:
    """Text that Markdown shows as it is: no HTML, no emphasis, headings, lists, code or links."""
    escaped = html.escape(_MARKDOWN_PUNCTUATION.sub(r"\\\1", text), quote=False)
    # Leading spaces would make a code block; a space entity keeps them as spaces.
    return re.sub(r"(?m)^[ \t]+", lambda m: "&#32;" * len(m.group(0)), escaped)


def render_reply(reply: dict, body: str | None = None, live: bool = False) -> str:
    """A reply as HTML blocks around its Markdown body, from its fields. With `body` given, the
    reply being written out: its alert, notices and that much of the answer, no footer yet.
    With `live`, its alert has role="alert": only the reply that has just arrived is announced,
    not those in a conversation shown again.

    Each HTML block is one line: a blank line would end it, and Markdown would then read a
    quote's table or list as its own and pull what follows into it."""
    parts = []
    alert = reply.get("alert")
    if isinstance(alert, dict) and alert.get("message"):
        level = "urgent" if alert.get("level") == "urgent" else "emergency"
        signs = "; ".join(alert.get("signs") or [])
        described = f"<p>You described: {html.escape(signs)}.</p>" if signs else ""
        role = ' role="alert"' if live else ""
        parts.append(f'<div class="alert alert-{level}"{role}><p>{_emphasis(alert["message"])}</p>'
                     f"{described}</div>")
    for notice in reply.get("notices") or []:
        parts.append(f'<p class="notice">{html.escape(str(notice.get("text", "")))}</p>')
    text = reply.get("body") if body is None else body
    if text:
        parts.append(f'<div class="answer-body">\n\n{text}\n\n</div>')
    if body is not None:
        return "\n\n".join(parts)
    citations = reply.get("citations") or []
    if citations:
        several = len({c.get("article_id") or c.get("article_title") for c in citations}) > 1
        sources = "".join(_source(c, several) for c in citations)
        parts.append(f'<div class="sources"><p class="sources-title">From the article{"s" if several else ""}</p>'
                     f"{sources}</div>")
    flags = "".join(f"<li>{html.escape(str(flag))}</li>" for flag in reply.get("red_flags") or [])
    heading = html.escape(reply.get("red_flags_heading") or "See a doctor if you have:")
    footer = f'<div class="red-flags" role="note"><p>{heading}</p><ul>{flags}</ul></div>' if flags else ""
    parts.append(f'<div class="reply-footer">{footer}<p class="disclaimer">'
                 f'{html.escape(reply.get("disclaimer") or "")}</p></div>')
    return "\n\n".join(parts)


def _source(citation: dict, with_title: bool) -> str:
    label = citation.get("label") or citation.get("section") or ""
    title = citation.get("article_title") if with_title else ""
    named = f"{html.escape(label)}" + (f' <span class="article">({html.escape(title)})</span>' if title else "")
    quote = html.escape(str(citation.get("quote", ""))).replace("\n", "<br>")
    return f"<details><summary>[{citation.get('n')}] {named}</summary><blockquote>{quote}</blockquote></details>"


def _emphasis(text: str) -> str:
    """The bot's own short wording, escaped, with its **bold** kept."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
