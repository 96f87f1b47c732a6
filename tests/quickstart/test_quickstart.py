#!/usr/bin/env python3
# Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
"""The quickstart example tells its whole story.

usage: test_quickstart.py JOINME_QUICKSTART [JOINME_SANDBOX]

Runs the quickstart with no arguments (its in-process sandbox) and checks that it exits 0 and
names every step, in order. Given the joinme-sandbox program, runs it a second time the way it
runs against join.me (client id, secret and redirect URI from the environment), pointed at a
joinme-sandbox process: consents on its page as a browser would, delivers the redirect to the
quickstart's listener, and checks that the steps join.me offers only to some applications are
skipped with a reason. Last, with https_proxy set to a proxy that refuses, checks that the code
exchange goes to the proxy. Python 3 standard library only.
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from test_cli import CLIENT_ID, CLIENT_SECRET, ConsentForm, Sandbox  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from refusing_proxy import RefusingProxy  # noqa: E402

# Each step's line, as a pattern over the whole line.
STEPS = [
    r"1\. authorization URL: https://127\.0\.0\.1:\d+/api/public/v1/auth/oauth2\?.*code_challenge=.*",
    r"2\. consent: .*",
    r"3\. redirect caught on http://127\.0\.0\.1:\d+/callback with the right state",
    r"4\. code exchanged: token\{type bearer, access_token \[redacted\], refresh_token \[redacted\], .*\}",
    r"5\. user: .+ <.+@example\.com>, \w+ plan",
    r"6\. ad hoc meeting started; viewers join at https://.*",
    r'7\. scheduled meeting (\d+) "Weekly update" at \d{4}-\d\d-\d\dT\d\d:00:00Z',
    r"8\. listed [1-9]\d* upcoming meeting\(s\)",
    r'9\. updated: renamed "Weekly update \(moved\)"',
    r'10\. fetched: "Weekly update \(moved\)" at .*Z',
    r"11\. started; viewers join at https://.*",
    r"12\. deleted meeting (\d+)",
    r"13\. presenter.*",
    r"14\. .*",
    r"15\. \d+ requests on \d+ connection\(s\) in \d+ ms",
    r"done",
]


def check_steps(out, first_line):
    lines = out.strip().splitlines()
    assert lines[0] == first_line, lines[0]
    assert len(lines) == len(STEPS) + 1, out
    ids = []
    for pattern, line in zip(STEPS, lines[1:]):
        m = re.fullmatch(pattern, line)
        assert m, f"expected {pattern!r}, got {line!r}"
        ids += m.groups()
    assert ids[0] == ids[1], ids  # the meeting scheduled is the one deleted
    return lines[1:]


def in_process(quickstart):
    p = subprocess.run([quickstart], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", (p.returncode, p.stderr)
    first = re.match(r"against the sandbox at (https://127\.0\.0\.1:\d+)\n", p.stdout)
    assert first, p.stdout
    steps = check_steps(p.stdout, f"against the sandbox at {first.group(1)}")
    assert steps[12] == "13. presenter added: newcomer@example.com (invitation pending)", steps[12]
    assert re.fullmatch(r"14\. access token expired; the next call refreshed it \(1 refresh\) "
                        r"and answered admin@example\.com", steps[13]), steps[13]
    assert "SandBox123" not in p.stdout


def from_environment(quickstart, sandbox_program):
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Sandbox(sandbox_program, tmp)
        try:
            env = dict(os.environ, JOINME_CLIENT_ID=CLIENT_ID, JOINME_CLIENT_SECRET=CLIENT_SECRET,
                       JOINME_REDIRECT_URI="http://127.0.0.1:0/callback",
                       JOINME_BASE_URL=sandbox.base, JOINME_CA_FILE=sandbox.ca)
            # A port of 0 is refused: join.me compares the redirect URI with the registered one.
            p = subprocess.run([quickstart], capture_output=True, text=True, timeout=30, env=env)
            assert p.returncode == 1 and "JOINME_REDIRECT_URI" in p.stderr, (p.returncode, p.stderr)

            port = free_port()
            env["JOINME_REDIRECT_URI"] = f"http://127.0.0.1:{port}/callback"
            proc = subprocess.Popen([quickstart], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env)
            out = [proc.stdout.readline(), proc.stdout.readline(), proc.stdout.readline()]
            url = urllib.parse.urlsplit(out[1].split(": ", 1)[1].strip())
            r, page = sandbox.request("GET", f"{url.path}?{url.query}")
            assert r.status == 200, (r.status, page)
            form = ConsentForm()
            form.feed(page.decode())
            fields = dict(form.fields, decision="accept", user="pro@example.com")
            r, _ = sandbox.request("POST", form.action, urllib.parse.urlencode(fields),
                                   {"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status == 302, r.status
            back = urllib.parse.urlsplit(r.getheader("Location"))
            assert back.port == port, back
            c = http.client.HTTPConnection(back.hostname, back.port, timeout=10)
            c.request("GET", f"{back.path}?{back.query}")
            assert c.getresponse().status == 200
            c.close()
            rest, err = proc.communicate(timeout=30)
            assert proc.returncode == 0 and err == "", (proc.returncode, err)
            steps = check_steps("".join(out) + rest, f"against {sandbox.base}")
            assert steps[4] == "5. user: Hardest Worker <pro@example.com>, Pro plan", steps[4]
            assert steps[12] == "13. presenter: skipped (presenters need a Business API key)"
            assert steps[13] == "14. expiry: skipped (Expire Access is a join.me test helper)"
            assert CLIENT_SECRET not in "".join(out) + rest
        finally:
            sandbox.stop()


def through_proxy(quickstart):
    """With https_proxy set and join.me's address not on loopback, the code exchange goes to the
    proxy as a CONNECT with the proxy's credentials; its refusal is reported, and its password
    never printed."""
    proxy = RefusingProxy()
    try:
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("https_proxy", "http_proxy", "no_proxy")}
        env.update(JOINME_CLIENT_ID=CLIENT_ID, JOINME_CLIENT_SECRET=CLIENT_SECRET,
                   JOINME_REDIRECT_URI=f"http://127.0.0.1:{port}/callback",
                   JOINME_BASE_URL="https://joinme.invalid:8443",
                   https_proxy=proxy.url("alice:Pr0xyQuickPassw0rd"))
        proc = subprocess.Popen([quickstart], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        out = [proc.stdout.readline(), proc.stdout.readline()]
        url = urllib.parse.urlsplit(out[1].split(": ", 1)[1].strip())
        state = urllib.parse.parse_qs(url.query)["state"][0]
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/callback?" + urllib.parse.urlencode({"code": "c0de", "state": state}))
        assert c.getresponse().status == 200
        c.close()
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, (proc.returncode, err)
        assert "refused" in err and "403" in err, err
        assert len(proxy.requests) == 1, proxy.requests
        head = proxy.requests[0]
        assert head.startswith("CONNECT joinme.invalid:8443 HTTP/1.1\r\n"), head
        assert "\r\nProxy-Authorization: Basic " in head, head
        assert "Pr0xyQuickPassw0rd" not in "".join(out) + rest + err
    finally:
        proxy.stop()


def free_port():
    """A loopback port that was free a moment ago, for the quickstart's listener."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    in_process(sys.argv[1])
    if len(sys.argv) == 3:
        from_environment(sys.argv[1], sys.argv[2])
    through_proxy(sys.argv[1])
    print("joinme-quickstart: every step named, in order"
          + (", in both modes" if len(sys.argv) == 3 else "") + "; https_proxy honoured")
