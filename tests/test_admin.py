"""The admin area: sign-in, sessions, CSRF, the limits, and every route refusing without a session."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from chatbot.config import Settings
from chatbot.serve.admin.auth import Sessions, hash_secret, verify_secret
from chatbot.serve.api import create_app

SECRET = "a long clinic admin secret"
SECRET_HASH = hash_secret(SECRET)
PAGES = ["/admin", "/admin/unanswered", "/admin/feedback", "/admin/per-day", "/admin/sections", "/admin/signs",
         "/admin/pins"]
DATA = ["/admin/report.json", *(f"/admin/export/{n}.{f}" for n in ("feedback", "replies", "unanswered")
                                for f in ("csv", "json"))]
CHANGES = ["/admin/sign-out", "/admin/pins", "/admin/pins/1/delete"]


def make_client(bot, tmp_path, base_url: str = "http://testserver", **changes) -> TestClient:
    settings = Settings().with_(data_dir=tmp_path / "data", rate_limit_per_minute=0, admin_secret_hash=SECRET_HASH,
                                **changes)
    return TestClient(create_app(bot, settings), base_url=base_url, follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, secret: str = SECRET):
    token = csrf_of(client.get("/admin/sign-in").text)
    return client.post("/admin/sign-in", data={"csrf": token, "secret": secret})


@pytest.fixture
def client(fake_bot, tmp_path):
    return make_client(fake_bot, tmp_path)


@pytest.fixture
def admin(client):
    assert sign_in(client).status_code == 303
    return client


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app for the tests that only read or are refused (building an app takes a while)."""
    from chatbot.bot import Chatbot
    from chatbot.knowledge.corpus import load_corpus
    from chatbot.search.indexing import build_index
    from tests.conftest import CORPUS
    from tests.fakes import HashingEmbedder

    embedder = HashingEmbedder()
    bot = Chatbot(build_index(load_corpus(CORPUS), embedder), embedder)
    return make_client(bot, tmp_path_factory.mktemp("admin"))


@pytest.fixture(scope="module")
def shared_admin(tmp_path_factory, shared):
    signed_in = TestClient(shared.app, follow_redirects=False)
    assert sign_in(signed_in).status_code == 303
    return signed_in


# --- every route refuses without a session ----------------------------------------------------
def test_the_lists_below_name_every_admin_route(client):
    assert admin_routes(client.app) == {
        ("GET", "/admin/sign-in"), ("POST", "/admin/sign-in"), *(("GET", p) for p in PAGES),
        ("GET", "/admin/report.json"), ("GET", "/admin/export/{name}.{fmt}"),
        ("POST", "/admin/sign-out"), ("POST", "/admin/pins"), ("POST", "/admin/pins/{pin_id}/delete")}


def admin_routes(app) -> set[tuple[str, str]]:
    every = [*app.routes, *(r for included in app.routes
                            for r in getattr(getattr(included, "original_router", None), "routes", []))]
    return {(m, r.path) for r in every if isinstance(r, APIRoute) and r.path.startswith("/admin") for m in r.methods}


def test_every_admin_route_but_sign_in_refuses_without_a_session(shared):
    """Found from the app itself, so a route added later is covered without being listed."""
    filled = {"{name}": "feedback", "{fmt}": "csv", "{pin_id}": "1"}
    for method, path in sorted(admin_routes(shared.app)):
        if path == "/admin/sign-in":
            continue
        for name, value in filled.items():
            path = path.replace(name, value)
        for query in ("", "?page=2", "?page=abc"):
            response = shared.request(method, path + query, data={"csrf": "x"} if method == "POST" else None)
            assert response.status_code in (303, 401), (method, path + query, response.status_code)
            assert "no-store" in response.headers["cache-control"]
            if response.status_code == 303:
                assert response.headers["location"] == "/admin/sign-in"


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_sends_you_to_sign_in(shared, path):
    response = shared.get(path + "?page=2")
    assert response.status_code == 303 and response.headers["location"] == "/admin/sign-in"
    assert "no-store" in response.headers["cache-control"]


@pytest.mark.parametrize("path", DATA)
def test_data_without_a_session_is_401(shared, path):
    response = shared.get(path)
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_signed_in"


@pytest.mark.parametrize("path", CHANGES)
def test_a_change_without_a_session_sends_you_to_sign_in_and_changes_nothing(shared, path):
    response = shared.post(path, data={"csrf": "x", "label": "x", "keys": "r1", "section": "x"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/sign-in"


@pytest.mark.parametrize("cookie", ["", "garbage", "9999999999.abc.def", "1.abc." + "0" * 64])
@pytest.mark.parametrize("path", [*PAGES, *DATA])
def test_a_forged_or_expired_cookie_is_no_session(shared, path, cookie):
    client = TestClient(shared.app, follow_redirects=False)
    client.cookies.set("chatbot_admin", cookie, path="/admin")
    assert client.get(path).status_code in (303, 401)


def test_an_expired_session_is_refused():
    sessions = Sessions(b"k" * 32, lifetime=60, clock=lambda: 1000.0)
    token = sessions.issue()
    assert sessions.check(token) is not None
    sessions.clock = lambda: 1061.0
    assert sessions.check(token) is None
    assert Sessions(b"j" * 32).check(token) is None  # another key: not ours


@pytest.mark.parametrize("path", ["/admin", "/admin/sign-in", "/admin/report.json", "/admin/export/feedback.csv"])
def test_with_no_secret_configured_the_admin_area_does_not_exist(fake_bot, tmp_path, path):
    settings = Settings().with_(data_dir=tmp_path / "data", rate_limit_per_minute=0)
    client = TestClient(create_app(fake_bot, settings), follow_redirects=False)
    assert client.get(path).status_code == 404
    assert client.post(path, data={"secret": SECRET}).status_code == 404


# --- signing in -------------------------------------------------------------------------------
def test_the_right_secret_gives_a_strict_httponly_session_cookie(client):
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("chatbot_admin="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here, so a Secure cookie would never come back
    assert client.get("/admin").status_code == 200


def test_over_https_the_cookie_is_secure(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, base_url="https://clinic.example")
    cookie = next(c for c in sign_in(client).headers.get_list("set-cookie") if c.startswith("chatbot_admin="))
    assert "Secure" in cookie


def test_behind_a_trusted_https_proxy_the_cookie_is_secure(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, trust_proxy_headers=True)
    client.headers["X-Forwarded-Proto"] = "https"
    assert "Secure" in sign_in(client).headers["set-cookie"]


@pytest.mark.parametrize("secret", ["", "a long clinic admin secreT", SECRET + " ", "x" * 5000])
def test_a_wrong_secret_is_refused_and_gives_no_session(client, secret):
    response = sign_in(client, secret)
    assert response.status_code == 401 and "not right" in response.text
    assert "chatbot_admin=" not in response.headers.get("set-cookie", "").replace("chatbot_admin_sign_in=", "")
    assert client.get("/admin").status_code == 303


def test_sign_in_without_its_csrf_token_is_refused(client):
    client.get("/admin/sign-in")
    assert client.post("/admin/sign-in", data={"secret": SECRET}).status_code == 403
    assert client.post("/admin/sign-in", data={"secret": SECRET, "csrf": "0" * 64}).status_code == 403
    fresh = TestClient(client.app, follow_redirects=False)  # the token without the cookie it belongs to
    token = csrf_of(client.get("/admin/sign-in").text)
    assert fresh.post("/admin/sign-in", data={"secret": SECRET, "csrf": token}).status_code == 403


def test_brute_force_hits_the_limit_even_with_the_right_secret_at_the_end(client):
    statuses = [sign_in(client, f"guess number {n}").status_code for n in range(5)]
    last = sign_in(client)
    assert statuses == [401] * 5
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1 and "Too many" in last.text
    assert client.get("/admin").status_code == 303


def test_the_limit_counts_all_clients_together_too(fake_bot, tmp_path):
    client = make_client(fake_bot, tmp_path, trust_proxy_headers=True)
    statuses = []
    for n in range(14):  # each from another address: the per-client limit never bites
        client.headers["X-Forwarded-For"] = f"198.51.100.{n}"
        statuses.append(sign_in(client, f"guess number {n}").status_code)
    assert statuses[:10] == [401] * 10 and 429 in statuses[10:]


def test_the_secret_is_checked_in_constant_time_against_a_salted_hash():
    assert SECRET not in SECRET_HASH and SECRET_HASH.startswith("scrypt$16384$8$1$")
    assert hash_secret(SECRET) != SECRET_HASH  # salted
    assert verify_secret(SECRET, SECRET_HASH) and not verify_secret(SECRET[:-1], SECRET_HASH)


def test_a_malformed_hash_setting_is_a_clear_error(fake_bot, tmp_path):
    from chatbot.errors import ChatbotError

    with pytest.raises(ChatbotError, match="chatbot admin hash-secret"):
        create_app(fake_bot, Settings().with_(data_dir=tmp_path, admin_secret_hash="plaintext-secret"))


# --- changes need the session's CSRF token ------------------------------------------------------
@pytest.mark.parametrize("token", [None, "", "0" * 64])
@pytest.mark.parametrize("path", CHANGES)
def test_a_change_without_the_right_csrf_token_is_refused(shared_admin, path, token, fake_bot):
    admin = shared_admin
    section = fake_bot.index.chunks[0].id
    data = {"label": "x", "keys": "r1", "section": section, **({"csrf": token} if token is not None else {})}
    response = admin.post(path, data=data)
    assert response.status_code == 403
    assert admin.get("/admin").status_code == 200  # still signed in: sign-out did not happen
    assert admin.get("/admin/report.json").json()["pins"] == []


def test_a_change_posted_from_another_site_is_refused(admin):
    token = csrf_of(admin.get("/admin").text)
    response = admin.post("/admin/sign-out", data={"csrf": token}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert admin.post("/admin/sign-out", data={"csrf": token}, headers={"Origin": "http://testserver"}
                      ).status_code == 303


def test_a_csrf_token_from_another_session_is_refused(fake_bot, tmp_path):
    one, two = make_client(fake_bot, tmp_path), make_client(fake_bot, tmp_path)
    sign_in(one), sign_in(two)
    token = csrf_of(one.get("/admin").text)
    assert two.post("/admin/sign-out", data={"csrf": token}).status_code == 403


def test_signing_out_ends_the_session_in_the_browser(admin):
    token = csrf_of(admin.get("/admin").text)
    response = admin.post("/admin/sign-out", data={"csrf": token})
    assert response.status_code == 303 and 'chatbot_admin=""' in response.headers["set-cookie"]
    assert admin.get("/admin").status_code == 303


# --- what it shows --------------------------------------------------------------------------------
def chat(client: TestClient, message: str) -> str:
    response = client.post("/api/chat", json={"message": message})
    assert response.status_code == 200
    return response.headers["x-message-id"]


def test_the_page_shows_groups_feedback_and_counts_and_exports_them(admin):
    for message in ("how do I fix my car engine", "how do I fix my car engine fast", "how do I fix my car engine today",
                    "what is the weather today"):
        chat(admin, message)
    answered = chat(admin, "What is tarsal tunnel syndrome?")
    assert admin.post("/api/feedback", json={"message_id": answered, "rating": "down", "comment": "=HYPERLINK(1)"}
                      ).status_code == 201
    time.sleep(0.5)  # replies are written in the background, in batches
    report = admin.get("/admin/report.json").json()
    assert report["totals"]["replies"] == 5 and report["totals"]["rated_down"] == 1
    sizes = [g["size"] for g in report["groups"]]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == 5
    car = report["groups"][0]
    assert car["size"] == 3 and all("car" in q for q in car["questions"])
    assert car["reasons"] == {"declined as off-topic": 3} and car["suggested"]
    overview = admin.get("/admin").text
    assert "fix my car engine" in overview and "All 3 groups" in overview
    page = admin.get("/admin/feedback").text
    assert "=HYPERLINK(1)" in page and "Not helpful" in page
    assert "fix my car engine" in admin.get("/admin/unanswered").text
    rows = list(csv.DictReader(io.StringIO(admin.get("/admin/export/feedback.csv").text)))
    assert rows[0]["comment"] == "'=HYPERLINK(1)" and rows[0]["question"] == "What is tarsal tunnel syndrome?"
    assert rows[0]["sections"]  # the cited sections, by label
    unanswered = admin.get("/admin/export/unanswered.json").json()
    assert {r["question"] for r in unanswered if r["group"] == 1} == set(car["questions"])
    replies = admin.get("/admin/export/replies.json")
    assert replies.headers["content-disposition"] == 'attachment; filename="replies.json"'
    assert len(replies.json()) == 5
    assert admin.get("/admin/export/secrets.csv").status_code == 404


def test_a_pin_answers_later_questions_from_its_sections_and_says_when_they_are_gone(admin, fake_bot):
    from chatbot.store.pins import StoredPins

    questions = ["how do I repair my bicycle chain", "how do I repair my bicycle chain at home",
                 "repair my bicycle chain how"]
    for q in questions:
        chat(admin, q)
    time.sleep(0.5)
    report = admin.get("/admin/report.json").json()
    group = next(g for g in report["groups"] if "bicycle" in g["title"])
    assert group["size"] == 3
    section = fake_bot.index.chunks[3]
    store = admin.app.state.store
    fake_bot.pins = StoredPins(store, fake_bot.retriever.embedder.model_id)
    try:
        before = admin.post("/api/chat", json={"message": "how do I repair my bicycle chain again"}).json()
        token = csrf_of(admin.get("/admin").text)
        response = admin.post("/admin/pins", data={"csrf": token, "label": "Bicycles", "keys": ",".join(group["keys"]),
                                                   "section": [section.id]})
        assert response.status_code == 303 and response.headers["location"] == "/admin/pins?done=pinned"
        assert "The pin is saved." in admin.get(response.headers["location"]).text
        after = admin.post("/api/chat", json={"message": "how do I repair my bicycle chain again"}).json()
        assert before["kind"] == "out_of_scope"
        assert after["kind"] == "answer" and [c["id"] for c in after["citations"]] == [section.id]
        assert after["red_flags"] and after["disclaimer"]
        emergency = admin.post("/api/chat", json={
            "message": "how do I repair my bicycle chain, my foot went cold and numb and turned blue"}).json()
        assert emergency["kind"] == "emergency"  # triage first, whatever is pinned
        [pin] = admin.get("/admin/report.json").json()["pins"]
        assert pin["label"] == "Bicycles" and pin["gone"] == [] and pin["active"]
        store.add_pin("Old", ["medial-malleolus-pain/a-section-that-was-removed"], [1.0] + [0.0] * 63,
                      fake_bot.retriever.embedder.model_id, 0.75, 2)
        page = admin.get("/admin/pins").text
        assert "Gone from the articles: medial-malleolus-pain/a-section-that-was-removed" in page
        old = next(p for p in admin.get("/admin/report.json").json()["pins"] if p["label"] == "Old")
        assert not old["active"]
        token = csrf_of(page)
        assert admin.post(f"/admin/pins/{pin['id']}/delete", data={"csrf": token}).status_code == 303
        assert admin.post("/api/chat", json={"message": "how do I repair my bicycle chain again"}).json()["kind"] == \
            "out_of_scope"
    finally:
        fake_bot.pins = None


def test_a_pin_needs_a_name_and_known_sections(admin, fake_bot):
    chat(admin, "how do I fix my car engine")
    time.sleep(0.5)
    keys = admin.get("/admin/report.json").json()["groups"][0]["keys"]
    token = csrf_of(admin.get("/admin").text)
    for data in ({"label": "", "section": [fake_bot.index.chunks[0].id]}, {"label": "x"},
                 {"label": "x", "section": ["no/such/section"]}):
        response = admin.post("/admin/pins", data={"csrf": token, "keys": ",".join(keys), **data})
        assert response.status_code == 422 and "The pin was not saved" in response.text
    assert admin.get("/admin/report.json").json()["pins"] == []


def test_the_page_has_the_basics_of_an_accessible_phone_page(admin):
    chat(admin, "how do I fix my car engine")
    time.sleep(0.5)
    for html in [admin.get(path).text for path in PAGES] + [admin.get("/admin/sign-in").text]:
        assert '<html lang="en">' in html and 'name="viewport"' in html and html.count("<h1") == 1
        ids = set(re.findall(r'<label for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select)\b[^>]*>", html):
            if 'type="hidden"' in tag or 'type="checkbox"' in tag:
                continue
            assert re.search(r'id="([^"]+)"', tag).group(1) in ids, tag
        assert all('scope="' in th for th in re.findall(r"<th\b[^>]*>", html))
        assert "min-height: 44px" in html  # touch targets
