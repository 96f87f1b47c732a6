#!/usr/bin/env python3
"""Runs the joinme-sandbox program as a user would: starts it, reads its first line, makes
requests over TLS (trusting the certificate written by --ca-out) and plain TCP, checks the
per-request log lines (and that no token appears in them), then interrupts it.

Usage: sandbox_program.py PATH/TO/joinme-sandbox
"""
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.parse


def start(program, *args):
    proc = subprocess.Popen([program, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    line = proc.stdout.readline().strip()
    m = re.fullmatch(r"joinme-sandbox listening on (https?)://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        sys.exit(f"unexpected first line: {line!r}")
    return proc, m.group(1), int(m.group(2))


def stop(proc):
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    if proc.returncode != 0:
        sys.exit(f"exit status {proc.returncode} after SIGINT")
    return out


def code_flow(conn):
    """Authorize (auto-consent), exchange the code, return the access token."""
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "cli00000000000000000000a",
                                "redirect_uri": "http://127.0.0.1/cb", "scope": "user_info",
                                "state": "xyz"})
    conn.request("GET", "/api/public/v1/auth/oauth2?" + q)
    res = conn.getresponse()
    res.read()
    assert res.status == 302, res.status
    loc = urllib.parse.urlparse(res.getheader("Location"))
    params = urllib.parse.parse_qs(loc.query)
    assert params["state"] == ["xyz"], params
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": params["code"][0],
                                   "redirect_uri": "http://127.0.0.1/cb",
                                   "client_id": "cli00000000000000000000a",
                                   "client_secret": "Secret1234"})
    conn.request("POST", "/api/public/v1/auth/token", body,
                 {"Content-Type": "application/x-www-form-urlencoded"})
    res = conn.getresponse()
    token = json.loads(res.read())
    assert res.status == 200, (res.status, token)
    return token["access_token"]


def get_user(conn, access_token):
    conn.request("GET", "/v1/user", headers={"Authorization": "Bearer " + access_token})
    res = conn.getresponse()
    user = json.loads(res.read())
    assert res.status == 200, res.status
    return user


def main():
    program = sys.argv[1]
    app = ["--auto-consent", "--client-id", "cli00000000000000000000a",
           "--client-secret", "Secret1234", "--redirect-uri", "http://127.0.0.1/cb"]
    with tempfile.TemporaryDirectory() as tmp:
        ca = os.path.join(tmp, "ca.pem")
        proc, scheme, port = start(program, "--port", "0", "--ca-out", ca, *app)
        try:
            assert scheme == "https"
            ctx = ssl.create_default_context(cafile=ca)
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
            token = code_flow(conn)
            user = get_user(conn, token)
            assert user["email"], user
            conn.request("GET", "/v1/user", headers={"Authorization": "Bearer wrong"})
            res = conn.getresponse()
            res.read()
            assert res.status == 401, res.status
        finally:
            log = stop(proc)
        lines = [l for l in log.splitlines() if l.strip()]
        assert len(lines) >= 4, log
        assert any("/v1/user" in l and "401" in l for l in lines), log
        assert token not in log and "Secret1234" not in log, "a secret reached the log"

    proc, scheme, port = start(program, "--plain", "--port", "0", *app)
    try:
        assert scheme == "http"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        get_user(conn, code_flow(conn))
    finally:
        stop(proc)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
