#!/usr/bin/env python3
# Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
"""End-to-end test of the joinme command-line program against a joinme-sandbox process.

usage: test_cli.py JOINME JOINME_SANDBOX

Starts joinme-sandbox over TLS (trusting the certificate it writes with --ca-out), logs in
with `joinme login` completed by a scripted browser that follows the consent form, runs every
command with --json and checks the answers, checks the token file's mode, that a second process
reuses the cached token, that two processes hit by an expired token refresh it once, logout,
usage errors, the decline path, the proxy variables of the environment, and that no token or
client secret ever appears in what joinme printed. Python 3 standard library only.
"""

import html.parser
import http.client
import json
import os
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from refusing_proxy import RefusingProxy  # noqa: E402

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_NOT_LOGGED_IN, EXIT_NETWORK, EXIT_LOGIN = 0, 1, 2, 3, 4, 5

# A client of our own, with a distinctive secret, and the sandbox's Business client for the
# presenters (its secret is the sandbox's well-known default).
CLIENT_ID = "clitestclient00000000001"
CLIENT_SECRET = "CliS3cret9"
BUSINESS_ID = "joinmesandboxbusiness001"
BUSINESS_SECRET = "SandBox123"


class Sandbox:
    def __init__(self, program, workdir):
        self.ca = os.path.join(workdir, "ca.pem")
        self.proc = subprocess.Popen(
            [program, "--port", "0", "--ca-out", self.ca, "--current-user", "admin@example.com",
             "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
             "--redirect-uri", "http://127.0.0.1/callback"],
            stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().strip()
        prefix = "joinme-sandbox listening on "
        if not first.startswith(prefix):
            sys.exit(f"unexpected first line from joinme-sandbox: {first!r}")
        self.base = first[len(prefix):]
        u = urllib.parse.urlsplit(self.base)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.log = []
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self):
        for line in self.proc.stdout:
            self.log.append(line.split())

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def token_requests(self):
        """(token requests, refresh requests) so far, from GET /sandbox/counters, or from the
        request log when this sandbox does not serve it (then every token request counts as
        a possible refresh)."""
        r, data = self.request("GET", "/sandbox/counters")
        if r.status == 200:
            c = json.loads(data)
            per_endpoint = c.get("requests")
            if isinstance(per_endpoint, dict) and "token" in per_endpoint:
                return per_endpoint["token"], c["refresh_requests"]
            # Code exchanges that issued a token, and every refresh request.
            return c["tokens_issued_authorization_code"] + c["refresh_requests"], c["refresh_requests"]
        time.sleep(0.2)  # the log line is written after the answer
        n = sum(1 for f in self.log if len(f) >= 2 and f[0] == "POST" and f[1].endswith("/auth/token"))
        return n, n

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class ConsentForm(html.parser.HTMLParser):
    """The consent page's form: its action, hidden fields and the user <select>'s options."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.users, self.selected = None, {}, [], None
        self._in_select = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name") == "user":
            self._in_select = True
        elif tag == "option" and self._in_select:
            self.users.append(a.get("value"))
            if "selected" in a:
                self.selected = a.get("value")

    def handle_endtag(self, tag):
        if tag == "select":
            self._in_select = False


class Test:
    def __init__(self, joinme, sandbox_program):
        self.joinme = joinme
        self.tmp = tempfile.TemporaryDirectory()
        self.sandbox = Sandbox(sandbox_program, self.tmp.name)
        self.printed = []  # everything joinme wrote, for the secrets check
        self.secrets = {CLIENT_SECRET, BUSINESS_SECRET}
        self.env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        self.env.update(XDG_CONFIG_HOME=os.path.join(self.tmp.name, "config"),
                        JOINME_CLIENT_ID=CLIENT_ID, JOINME_CLIENT_SECRET=CLIENT_SECRET)
        self.token_file = os.path.join(self.tmp.name, "config", "joinme", "token.json")

    def args(self, *a):
        return [self.joinme, "--auth-base", self.sandbox.base, "--ca-file", self.sandbox.ca, *a]

    def run(self, *a, expect=EXIT_OK, env=None):
        p = subprocess.run(self.args(*a), capture_output=True, text=True, timeout=30,
                           env=env or self.env)
        self.printed += [p.stdout, p.stderr]
        if p.returncode != expect:
            sys.exit(f"joinme {' '.join(a)}: exit {p.returncode}, expected {expect}\n"
                     f"stdout: {p.stdout}\nstderr: {p.stderr}")
        if expect != EXIT_OK:
            lines = p.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("joinme: "), p.stderr
        return p

    def run_json(self, *a, env=None):
        return json.loads(self.run("--json", *a, env=env).stdout)

    def remember_tokens(self):
        with open(self.token_file) as f:
            for entry in json.load(f)["users"].values():
                for k in ("access_token", "refresh_token"):
                    if entry["token"].get(k):
                        self.secrets.add(entry["token"][k])

    def login(self, *extra, user=None, decision="accept", env=None, expect=EXIT_OK):
        """`joinme login`, completed by a scripted browser: GET the URL joinme prints, read the
        consent form, POST the decision (choosing `user` when the form offers a choice), and
        deliver the redirect to joinme's loopback listener."""
        proc = subprocess.Popen(self.args("--json", "login", "--timeout", "20", *extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env or self.env)
        prefix = "Open this URL in a browser: "
        line = proc.stderr.readline()
        assert line.startswith(prefix), line
        url = urllib.parse.urlsplit(line[len(prefix):].strip())
        assert url.netloc == f"{self.sandbox.host}:{self.sandbox.port}", url
        r, page = self.sandbox.request("GET", f"{url.path}?{url.query}")
        assert r.status == 200, (r.status, page)
        form = ConsentForm()
        form.feed(page.decode())
        assert form.action and "pending" in form.fields, page
        fields = dict(form.fields, decision=decision)
        if form.users:
            assert user is None or user in form.users, (user, form.users)
            fields["user"] = user or form.selected or form.users[0]
        r, _ = self.sandbox.request("POST", form.action, urllib.parse.urlencode(fields),
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 302, r.status
        back = urllib.parse.urlsplit(r.getheader("Location"))
        assert back.hostname == "127.0.0.1", back
        c = http.client.HTTPConnection(back.hostname, back.port, timeout=10)
        if back.fragment:  # implicit grant: what the listener's relay page script does
            c.request("POST", back.path, back.fragment, {"Content-Type": "text/plain"})
        else:
            c.request("GET", f"{back.path}?{back.query}")
        page = c.getresponse().read().decode()
        c.close()
        out, err = proc.communicate(timeout=20)
        self.printed += [line, page, out, err]
        if proc.returncode != expect:
            sys.exit(f"login: exit {proc.returncode}, expected {expect}\n{out}\n{err}")
        return json.loads(out) if expect == EXIT_OK else err

    def main(self):
        t0 = time.monotonic()
        # Usage errors: exit 2 before anything else happens.
        self.run(expect=EXIT_USAGE)
        self.run("--bogus", "whoami", expect=EXIT_USAGE)
        self.run("meetings", "show", "not-a-number", expect=EXIT_USAGE)
        self.run("meetings", "schedule", "--name", "x", "--start", "tomorrow", expect=EXIT_USAGE)
        help_text = self.run("meetings", "schedule", "--help").stdout
        assert "--participant" in help_text, help_text
        assert "refresh token valid" in self.run("logout", "--help").stdout

        # Not logged in yet.
        err = self.run("whoami", expect=EXIT_NOT_LOGGED_IN).stderr
        assert "not logged in" in err and "joinme login" in err, err
        self.run("token", expect=EXIT_NOT_LOGGED_IN)
        assert self.run_json("logout") == {"logged_out": False, "expired": False}

        # Decline: access_denied, exit 5, no token cached.
        err = self.login(decision="decline", expect=EXIT_LOGIN)
        assert "access_denied" in err, err
        assert not os.path.exists(self.token_file)

        # Log in as the Pro user (the form's choice; without one, the sandbox's current user).
        who = self.login(user="pro@example.com")
        email = who["user"]["email"]
        assert who["refreshable"] and "scheduler" in who["scopes"], who
        assert stat.S_IMODE(os.stat(self.token_file).st_mode) == 0o600
        self.remember_tokens()

        # A second process reuses the cached token: no token request.
        before = self.sandbox.token_requests()
        assert self.run_json("whoami")["email"] == email
        assert self.sandbox.token_requests() == before, (before, self.sandbox.token_requests())

        # The environment's proxy: the sandbox, on loopback, is reached directly whatever the
        # proxy (here one that does not exist), and the proxy's password is never printed; a
        # proxy URL joinme cannot use is a usage error that names the variable.
        unproxied = {k: v for k, v in self.env.items()
                     if k.lower() not in ("https_proxy", "http_proxy", "no_proxy")}
        proxy_password = "Pr0xyCliPassw0rd"
        self.secrets.add(proxy_password)
        proxied = dict(unproxied, https_proxy=f"http://alice:{proxy_password}@127.0.0.1:9")
        assert self.run_json("whoami", env=proxied)["email"] == email
        err = self.run("whoami", env=dict(unproxied, HTTPS_PROXY="socks5://127.0.0.1:1080"),
                       expect=EXIT_USAGE).stderr
        assert "HTTPS_PROXY" in err, err
        # join.me's address not on loopback: the code exchange goes to the proxy, with its
        # credentials, and the proxy's refusal is a network error (exit 4).
        refusing = RefusingProxy()
        try:
            proc = subprocess.Popen(
                [self.joinme, "--auth-base", "https://joinme.invalid", "login", "--timeout", "20"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=dict(unproxied, https_proxy=refusing.url("alice:" + proxy_password)))
            line = proc.stderr.readline()
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(line.split(": ", 1)[1]).query)
            back = urllib.parse.urlsplit(query["redirect_uri"][0])
            c = http.client.HTTPConnection(back.hostname, back.port, timeout=10)
            c.request("GET", back.path + "?" + urllib.parse.urlencode(
                {"code": "c0de", "state": query["state"][0]}))
            c.getresponse().read()
            c.close()
            out, err = proc.communicate(timeout=20)
            self.printed += [line, out, err]
            assert proc.returncode == EXIT_NETWORK and "refused" in err, (proc.returncode, err)
            assert len(refusing.requests) == 1, refusing.requests
            assert refusing.requests[0].startswith("CONNECT joinme.invalid:443 HTTP/1.1\r\n")
            assert "\r\nProxy-Authorization: Basic " in refusing.requests[0]
        finally:
            refusing.stop()

        tok = self.run_json("token")
        assert tok["logged_in"] and tok["refreshable"] and not tok["expired"], tok
        assert set(tok["scopes"]) == {"user_info", "scheduler", "start_meeting"}, tok

        # Meetings.
        start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() + 2 * 86400))
        end = time.strftime("%Y-%m-%dT%H:30:00Z", time.gmtime(time.time() + 2 * 86400))
        m = self.run_json("meetings", "schedule", "--name", "CLI test", "--start", start,
                          "--end", end, "--participant", "a@example.com",
                          "--participant", "b@example.com")
        mid = m["meetingId"]
        assert m["meetingName"] == "CLI test" and m["meetingStart"] == start, m
        assert m["meetingEnd"] == end and m["participants"] == ["a@example.com", "b@example.com"], m
        assert self.run_json("meetings", "show", str(mid))["meetingName"] == "CLI test"
        u = self.run_json("meetings", "update", str(mid), "--name", "CLI test, renamed")
        assert u["meetingName"] == "CLI test, renamed" and u["meetingStart"] == start, u
        listed = self.run_json("meetings", "list")["meetings"]
        assert [x["meetingName"] for x in listed if x["meetingId"] == mid] == ["CLI test, renamed"]
        started = self.run_json("meetings", "start", str(mid))
        assert started["presenterLink"] and started["viewerLink"], started
        self.run("meetings", "update", str(mid), expect=EXIT_USAGE)  # nothing to change
        assert self.run_json("meetings", "delete", str(mid)) == {"deleted": mid}
        err = self.run("meetings", "show", str(mid), expect=EXIT_API).stderr
        assert "not_found" in err and "status 404" in err, err
        adhoc = self.run_json("start", "--personal-url")
        assert adhoc["presenterLink"] and adhoc["viewerLink"], adhoc
        text = self.run("whoami").stdout
        assert email in text, text

        # Two processes meet an expired access token at once: one refresh between them.
        with open(self.token_file) as f:
            entry = json.load(f)["users"][f"{CLIENT_ID} {self.sandbox.base}"]
        r, body = self.sandbox.request(
            "POST", "/api/public/v1/auth/expireaccesstoken",
            urllib.parse.urlencode({"access_token": entry["token"]["access_token"],
                                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            {"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200, (r.status, body)
        before = self.sandbox.token_requests()
        procs = [subprocess.Popen(self.args("--json", "whoami"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=self.env)
                 for _ in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=30)
            self.printed += [out, err]
            assert p.returncode == 0, (p.returncode, err)
            assert json.loads(out)["email"] == email
        after = self.sandbox.token_requests()
        assert after[1] - before[1] == 1 and after[0] - before[0] == 1, (before, after)
        self.remember_tokens()

        # Presenters: the Master Account Holder through the Business application.
        biz = dict(self.env, JOINME_CLIENT_ID=BUSINESS_ID, JOINME_CLIENT_SECRET=BUSINESS_SECRET)
        admin = self.login("--scopes", "user_info provisioning", user="admin@example.com", env=biz)
        assert admin["user"]["email"] == "admin@example.com", admin
        self.remember_tokens()
        pres = self.run_json("presenters", "list", env=biz)["presenters"]
        assert "hardworker@example.com" in [p["email"] for p in pres], pres
        added = self.run_json("presenters", "add", "newcomer@example.com", env=biz)
        assert added["email"] == "newcomer@example.com" and not added["isInvitationAccepted"]
        shown = self.run_json("presenters", "show", str(added["id"]), env=biz)
        assert shown["email"] == "newcomer@example.com", shown
        # The Pro login has no provisioning scope.
        err = self.run("presenters", "list", expect=EXIT_API).stderr
        assert "insufficient_scope" in err, err

        # logout --expire for the Business login, plain logout for the other.
        assert self.run_json("logout", "--expire", env=biz) == {"logged_out": True, "expired": True}
        self.run("whoami", env=biz, expect=EXIT_NOT_LOGGED_IN)
        assert self.run_json("whoami")["email"] == email  # the other login is still there
        assert self.run_json("logout") == {"logged_out": True, "expired": False}
        assert not os.path.exists(self.token_file)
        self.run("whoami", expect=EXIT_NOT_LOGGED_IN)
        self.run("logout", "--expire", expect=EXIT_NOT_LOGGED_IN)

        # The implicit grant: a token that cannot be refreshed.
        implicit = self.login("--implicit", user=email)
        assert not implicit["refreshable"] and implicit["user"]["email"] == email, implicit
        self.remember_tokens()
        assert self.run_json("token")["refreshable"] is False
        self.run("logout")

        # --sandbox: an in-process sandbox, its own token file; the real one stays untouched.
        p = subprocess.run([self.joinme, "--sandbox", "--json", "whoami"], capture_output=True,
                           text=True, timeout=30, env=self.env)
        self.printed += [p.stdout, p.stderr]
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["email"] == "pro@example.com", p.stdout
        assert not os.path.exists(self.token_file)
        # Its token died with its sandbox: forgotten at exit.
        assert not os.path.exists(os.path.join(os.path.dirname(self.token_file), "sandbox-token.json"))

        # No credential in anything joinme printed (nor their first 12 characters).
        everything = "\n".join(self.printed)
        for s in self.secrets:
            for needle in (s, s[:12]):
                assert needle not in everything, "a credential appeared in joinme's output"
        print(f"joinme-cli: all checks passed in {time.monotonic() - t0:.1f} s "
              f"({len(self.secrets)} credentials checked)")

    def close(self):
        self.sandbox.stop()
        self.tmp.cleanup()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    t = Test(sys.argv[1], sys.argv[2])
    try:
        t.main()
    finally:
        t.close()
