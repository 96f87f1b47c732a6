// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_HTTP_RETRY_HPP
#define JOINME_HTTP_RETRY_HPP

/// @file
/// When to send a request again after "slow down" answers (429, 503, join.me's over-QPS 403),
/// and how long to wait first. The decision is a pure function, so it is tested without I/O.

#include <joinme/http/message.hpp>
#include <joinme/http/pool_options.hpp>

#include <boost/asio/any_completion_handler.hpp>

#include <algorithm>
#include <chrono>

namespace joinme::http {

/// What to do after an answer.
struct retry_decision {
    bool retry = false;                 ///< Send the request again.
    std::chrono::milliseconds delay{0}; ///< After waiting this long.
};

/// Decides whether to send `req` again after `res`.
///
/// @param policy        the retry policy (attempts, backoff, total wait).
/// @param req           the request sent: only idempotent methods are retried unless
///                      `policy.retry_non_idempotent`.
/// @param res           its answer: only 429, 503 and the gateway's over-QPS /
///                      over-rate 403 are retried.
/// @param attempts_made attempts so far, the one that produced `res` included.
/// @param waited        time already spent waiting for this call.
/// @param random01      a number in [0, 1) for the jitter.
/// @param now           the time, for a `Retry-After` given as a date.
inline retry_decision decide_retry(const retry_policy& policy, const request& req,
                                   const response& res, unsigned attempts_made,
                                   std::chrono::milliseconds waited, double random01,
                                   std::chrono::system_clock::time_point now) {
    using std::chrono::milliseconds;
    if (!is_rate_limited(res) || attempts_made >= policy.max_attempts)
        return {};
    if (!is_idempotent(req.method()) && !policy.retry_non_idempotent)
        return {};
    milliseconds delay;
    auto ra = res.find(beast_http::field::retry_after);
    std::optional<std::chrono::seconds> server_delay;
    if (ra != res.end())
        server_delay = parse_retry_after(ra->value(), now);
    if (server_delay) {
        delay = *server_delay;
        if (delay > policy.max_backoff)
            return {};
    } else {
        auto exp = policy.initial_backoff * (1LL << std::min(attempts_made - 1, 20u));
        delay = std::min<milliseconds>(exp, policy.max_backoff);
        if (policy.jitter)
            delay = milliseconds(static_cast<long long>(delay.count() * random01));
    }
    if (waited + delay > policy.max_total)
        return {};
    return {true, delay};
}

} // namespace joinme::http

#endif
