#!/usr/bin/env python3
"""Drives joinme-web-server (examples/web_server.cpp) as browsers would.

Usage: test_web_server.py PATH/TO/joinme-web-server

The server runs against its in-process sandbox and prints both addresses. Simulated browsers
(one cookie jar each, redirects never followed, so that each one can be inspected) sign in
through the sandbox's consent form as different users, two of them at the same time, then:
each sees its own profile and only its own meetings; a callback carrying another browser's
state is refused as forged; form posts without or with a wrong CSRF token get 403; a started
meeting's presenter link, opened, makes the sandbox post a webhook that shows on its owner's
page only (and ending it, a second one); a meeting is deleted; signing out clears the cookie.
Last, the server is stopped with SIGTERM and must exit cleanly, and its output must hold no
secret (see check_output for what that check can and cannot prove).

Python standard library only.
"""

import html.parser
import os
import http.cookiejar
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 10  # seconds, for each HTTP request and for each wait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from refusing_proxy import RefusingProxy  # noqa: E402


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is returned to the test, as an HTTPError


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def location(self):
        return self.headers.get("Location", "")


class Page(html.parser.HTMLParser):
    """What the test reads from a page: forms (action, hidden fields), links by id, rows."""

    def __init__(self, text):
        super().__init__()
        self.forms = []  # (action, {name: value}) of every form, hidden fields included
        self.links = {}  # id -> href
        self.meetings = []  # meeting ids, from <tr id="meeting-N">
        self.events = []  # text of <li class="event">
        self._in_event = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag in ("input", "select") and self.forms and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")
        elif tag == "a" and a.get("id"):
            self.links[a["id"]] = a.get("href", "")
        elif tag == "tr" and a.get("id", "").startswith("meeting-"):
            self.meetings.append(int(a["id"][len("meeting-"):]))
        elif tag == "li" and a.get("class") == "event":
            self._in_event = True
            self.events.append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self._in_event = False

    def handle_data(self, data):
        if self._in_event:
            self.events[-1] += data

    def form(self, action):
        for act, fields in self.forms:
            if act == action:
                return fields
        raise AssertionError("no form posting to %s" % action)


class Browser:
    """One browser: its own cookie jar; redirects are not followed."""

    def __init__(self, name, server):
        self.name, self.server = name, server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def send(self, method, url, form=None, headers=None):
        if url.startswith("/"):
            url = self.server + url
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=TIMEOUT) as r:
                return Reply(r.status, r.headers, r.read().decode())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.headers, e.read().decode())

    def get(self, url):
        return self.send("GET", url)

    def post(self, url, form):
        return self.send("POST", url, form)

    def page(self):
        r = self.get("/")
        assert r.status == 200, (self.name, r.status, r.body)
        return r, Page(r.body)

    def csrf(self):
        return self.page()[1].form("/logout")["csrf"]

    def session_cookie(self):
        return [c.value for c in self.jar if c.name == "joinme_example_session"]


def start_sign_in(browser, user, sandbox):
    """From "Sign in with join.me" to the callback URL that the sandbox's consent form
    redirects to (not yet opened). Returns (callback URL, its state, its code)."""
    r = browser.get("/login")
    assert r.status == 302 and r.location.startswith(sandbox + "/"), (r.status, r.location)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"], query
    consent = browser.get(r.location)
    assert consent.status == 200, consent.body
    fields = Page(consent.body).form("/api/public/v1/auth/oauth2")
    r = browser.post(sandbox + "/api/public/v1/auth/oauth2",
                     {"pending": fields["pending"], "user": user, "decision": "accept"})
    assert r.status == 302, (r.status, r.body)
    back = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
    assert back["state"] == query["state"], "the sandbox returned another state"
    return r.location, back["state"][0], back["code"][0]


def finish_sign_in(browser, callback):
    r = browser.get(callback)
    assert r.status == 303 and r.location == "/", (browser.name, r.status, r.body)
    return r


def sign_in(browser, user, sandbox, seen):
    callback, state, code = start_sign_in(browser, user, sandbox)
    seen += [state, code]
    finish_sign_in(browser, callback)
    seen += browser.session_cookie()
    r, _ = browser.page()
    signed_in = re.search(r'<span id="email">([^<]*)</span>', r.body)
    assert signed_in, (browser.name, r.body)
    assert signed_in.group(1) == user, (
        "%s signed in as %s instead of %s: the sandbox must honour the consent form's user field"
        % (browser.name, signed_in.group(1), user))


def wait_for(what, predicate):
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def in_threads(*calls):
    """Runs the calls at the same time and re-raises the first failure."""
    errors = []

    def run(f):
        try:
            f()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(f,)) for f in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def check_output(output, seen):
    """The server's stdout and stderr hold no secret.

    What this proves: the client secret, and every code, state, session id, CSRF token and
    presenter link the test saw, appear nowhere in the output; and no run of 20 or more
    base64url characters appears at all. The sandbox's access and refresh tokens (43
    base64url characters), codes (24 alphanumerics) and presenter-link tokens, and this
    server's session ids, CSRF tokens and webhook keys (64 hex digits) are all such runs, so
    none of them was printed, although the test never sees the tokens themselves. It does not
    prove that a secret was not printed in some other encoding, or cut into short pieces.
    """
    assert "SandBox123" not in output, "the client secret was printed"
    for value in seen:
        assert value not in output, "a secret the test saw was printed: %s..." % value[:4]
    runs = re.findall(r"[A-Za-z0-9_\-]{20,}", output)
    assert not runs, "token-like strings in the output: %r" % [r[:6] + "..." for r in runs]


def main():
    program = sys.argv[1]
    # Further arguments go to the server (with_redis.py passes --redis URL).
    proc = subprocess.Popen([program, "--port", "0"] + sys.argv[2:], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        first = proc.stdout.readline()
        m = re.match(r"joinme-web-server listening on (http://127\.0\.0\.1:\d+)/$", first.strip())
        assert m, "unexpected first line: %r" % first
        server = m.group(1)
        m = re.match(r"sandbox listening on (http://[^/]+)/$", proc.stdout.readline().strip())
        assert m, "no sandbox line"
        sandbox = m.group(1)
        lines += [first]
        drain = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        drain.start()
        seen = []  # every secret value the test saw

        # Not signed in: the page offers to sign in.
        anon = Browser("anonymous", server)
        r = anon.get("/")
        assert r.status == 200 and 'href="/login"' in r.body

        # Two browsers sign in at the same time as different users.
        pro, free = Browser("pro", server), Browser("free", server)
        in_threads(lambda: sign_in(pro, "pro@example.com", sandbox, seen),
                   lambda: sign_in(free, "free@example.com", sandbox, seen))
        assert "Hardest Worker" in pro.page()[0].body
        assert "Free Rider" in free.page()[0].body and "Hardest Worker" not in free.page()[0].body
        print("ok: two browsers signed in at once as two users, each sees its profile")

        # A forged callback: the attacker's own code and state, opened in the victim's
        # browser while the victim's sign-in is in progress, is refused and says why.
        attacker, victim = Browser("attacker", server), Browser("victim", server)
        forged, state, code = start_sign_in(attacker, "admin@example.com", sandbox)
        seen += [state, code]
        victim.get("/login")  # the victim's own sign-in, with its own state
        r = victim.get(forged)
        assert r.status == 400 and "Forged callback" in r.body, (r.status, r.body)
        assert "state" in r.body
        # The refused callback signed nobody in, and did not use the attacker's code.
        assert 'href="/login"' in victim.get("/").body
        finish_sign_in(attacker, forged)
        assert "admin@example.com" in attacker.page()[0].body
        print("ok: a callback with another session's state is refused as forged")

        # Form posts without, or with a wrong, CSRF token are refused.
        form = {"name": "No token", "start": "2030-01-31T09:00:00Z", "minutes": "30"}
        r = pro.post("/meetings", form)
        assert r.status == 403 and "CSRF" in r.body, (r.status, r.body)
        r = pro.post("/meetings", dict(form, csrf=free.csrf()))  # another session's token
        assert r.status == 403, r.status
        r = pro.post("/logout", {"csrf": "0" * 64})
        assert r.status == 403, r.status
        r = anon.post("/meetings", dict(form, csrf="x"))
        assert r.status == 403, r.status
        print("ok: posts without or with a wrong CSRF token get 403")

        # Each schedules meetings (at the same time) and sees only its own.
        def schedule(browser, names):
            for name in names:
                token = browser.csrf()
                seen.append(token)
                r = browser.post("/meetings", {"csrf": token, "name": name,
                                               "start": "2030-01-31T09:00:00Z", "minutes": "45"})
                assert r.status == 303, (r.status, r.body)
                assert "Scheduled meeting" in browser.page()[0].body

        in_threads(lambda: schedule(pro, ["Pro <planning> & review", "Pro retro"]),
                   lambda: schedule(free, ["Free standup"]))
        r, page = pro.page()
        assert len(page.meetings) == 2 and "Free standup" not in r.body, r.body
        assert "Pro &lt;planning&gt; &amp; review" in r.body, "names are HTML-escaped"
        r, free_page = free.page()
        assert len(free_page.meetings) == 1 and "Pro retro" not in r.body, r.body
        print("ok: each user sees only their own meetings")

        # Start one of pro's meetings; open its presenter link; the sandbox posts the
        # meeting.start webhook to the server, which shows it on pro's page only.
        meeting = page.meetings[0]
        r = pro.post("/meetings/%d/start" % meeting, {"csrf": pro.csrf()})
        assert r.status == 303, (r.status, r.body)
        r, page = pro.page()
        link = page.links.get("presenter-link")
        assert link and link.startswith(sandbox + "/"), r.body
        seen.append(urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0])
        with urllib.request.urlopen(link, timeout=TIMEOUT) as presenter:
            assert presenter.status == 200
        started = "meeting.start, meeting %d" % meeting
        wait_for("the meeting.start webhook",
                 lambda: any(e.startswith(started) for e in pro.page()[1].events))
        assert not free.page()[1].events, "the other user sees the event"
        # Ending it (the sandbox's control, offered on the page) posts meeting.end.
        r = pro.post("/meetings/%d/end" % meeting, {"csrf": pro.csrf()})
        assert r.status == 303, r.status
        ended = "meeting.end, meeting %d" % meeting
        wait_for("the meeting.end webhook",
                 lambda: any(e.startswith(ended) for e in pro.page()[1].events))
        assert not free.page()[1].events
        # A webhook without a key the server gave out is refused.
        req = urllib.request.Request(server + "/webhooks/joinme", method="POST",
                                     data=b'{"event":"meeting.start","meetingId":1,'
                                          b'"customCallbackData":{"key":"guess"}}',
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=TIMEOUT)
            raise AssertionError("a webhook with an unknown key was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 404, e.code
        print("ok: the presenter link's meeting.start and the meeting.end webhooks show on "
              "their owner's page only")

        # Delete a meeting.
        other = [m for m in page.meetings if m != meeting][0]
        r = pro.post("/meetings/%d/delete" % other, {"csrf": pro.csrf()})
        assert r.status == 303, r.status
        r, page = pro.page()
        assert other not in page.meetings and meeting in page.meetings, page.meetings
        assert "Deleted meeting %d" % other in r.body
        print("ok: a meeting is deleted")

        # Sign out: the cookie is cleared, the old session id is worth nothing, the page asks
        # to sign in again.
        old = pro.session_cookie()
        assert old
        r = pro.post("/logout", {"csrf": pro.csrf()})
        assert r.status == 303 and "Max-Age=0" in r.headers.get("Set-Cookie", ""), r.headers
        assert not pro.session_cookie(), "the session cookie is still set"
        assert 'href="/login"' in pro.get("/").body
        r = anon.send("GET", "/", headers={"Cookie": "joinme_example_session=" + old[0]})
        assert 'href="/login"' in r.body and "Hardest Worker" not in r.body
        assert "Free Rider" in free.page()[0].body, "signing out one user signed out another"
        print("ok: signing out clears the session")

        # Clean shutdown on SIGTERM.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0, "exit status %s" % proc.returncode
        drain.join(timeout=TIMEOUT)
        print("ok: SIGTERM stops the server cleanly")

        check_output("".join(lines), seen)
        print("ok: the output holds no secret (%d lines checked, %d values seen)"
              % (len(lines), len(seen)))
    except BaseException:
        print("server output:\n" + "".join(lines), file=sys.stderr)
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def through_proxy(program):
    """Against a join.me address that is not on loopback, with https_proxy set: the code
    exchange goes to the proxy as a CONNECT with its credentials, the proxy's refusal is the
    sign-in's error page, and its password is never shown."""
    proxy = RefusingProxy()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("https_proxy", "http_proxy", "no_proxy")}
    env.update(JOINME_CLIENT_ID="proxiedapp", JOINME_CLIENT_SECRET="Cl1entSecretProxied",
               JOINME_REDIRECT_URI=f"http://127.0.0.1:{port}/callback",
               JOINME_AUTH_BASE="https://joinme.invalid", JOINME_API_BASE="https://joinme.invalid",
               https_proxy=proxy.url("alice:Pr0xyWebPassw0rd"))
    proc = subprocess.Popen([program, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        first = proc.stdout.readline().strip()
        assert first == f"joinme-web-server listening on http://127.0.0.1:{port}/", first
        browser = Browser("proxied", f"http://127.0.0.1:{port}")
        r = browser.get("/login")
        assert r.status == 302 and r.location.startswith("https://joinme.invalid/"), r.location
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)["state"][0]
        r = browser.get("/callback?" + urllib.parse.urlencode({"code": "c0de", "state": state}))
        assert r.status == 502 and "refused" in r.body and "403" in r.body, (r.status, r.body)
        assert len(proxy.requests) == 1, proxy.requests
        assert proxy.requests[0].startswith("CONNECT joinme.invalid:443 HTTP/1.1\r\n")
        assert "\r\nProxy-Authorization: Basic " in proxy.requests[0]
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=TIMEOUT)[0]
        assert "Pr0xyWebPassw0rd" not in first + out + r.body
        print("ok: through the proxy of https_proxy, with its credentials")
    finally:
        proxy.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
    through_proxy(sys.argv[1])
