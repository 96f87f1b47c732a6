#!/usr/bin/env python3
"""The web server example with --redis: test_web_server.py against a server whose users'
tokens are in a redis-server this script starts (free loopback port, AOF on); then the tokens
of the users who signed in are in Redis, versioned, under the store's default prefix.

    with_redis.py WEB_SERVER_PROGRAM

Exit 77 (a skip) without redis-server or redis-cli, unless JOINME_REQUIRE_REDIS=1.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        if os.environ.get("JOINME_REQUIRE_REDIS") == "1":
            print("JOINME_REQUIRE_REDIS=1 but redis-server is not installed")
            return 1
        print("skipped: redis-server is not installed (apt-get install redis-server)")
        return 77
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    data = tempfile.mkdtemp(prefix="joinme-web-redis-")
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--appendonly", "yes", "--dir", data, "--save", "",
                              "--logfile", os.path.join(data, "redis.log")])
    try:
        for _ in range(500):
            if socket.socket().connect_ex(("127.0.0.1", port)) == 0:
                break
            time.sleep(0.01)
        url = "redis://127.0.0.1:%d" % port
        subprocess.run([sys.executable, os.path.join(HERE, "test_web_server.py"), sys.argv[1],
                        "--redis", url], check=True)

        def cli(*args):
            return subprocess.run(["redis-cli", "-p", str(port)] + list(args), check=True,
                                  capture_output=True, text=True).stdout.strip()

        for user in ("pro@example.com", "free@example.com"):
            key = "joinme:token:" + user
            version = cli("HGET", key, "version")
            assert version.isdigit() and int(version) >= 1, (user, version)
            assert '"access_token"' in cli("HGET", key, "token"), user
        print("ok: with --redis, the users' tokens are in Redis, versioned")
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
