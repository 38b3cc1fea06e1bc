"""The chat page, built with `create_ui` and driven through its handlers (no server)."""

from __future__ import annotations

import html
import itertools
import sqlite3

import gradio as gr
import pytest

from chatbot.answer.reply import Alert, Citation, Reply
from chatbot.config import Settings
from chatbot.serve.feedback import FeedbackStore
from chatbot.serve.ratelimit import RateLimiter
from chatbot.serve.ui import ChatPage, create_ui, messages, render_reply

QUESTION = "What are the symptoms of tarsal tunnel syndrome?"


class Recording:
    """A bot that notes the history it was given, then answers like the one it wraps."""

    def __init__(self, bot) -> None:
        self.bot, self.histories = bot, []

    def __getattr__(self, name):
        return getattr(self.bot, name)

    def stream(self, message, history=None):
        self.histories.append(list(history or []))
        yield from self.bot.stream(message, history)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings().with_(data_dir=tmp_path / "data")


@pytest.fixture
def page(fake_bot, settings) -> ChatPage:
    return ChatPage(fake_bot, settings, FeedbackStore(settings.data_dir))


def run(page: ChatPage, message: str, turns: list) -> list[tuple]:
    return list(page.respond(message, turns))


def test_create_ui_builds_the_page_without_a_server(fake_bot, settings):
    demo = create_ui(fake_bot, settings)
    assert isinstance(demo, gr.Blocks)
    config = str(demo.get_config_file())
    assert fake_bot.rules.disclaimer in config  # visible before the first message
    assert fake_bot.wording.examples and all(question in config for question in fake_bot.wording.examples)
    chats = [block for block in demo.blocks.values() if isinstance(block, gr.Chatbot)]
    assert len(chats) == 1 and chats[0].feedback_options == ("Like", "Dislike")
    states = [block for block in demo.blocks.values() if isinstance(block, gr.State)]
    assert [state.value for state in states] == [[]]


def test_respond_streams_growing_text_then_the_rendered_reply(page, fake_bot):
    outputs = run(page, QUESTION, [])
    reply = fake_bot.reply(QUESTION)
    box, shown, turns = outputs[0]
    assert box == "" and shown == [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ""}]
    growing = [shown[-1]["content"] for _, shown, _ in outputs[1:-1]]
    assert len(growing) >= 2
    assert all(len(a) < len(b) for a, b in itertools.pairwise(growing))
    assert all(reply.answer.startswith(text) for text in growing) and growing[-1] == reply.answer
    _, final, turns = outputs[-1]
    assert turns == [{"question": QUESTION, "reply": reply.to_dict()}]
    assert final[-1]["content"] == render_reply(reply.to_dict())


def test_rendered_reply_has_sources_red_flags_and_disclaimer(fake_bot):
    reply = fake_bot.reply(QUESTION)
    assert reply.citations, "the fake bot should cite something for this question"
    shown = render_reply(reply.to_dict())
    for citation in reply.citations:
        assert f"<summary>[{citation.n}] {html.escape(citation.label)}</summary>" in shown
    assert '<div class="red-flags">' in shown and all(flag in shown for flag in reply.red_flags)
    assert f'<p class="disclaimer">{reply.disclaimer}</p>' in shown
    assert shown.count(reply.disclaimer) == 1  # not once in the box and again below it


def test_quotes_and_titles_are_escaped():
    reply = Reply(
        answer="Body [1]\n\n---\n\n**See:**\n- flag\n\n_Disclaimer._", kind="answer", body="Body [1]",
        citations=[Citation(1, "a", "A <b> & C", "x < y & <script>alert(1)</script>", 0.9)],
        red_flags=["flag"], disclaimer="Disclaimer.",
    )
    shown = render_reply(reply.to_dict())
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "<summary>[1] A &lt;b&gt; &amp; C</summary>" in shown


def test_emergency_replies_lead_with_the_alert_from_its_field():
    reply = Reply(answer="ignored: the page renders the fields", kind="emergency", red_flags=["flag"],
                  disclaimer="D.", alert=Alert("emergency", "**Call now.**", ["a sign"]))
    shown = render_reply(reply.to_dict())
    assert shown.startswith('<div class="emergency" role="alert">\n\n**Call now.**')
    assert "a sign" in shown and "ignored" not in shown


def test_the_page_never_parses_the_answer_string():
    reply = Reply(answer="Just text.\n\n---\n\n**Not a footer**", kind="smalltalk", body="Just text.",
                  red_flags=["flag"], disclaimer="D.")
    shown = render_reply(reply.to_dict())
    assert shown.startswith("Just text.") and "Not a footer" not in shown and "- flag" in shown


def test_each_session_keeps_its_own_conversation(fake_bot, settings):
    bot = Recording(fake_bot)
    page = ChatPage(bot, settings, FeedbackStore(settings.data_dir))
    alice = run(page, "What is tarsal tunnel syndrome?", [])[-1][2]
    bob = run(page, "What is PTTD?", [])[-1][2]
    alice = run(page, "How is it treated?", alice)[-1][2]
    bob = run(page, "How is it treated?", bob)[-1][2]
    assert [t["question"] for t in alice] == ["What is tarsal tunnel syndrome?", "How is it treated?"]
    assert [t["question"] for t in bob] == ["What is PTTD?", "How is it treated?"]
    assert bot.histories[2][0]["content"] == "What is tarsal tunnel syndrome?"
    assert bot.histories[3][0]["content"] == "What is PTTD?"
    assert not any("tarsal" in turn["content"].lower() for turn in bot.histories[3] if turn["role"] == "user")
    assert messages(alice)[0]["content"] != messages(bob)[0]["content"]


def test_session_state_default_is_never_mutated(fake_bot, settings):
    demo = create_ui(fake_bot, settings)
    page = next(fn.fn.__self__ for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "respond")
    state = next(block for block in demo.blocks.values() if isinstance(block, gr.State))
    run(page, QUESTION, state.value)
    assert state.value == []


def test_blank_too_long_and_rate_limited_messages_do_not_reach_the_bot(fake_bot, tmp_path):
    bot = Recording(fake_bot)
    settings = Settings().with_(data_dir=tmp_path, max_message_chars=20)
    page = ChatPage(bot, settings, FeedbackStore(tmp_path), RateLimiter(per_minute=60, burst=1))
    assert run(page, "   ", []) == [("", [], [])]
    with pytest.warns(UserWarning, match="under 20 characters"):
        assert run(page, "x" * 21, []) == [("x" * 21, [], [])]  # kept in the box to shorten
    request = gr.Request(headers={"x-forwarded-for": "1.2.3.4"}, client={"host": "10.9.8.7"})
    assert len(list(page.respond("hi", [], request))) > 1
    with pytest.warns(UserWarning, match="Too many messages"):
        assert list(page.respond("again", [], request)) == [("again", [], [])]
    assert len(bot.histories) == 1


def test_history_sent_to_the_bot_is_trimmed_to_the_limits(fake_bot, tmp_path):
    settings = Settings().with_(data_dir=tmp_path, max_history_turns=4, max_history_bytes=10_000)
    page = ChatPage(fake_bot, settings, FeedbackStore(tmp_path))
    turns = [{"question": f"q{i}", "reply": {"answer": "a" * 100}} for i in range(5)]
    history = page.history(turns)
    assert len(history) == 4 and history[0] == {"role": "user", "content": "q3"}
    tight = ChatPage(fake_bot, settings.with_(max_history_bytes=250), FeedbackStore(tmp_path)).history(turns)
    assert sum(len(t["content"]) for t in tight) <= 250 and tight[-1]["content"] == "a" * 100


def test_thumbs_are_stored_with_question_and_answer(page, settings):
    turns = run(page, QUESTION, [])[-1][2]
    page.rate(turns, gr.LikeData(None, {"index": 1, "value": "...", "liked": False}))
    page.rate(turns, gr.LikeData(None, {"index": 0, "value": "...", "liked": True}))  # a user message: ignored
    with sqlite3.connect(settings.data_dir / "feedback.sqlite3") as db:
        rows = db.execute("SELECT rating, question, answer, source FROM feedback").fetchall()
    assert rows == [("down", QUESTION, turns[0]["reply"]["answer"], "page")]


def test_clear_empties_box_chat_and_state(page):
    assert page.clear() == ("", [], [])


@pytest.mark.model
def test_real_bot_reply_on_the_page_cites_the_article(bot, settings):
    page = ChatPage(bot, settings, FeedbackStore(settings.data_dir))
    _, shown, turns = run(page, QUESTION, [])[-1]
    assert turns[0]["reply"]["kind"] == "answer"
    assert "<details><summary>[1]" in shown[-1]["content"] and "Tarsal Tunnel" in shown[-1]["content"]
