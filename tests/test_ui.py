"""The chat page, built with `create_ui` and driven through its handlers (no server)."""

from __future__ import annotations

import html
import itertools
import re
import sqlite3

import gradio as gr
import pytest

from chatbot.answer.reply import Alert, Citation, Notice, Reply
from chatbot.config import Settings
from chatbot.serve.feedback import FeedbackStore
from chatbot.serve.ratelimit import RateLimiter
from chatbot.serve.ui import ChatPage, create_ui, messages, plain, render_reply, user_message
from chatbot.serve.widget import STARTERS, server_config

QUESTION = "What are the symptoms of tarsal tunnel syndrome?"


class Recording:
    """A bot that notes the history it was given, then answers like the one it wraps."""

    def __init__(self, bot) -> None:
        self.bot, self.histories = bot, []

    def __getattr__(self, name):
        return getattr(self.bot, name)

    def reply(self, message, history=None):
        self.histories.append(list(history or []))
        return self.bot.reply(message, history)


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
    assert fake_bot.wording.examples and all(question in config for question in fake_bot.wording.examples[:STARTERS])
    chats = [block for block in demo.blocks.values() if isinstance(block, gr.Chatbot)]
    assert len(chats) == 1 and chats[0].feedback_options == ("Like", "Dislike")
    assert len(chats[0].examples) == len(server_config(Settings(), fake_bot.wording)["starters"])  # as the widget
    states = [block for block in demo.blocks.values() if isinstance(block, gr.BrowserState)]
    assert [state.default_value for state in states] == [[]]


def test_respond_writes_the_answer_out_then_the_whole_reply(page, fake_bot):
    outputs = run(page, QUESTION, [])
    reply = fake_bot.reply(QUESTION)
    box, shown, turns = outputs[0]
    assert box == "" and shown == [user_message(QUESTION), {"role": "assistant", "content": ""}]
    growing = [shown[-1]["content"] for _, shown, _ in outputs[1:-1]]
    assert len(growing) >= 1 and all(len(a) < len(b) for a, b in itertools.pairwise(growing))
    assert all('class="disclaimer"' not in text for text in growing)  # no footer until the answer is whole
    _, final, turns = outputs[-1]
    assert turns == [{"question": QUESTION, "reply": reply.to_dict()}]
    assert final[-1]["content"] == render_reply(reply.to_dict(), live=True)


def test_rendered_reply_has_sources_red_flags_and_disclaimer(fake_bot):
    reply = fake_bot.reply(QUESTION)
    assert reply.citations, "the fake bot should cite something for this question"
    shown = render_reply(reply.to_dict())
    for citation in reply.citations:
        assert f"<summary>[{citation.n}] {html.escape(citation.label or citation.section)}</summary>" in shown
    assert '<div class="red-flags" role="note">' in shown and all(html.escape(f) in shown for f in reply.red_flags)
    assert f'<p class="disclaimer">{html.escape(reply.disclaimer)}</p>' in shown
    assert shown.count(html.escape(reply.disclaimer)) == 1
    assert shown.index(reply.body[:20]) < shown.index('class="sources"') < shown.index('class="red-flags"')


def test_html_blocks_hold_no_blank_line_so_a_quote_cannot_swallow_what_follows():
    table = "Some clues:\n\n| Symptom | Cause |\n| --- | --- |\n| a | b |"
    reply = Reply(answer="", kind="answer", body="Body [1] [2]", red_flags=["flag"], disclaimer="D.",
                  citations=[Citation(1, "a", "A", table, 0.9), Citation(2, "b", "B", "plain", 0.8)])
    blocks = render_reply(reply.to_dict()).split("\n\n")
    sources = next(b for b in blocks if b.startswith('<div class="sources">'))
    assert "\n" not in sources and sources.count("<details>") == 2 and "<br><br>| Symptom" in sources


def test_quotes_and_titles_are_escaped():
    reply = Reply(
        answer="", kind="answer", body="Body [1]",
        citations=[Citation(1, "a", "A <b> & C", "x < y & <script>alert(1)</script>", 0.9)],
        red_flags=["flag"], disclaimer="Disclaimer.",
    )
    shown = render_reply(reply.to_dict())
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "<summary>[1] A &lt;b&gt; &amp; C</summary>" in shown


def test_citations_from_several_articles_name_the_article():
    cite = lambda n, article: Citation(n, f"c{n}", "S", "q", 0.9, label=f"Part {n}",  # noqa: E731
                                       article_id=article, article_title=f"Title {article}")
    one = render_reply(Reply(answer="", kind="answer", citations=[cite(1, "x"), cite(2, "x")]).to_dict())
    two = render_reply(Reply(answer="", kind="answer", citations=[cite(1, "x"), cite(2, "y")]).to_dict())
    assert "Title x" not in one and "[1] Part 1" in one
    assert "[1] Part 1 <span class=\"article\">(Title x)</span>" in two and "(Title y)" in two


def test_alerts_come_first_and_only_the_new_one_is_announced():
    for level in ("emergency", "urgent"):
        reply = Reply(answer="ignored: the page renders the fields", kind=level, red_flags=["flag"], disclaimer="D.",
                      alert=Alert(level, "**Call now.** Soon.", ["a <sign>"]), body="Body.",
                      notices=[Notice("not_covered", "Not in the article.")])
        live = render_reply(reply.to_dict(), live=True)
        assert live.startswith(f'<div class="alert alert-{level}" role="alert"><p><strong>Call now.</strong> Soon.')
        assert "a &lt;sign&gt;" in live and "ignored" not in live
        assert live.index("alert") < live.index('class="notice"') < live.index("Body.") < live.index("red-flags")
        assert 'role="alert"' not in render_reply(reply.to_dict())  # shown again: not announced again


def test_the_page_never_parses_the_answer_string():
    reply = Reply(answer="Just text.\n\n---\n\n**Not a footer**", kind="smalltalk", body="Just text.",
                  red_flags=["flag"], disclaimer="D.")
    shown = render_reply(reply.to_dict())
    assert shown.startswith('<div class="answer-body">\n\nJust text.') and "Not a footer" not in shown
    assert "<li>flag</li>" in shown


def test_the_users_words_are_escaped_for_markdown_and_html():
    text = "<b>x</b> **y** # h\n    code `c` [l](http://e.x) 1. $m$ a_b_"
    shown = plain(text)
    assert "<" not in shown and "&lt;b&gt;" in shown
    assert re.search(r"(?<!\\)[*_`#\[\]$]", re.sub(r"&#?\w+;", "", shown)) is None  # every Markdown sign escaped
    assert "\n&#32;&#32;&#32;&#32;code" in shown


def test_a_damaged_kept_conversation_is_skipped():
    good = {"question": "q", "reply": Reply(answer="a", kind="smalltalk", body="a", disclaimer="D.").to_dict()}
    assert messages(None) == [] and messages("junk") == []
    assert len(messages([good, {"question": "x"}, 7, None])) == 2


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
    state = next(block for block in demo.blocks.values() if isinstance(block, gr.BrowserState))
    run(page, QUESTION, state.default_value)
    assert state.default_value == []


def test_blank_too_long_and_rate_limited_messages_do_not_reach_the_bot(fake_bot, tmp_path):
    bot = Recording(fake_bot)
    settings = Settings().with_(data_dir=tmp_path, max_message_chars=20)
    page = ChatPage(bot, settings, FeedbackStore(tmp_path), RateLimiter(per_minute=60, burst=1))
    assert run(page, "   ", []) == [("", [], [])]
    with pytest.warns(UserWarning, match="under 20 characters"):
        assert run(page, "x" * 21, []) == [("x" * 21, [], [])]  # kept in the box to shorten
    request = gr.Request(headers={"x-forwarded-for": "1.2.3.4"}, client={"host": "10.9.8.7"})
    assert len(bot.histories) == 0
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


def test_the_chat_endpoint_answers_and_checks_its_input(page, fake_bot):
    reply = page.chat_api(QUESTION, None)
    assert reply == fake_bot.reply(QUESTION).to_dict()
    follow = page.chat_api("How is it treated?", [{"role": "user", "content": QUESTION},
                                                  {"role": "assistant", "content": reply["answer"]}])
    assert follow["disclaimer"]
    for message, history, error in [("  ", None, "empty"), ("x" * 3000, None, "limit"),
                                    ("hi", [{"role": "robot", "content": "x"}], "invalid request"),
                                    ("hi", "not a list", "invalid request")]:
        with pytest.raises(gr.Error, match=error):
            page.chat_api(message, history)


@pytest.mark.server
def test_gradio_client_finds_one_public_chat_endpoint_and_gets_the_reply(fake_bot, settings):
    """A developer's client: `view_api()` lists /chat only (the page's own events stay private),
    and `predict()` gets the reply's fields."""
    from gradio_client import Client

    from chatbot.serve.api import create_app
    from tests.e2e_support import serve

    with serve(create_app(fake_bot, settings)) as url:
        client = Client(url + "/", verbose=False, download_files=False)
        endpoints = client.view_api(print_info=False, return_format="dict")
        assert list(endpoints["named_endpoints"]) == ["/chat"] and endpoints["unnamed_endpoints"] == {}
        assert [p["parameter_name"] for p in endpoints["named_endpoints"]["/chat"]["parameters"]] == [
            "message", "history"]
        reply = client.predict(QUESTION, api_name="/chat")
        assert reply["kind"] == "answer" and reply["citations"] and reply["red_flags"] and reply["disclaimer"]
        assert reply == fake_bot.reply(QUESTION).to_dict()
        emergency = client.predict("i fell and the bone is sticking out of my ankle", [], api_name="/chat")
        assert emergency["alert"]["level"] == "emergency"
