#!/usr/bin/python3
# Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#
# Benchmark client "requests": GET /v1/user with Python's requests (Debian's python3-requests),
# reading the same fields as benchmarks/common/user_fields.hpp. Same command line and the same
# one JSON line as the C++ clients (benchmarks/common/measure.hpp). Measures:
#   sequential  one requests.Session (one kept-alive connection), one call at a time;
#   concurrent  --concurrency calls outstanding, run by --connections threads with a Session each;
#   cold        a new Session per call: TCP connect, TLS handshake, one GET, parse, close.
import argparse
import json
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests


@dataclass
class UserFields:
    email: str
    full_name: str
    language: str
    meetings_hosted: int
    subscription: str
    registration_date: str  # kept as text
    personal_url: str = ""  # optional in the response
    conference_id: str = ""  # the three of conferenceSettings, optional
    conference_numbers_url: str = ""
    organizer_code: str = ""


def to_user_fields(body):
    """Raises KeyError or TypeError when a field is missing or of another type."""
    u = UserFields(
        email=body["email"],
        full_name=body["fullName"],
        language=body["language"],
        meetings_hosted=body["numberOfMeetingsHosted"],
        subscription=body["subscriptionType"],
        registration_date=body["registrationDate"],
        personal_url=body.get("personalUrl", ""),
    )
    settings = body.get("conferenceSettings")
    if settings is not None:
        u.conference_id = settings["conferenceId"]
        u.conference_numbers_url = settings["conferenceCallNumbersUrl"]
        u.organizer_code = settings["organizerCode"]
    for name in ("email", "full_name", "language", "subscription", "registration_date",
                 "personal_url", "conference_id", "conference_numbers_url", "organizer_code"):
        if not isinstance(getattr(u, name), str):
            raise TypeError(f"{name} is not a string")
    if not isinstance(u.meetings_hosted, int):
        raise TypeError("meetings_hosted is not an integer")
    return u


def checksum(u):
    """Sum of the parsed fields' lengths, as the C++ clients compute it."""
    return (len(u.email) + len(u.full_name) + len(u.language) + len(u.subscription) +
            len(u.personal_url) + len(u.registration_date) + len(u.conference_id) +
            len(u.conference_numbers_url) + len(u.organizer_code) + u.meetings_hosted)


class Caller:
    """What every call needs; call() returns the checksum of the parsed fields, or raises."""

    def __init__(self, opts):
        self.url = opts.url + "/v1/user"
        self.headers = {"Authorization": "Bearer " + opts.token}
        # Given on every call, not as Session.verify: a session's own setting loses to the
        # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE environment variables when requests merges them.
        self.verify = opts.cafile if opts.cafile else True
        self.reported = False
        self.lock = threading.Lock()

    def call(self, session):
        resp = session.get(self.url, headers=self.headers, verify=self.verify)
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP status {resp.status_code}")
        return checksum(to_user_fields(resp.json()))

    def report_once(self, error):
        with self.lock:
            if not self.reported:
                print(f"requests: call failed: {error}", file=sys.stderr)
            self.reported = True


class Run:
    """bench::run of measure.hpp: start after the warm-up, record() each call, finish()."""

    def __init__(self):
        self.latencies_ns = []
        self.errors = 0
        self.calls = 0

    def start(self):
        self.cpu = cpu_seconds()
        self.wall = time.perf_counter_ns()

    def record(self, ns):
        self.latencies_ns.append(ns)

    def error(self):
        self.errors += 1

    def finish(self, calls):
        self.wall_s = (time.perf_counter_ns() - self.wall) * 1e-9
        self.cpu_s = cpu_seconds() - self.cpu
        self.calls = calls

    def json(self, opts):
        ordered = sorted(self.latencies_ns)

        def pct(p):
            if not ordered:
                return -1.0
            return ordered[int(p * (len(ordered) - 1))] / 1000.0

        # The C++ clients' printf formats, so that every client prints the same line.
        transport = "tls" if opts.url.startswith("https://") else "plain"
        return (
            f'{{"client":{json.dumps(opts.client)},"scenario":{json.dumps(opts.scenario)},'
            f'"transport":"{transport}","calls":{self.calls},"concurrency":{opts.concurrency},'
            f'"connections":{opts.connections},"errors":{self.errors},'
            f'"wall_s":{self.wall_s:.6f},"cpu_s":{self.cpu_s:.6f},'
            f'"cpu_us_per_call":{self.cpu_s * 1e6 / self.calls:.3f},'
            f'"calls_per_s":{self.calls / self.wall_s:.1f},"p50_us":{pct(0.50):.1f},'
            f'"p90_us":{pct(0.90):.1f},"p99_us":{pct(0.99):.1f},'
            f'"max_rss_kb":{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss},'
            f'"allocs_per_call":null}}')


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def sequential(opts, run, caller):
    total = 0
    with requests.Session() as session:
        for _ in range(opts.warmup_calls):
            total += caller.call(session)  # a failed warm-up ends the run
        run.start()
        for _ in range(opts.calls):
            started = time.perf_counter_ns()
            try:
                total += caller.call(session)
                run.record(time.perf_counter_ns() - started)
            except Exception as e:
                caller.report_once(e)
                run.error()
        run.finish(opts.calls)
    return total


def concurrent(opts, run, caller):
    # requests is synchronous: a call holds its thread until the response is parsed, so the
    # calls actually in flight are at most --connections, one per worker thread and Session.
    # The other calls of the --concurrency outstanding wait in the executor's queue, and their
    # latency includes that wait.
    local = threading.local()
    sessions = []
    sessions_lock = threading.Lock()

    def session():
        if not hasattr(local, "session"):
            local.session = requests.Session()
            with sessions_lock:
                sessions.append(local.session)
        return local.session

    def timed_call(started):
        try:
            return True, caller.call(session()), time.perf_counter_ns() - started
        except Exception as e:
            caller.report_once(e)
            return False, 0, time.perf_counter_ns() - started

    total = 0

    def phase(pool, calls, measured):
        nonlocal total
        state = {"issued": 0, "completed": 0, "failed": 0}
        lock = threading.Lock()
        done = threading.Event()

        def issue():
            with lock:
                if state["issued"] == calls:
                    return
                state["issued"] += 1
            pool.submit(timed_call, time.perf_counter_ns()).add_done_callback(completed)

        def completed(future):
            nonlocal total
            ok, value, ns = future.result()
            with lock:
                if measured is not None and ok:
                    measured.record(ns)
                elif measured is not None:
                    measured.error()
                state["failed"] += 0 if ok else 1
                total += value
                state["completed"] += 1
                last = state["completed"] == calls
            if last:
                done.set()
            else:
                issue()

        if calls == 0:
            return True
        for _ in range(opts.concurrency):
            issue()
        done.wait()
        return measured is not None or state["failed"] == 0

    with ThreadPoolExecutor(max_workers=opts.connections) as pool:
        if not phase(pool, opts.warmup_calls, None):
            raise RuntimeError("warm-up failed")
        run.start()
        phase(pool, opts.calls, run)
        run.finish(opts.calls)
    for s in sessions:
        s.close()
    return total


def cold(opts, run, caller):
    # A brand-new Session per call: its own connection pool and SSL context, so no TLS session
    # is resumed. Closing it is part of the run, not of the call's latency.
    total = 0

    def one(measured):
        nonlocal total
        started = time.perf_counter_ns()
        session = requests.Session()
        try:
            total += caller.call(session)
            ns = time.perf_counter_ns() - started
            ok = True
        except Exception as e:
            if measured is None:
                raise
            caller.report_once(e)
            ok = False
        finally:
            session.close()
        if measured is not None and ok:
            measured.record(ns)
        elif measured is not None:
            measured.error()

    for _ in range(opts.warmup_calls):
        one(None)
    run.start()
    for _ in range(opts.calls):
        one(run)
    run.finish(opts.calls)
    return total


def parse_options():
    p = argparse.ArgumentParser(description="GET /v1/user benchmark with requests")
    p.add_argument("--client", default="requests")
    p.add_argument("--scenario", default="sequential")
    p.add_argument("--url", required=True)
    p.add_argument("--token-url", default="")
    p.add_argument("--token", default="")
    p.add_argument("--cafile", default="")
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--warmup", type=int, default=-1)
    opts = p.parse_args()
    if opts.calls <= 0 or opts.concurrency <= 0 or opts.connections <= 0:
        p.error("counts must be positive")
    if opts.client != "requests":
        p.error('this program runs the client "requests" only')
    if opts.warmup >= 0:
        opts.warmup_calls = opts.warmup
    else:
        opts.warmup_calls = 5 if opts.scenario == "cold" else 200
    return opts


def main():
    opts = parse_options()
    scenarios = {"sequential": sequential, "concurrent": concurrent, "cold": cold}
    if opts.scenario not in scenarios:
        print(f"requests: scenario {opts.scenario} is not supported", file=sys.stderr)
        return 2
    caller = Caller(opts)
    run = Run()
    try:
        total = scenarios[opts.scenario](opts, run, caller)
    except Exception as e:
        print(f"requests: the run could not complete: {e}", file=sys.stderr)
        return 1
    print(run.json(opts), flush=True)
    if run.errors != 0 or total == 0:
        print(f"requests: {run.errors} calls failed, checksum {total}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
