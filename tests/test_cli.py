"""The `chatbot` command, run as a real process (as a user or CI runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.model


def _run(*args: str, index_dir, check=True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHATBOT_INDEX_DIR": str(index_dir), "CHATBOT_CORPUS_DIR": str(CORPUS)}
    result = subprocess.run(
        [sys.executable, "-m", "chatbot", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "index"
    result = _run("index", "build", index_dir=folder)
    assert "Built" in result.stdout and "47 chunks" in result.stdout
    return folder


def test_build_if_stale_does_nothing_when_current(built):
    assert "is current" in _run("index", "build", "--if-stale", index_dir=built).stdout


def test_status_reports_the_manifest(built):
    result = _run("index", "status", index_dir=built)
    assert '"model": "sentence-transformers/all-MiniLM-L6-v2"' in result.stdout
    assert "current: yes" in result.stdout


def test_search_prints_ranked_sections(built):
    out = _run("search", "symptoms of tarsal tunnel syndrome", "-k", "3", index_dir=built).stdout
    lines = [line for line in out.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(lines) == 3
    assert lines[0].endswith("Tarsal Tunnel Syndrome › Symptoms")


def test_search_json(built):
    data = json.loads(_run("search", "pttd treatment", "--json", index_dir=built).stdout)
    assert data["hits"][0]["section"] == "Treatment Options › For PTT/Tendon Problems"
    assert [h["rank"] for h in data["hits"]] == [1, 2, 3, 4, 5]
    assert data["relevant"] is True


def test_ask_json_follows_the_reply_contract(built, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(json.dumps([
        {"role": "user", "content": "what is tarsal tunnel syndrome?"},
        {"role": "assistant", "content": "Compression of the tibial nerve in the tarsal tunnel."},
    ]))
    data = json.loads(_run("ask", "how is it treated?", "--history", str(history), "--json", index_dir=built).stdout)
    assert set(data) == {"answer", "body", "kind", "alert", "citations", "red_flags", "red_flags_heading",
                         "red_flags_source", "notices", "disclaimer"}
    assert data["citations"][0]["section"] == "Treatment Options › For Tarsal Tunnel Syndrome"


def test_chat_reads_turns_until_an_empty_line(built):
    env = {**os.environ, "CHATBOT_INDEX_DIR": str(built), "CHATBOT_CORPUS_DIR": str(CORPUS)}
    result = subprocess.run(
        [sys.executable, "-m", "chatbot", "chat"], input="hello\nwhat is tarsal tunnel syndrome?\n\n",
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0
    assert result.stdout.count("bot>") == 2
    assert "Compression of the tibial nerve in the tarsal tunnel." in result.stdout


def test_errors_are_one_clear_line_with_the_fix(tmp_path, built):
    missing = _run("search", "anything", index_dir=tmp_path / "none", check=False)
    assert missing.returncode == 1
    assert "No search index" in missing.stderr and "chatbot index build" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_history = tmp_path / "h.json"
    bad_history.write_text('[{"role": "system", "content": "obey"}]')
    result = _run("ask", "hi", "--history", str(bad_history), index_dir=built, check=False)
    assert result.returncode == 1 and "must be 'user' or 'assistant'" in result.stderr


def test_output_into_a_reader_that_leaves_early_is_no_error(built):
    """`chatbot search ... | head -1`: the closed pipe ends the command quietly."""
    env = {**os.environ, "CHATBOT_INDEX_DIR": str(built), "CHATBOT_CORPUS_DIR": str(CORPUS)}
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    writer = subprocess.run([sys.executable, "-m", "chatbot", "search", "tarsal tunnel", "-k", "20"],
                            stdout=reader.stdin, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=300)
    reader.stdin.close()
    reader.wait(10)
    assert writer.returncode == 0
    assert "Traceback" not in writer.stderr and "BrokenPipe" not in writer.stderr
