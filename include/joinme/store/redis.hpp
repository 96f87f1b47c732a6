// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_STORE_REDIS_HPP
#define JOINME_STORE_REDIS_HPP

/// @file
/// `store::redis_token_store`: the tokens of many users in Redis, shared by a fleet of
/// processes, with a lease per user so that one process refreshes and the others wait for its
/// token. Opt-in (not in `<joinme/joinme.hpp>`); needs hiredis (0.14 or later, `-lhiredis`).
///
/// hiredis's asynchronous API runs on the store's executor through a small adapter: its
/// read/write hooks wait on a `posix::stream_descriptor`, so there is no thread per connection
/// and no blocking call on the executor. Host names are resolved with Asio (hiredis would
/// block), and the adapter keeps its own deadlines (hiredis 0.14 has none).
///
/// Layout, for a prefix P and a user U (see docs/redis.md):
/// - `P` `token:` `U`: a hash, `version` (a counter, from 1) and `token` (the token's JSON, or
///   `aesgcm1:` + nonce + ciphertext + tag when a key is set);
/// - `P` `lease:` `U`: the lease, a random value with a time to live;
/// - `P` `events`: the channel on which a save or an unlock publishes U.

#include <joinme/detail/random.hpp>
#include <joinme/oauth/token_store.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/url/parse.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <functional>
#include <stdexcept>
#include <vector>

namespace joinme::store {

/// Settings of a `redis_token_store`.
struct redis_options {
    std::string host = "127.0.0.1"; ///< Redis's host name or address (resolved with Asio).
    unsigned short port = 6379;     ///< Redis's port.
    std::string prefix = "joinme:"; ///< Prefix of every key and of the channel.
    /// Deadline of each command, and of each connection attempt.
    std::chrono::milliseconds command_timeout{2000};
    /// After a failed connection, commands fail at once for this long, doubled on each failure
    /// up to `reconnect_max`, before the next attempt.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{2000}; ///< See `reconnect_min`.
    /// How long `async_lock` waits while another process holds the lease: longer than the
    /// token source's `refresh_timeout` (60 s by default, the lease's time to live), so that a
    /// waiter outlives the lease of a holder that died.
    std::chrono::milliseconds lock_wait{75'000};
    /// How often a waiting `async_lock` tries again without a notification.
    std::chrono::milliseconds lock_poll{500};
    /// 32 bytes: the token fields are stored encrypted (AES-256-GCM) with this key. Empty:
    /// stored in clear.
    joinme::secret key{};

    /// Options for `redis://HOST[:PORT][/]` (an IPv6 address in brackets); throws
    /// `std::invalid_argument` for anything else.
    static redis_options from_url(std::string_view url) {
        auto u = boost::urls::parse_uri(url);
        if (!u || u->scheme() != "redis" || u->encoded_host().empty() || u->has_userinfo() ||
            !(u->encoded_path().empty() || u->encoded_path() == "/") || u->has_query() ||
            u->has_fragment() || (u->has_port() && u->port_number() == 0))
            throw std::invalid_argument("a Redis URL is redis://HOST[:PORT], the port from 1 to "
                                        "65535");
        redis_options o;
        o.host = u->host_address();
        if (u->has_port())
            o.port = u->port_number();
        return o;
    }
};

namespace detail {

using joinme::error_code;
using oauth::store_errc;
namespace asio = boost::asio;

// A reply, copied out of hiredis.
struct redis_reply {
    int type = REDIS_REPLY_NIL;
    long long integer = 0;
    std::string str;
    std::vector<redis_reply> elements;

    redis_reply() = default;
    explicit redis_reply(const redisReply* r) {
        type = r->type;
        integer = r->integer;
        if (r->str)
            str.assign(r->str, r->len);
        for (std::size_t i = 0; i < r->elements; ++i)
            elements.emplace_back(r->element[i]);
    }
};

// AES-256-GCM of a token's JSON, bound to `aad` (the user's key name). Output: nonce (12
// bytes), ciphertext, tag (16 bytes). False when OpenSSL fails or, opening, the tag does not
// match (a wrong key, another user's entry, or altered bytes).
inline bool gcm(bool seal, std::string_view key, std::string_view aad, std::string_view in,
                std::string& out) {
    constexpr std::size_t nonce_size = 12, tag_size = 16;
    if (key.size() != 32 || (!seal && in.size() < nonce_size + tag_size))
        return false;
    std::array<unsigned char, nonce_size> nonce{};
    if (seal)
        joinme::detail::random_bytes(nonce);
    else
        std::copy_n(in.begin(), nonce_size, nonce.begin());
    auto body = seal ? in : in.substr(nonce_size, in.size() - nonce_size - tag_size);
    std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> ctx(EVP_CIPHER_CTX_new(),
                                                                   EVP_CIPHER_CTX_free);
    auto u = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
    std::string text(body.size(), '\0');
    auto* t = reinterpret_cast<unsigned char*>(text.data());
    int n = 0, m = 0;
    std::array<unsigned char, tag_size> tag{};
    if (!seal)
        std::copy_n(in.end() - tag_size, tag_size, tag.begin());
    bool ok = ctx &&
              EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), nonce.data(),
                                seal ? 1 : 0) == 1 &&
              EVP_CipherUpdate(ctx.get(), nullptr, &n, u(aad), int(aad.size())) == 1 &&
              EVP_CipherUpdate(ctx.get(), t, &n, u(body), int(body.size())) == 1 &&
              (seal || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(tag_size),
                                           tag.data()) == 1) &&
              EVP_CipherFinal_ex(ctx.get(), t + n, &m) == 1 &&
              (!seal || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(tag_size),
                                            tag.data()) == 1);
    if (!ok)
        return false;
    out.clear();
    if (seal)
        out.append(reinterpret_cast<const char*>(nonce.data()), nonce_size);
    out += text;
    if (seal)
        out.append(reinterpret_cast<const char*>(tag.data()), tag_size);
    return true;
}

inline constexpr std::string_view sealed_prefix = "aesgcm1:";
inline constexpr std::size_t max_entry_size = 64 * 1024;

// The `token` field for `t`: its JSON, sealed when `key` is not empty.
inline std::string encode_entry(const oauth::token& t, std::string_view key, std::string_view aad) {
    auto json = boost::json::serialize(boost::json::value_from(t));
    if (key.empty())
        return json;
    std::string sealed;
    if (!gcm(true, key, aad, json, sealed))
        throw std::runtime_error("joinme: encrypting a token failed (OpenSSL)");
    return std::string(sealed_prefix) + sealed;
}

// A stored entry (its `version` and `token` fields) read back; `store_errc::corrupt` for
// anything that is not a token, `store_errc::bad_key` for a token that `key` does not open
// (or one stored in clear while a key is set).
inline std::optional<oauth::stored_token> parse_entry(std::string_view version,
                                                      std::string_view payload,
                                                      std::string_view key, std::string_view aad,
                                                      error_code& ec) {
    ec = store_errc::corrupt;
    std::uint64_t v = 0;
    if (version.empty() || version.size() > 19 || payload.size() > max_entry_size)
        return std::nullopt;
    for (char c : version) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + std::uint64_t(c - '0');
    }
    std::string opened;
    bool sealed = payload.starts_with(sealed_prefix);
    if (sealed != !key.empty()) {
        ec = store_errc::bad_key;
        return std::nullopt;
    }
    if (sealed) {
        if (!gcm(false, key, aad, payload.substr(sealed_prefix.size()), opened)) {
            ec = store_errc::bad_key;
            return std::nullopt;
        }
        payload = opened;
    }
    boost::json::error_code jec;
    auto j = boost::json::parse(payload, jec);
    if (jec || v == 0)
        return std::nullopt;
    auto t = boost::json::try_value_to<oauth::token>(j);
    if (!t)
        return std::nullopt;
    ec = {};
    return oauth::stored_token{std::move(*t), v};
}

// One hiredis asynchronous connection on an Asio executor. Not thread-safe: every member runs
// on `ex`.
class redis_conn : public std::enable_shared_from_this<redis_conn> {
public:
    using handler = asio::any_completion_handler<void(error_code, redis_reply)>;

    redis_conn(asio::any_io_executor ex, const redis_options& o)
        : ex_(ex)
        , sd_(ex)
        , signal_(ex, asio::steady_timer::time_point::max())
        , opts_(o) {}
    ~redis_conn() { close(); }

    std::function<void(const redis_reply&)> on_message; // subscribe mode: each message
    std::string last_error = "not connected";           // why it last failed, for people

    bool connected() const noexcept { return ac_ && up_; }

    // Connected, or why not: a connection attempt, or the failure of a recent one.
    asio::awaitable<error_code> ensure() {
        while (connecting_) // another coroutine connects: its result is ours
            co_await wait_signal();
        if (connected())
            co_return error_code{};
        if (std::chrono::steady_clock::now() < retry_at_)
            co_return store_errc::unavailable;
        connecting_ = true;
        auto ec = co_await connect();
        connecting_ = false;
        signal_.cancel();
        backoff_ = ec ? std::clamp(backoff_ * 2, opts_.reconnect_min, opts_.reconnect_max)
                      : std::chrono::milliseconds(0);
        retry_at_ = std::chrono::steady_clock::now() + backoff_;
        co_return ec;
    }

    // Sends `args` and completes with the reply, or `unavailable` when the connection is
    // down, breaks, or does not answer within the command timeout (then it is dropped).
    template <class Token>
    auto async_exec(std::vector<std::string> args, Token&& token, bool subscribe = false) {
        return asio::async_initiate<Token, void(error_code, redis_reply)>(
            [self = shared_from_this(), subscribe](handler h, std::vector<std::string> args) {
                self->start(std::move(args), std::move(h), subscribe);
            },
            token, std::move(args));
    }

    // Waits until this connection is dropped (subscribe mode).
    asio::awaitable<void> wait_closed() {
        while (ac_)
            co_await wait_signal();
    }

    void close() {
        if (ac_)
            redisAsyncFree(ac_); // runs the pending callbacks (NULL reply), then `cleanup`
    }

private:
    struct pending {
        explicit pending(asio::any_io_executor ex, handler h) : h(std::move(h)), timer(ex) {}
        handler h;
        asio::steady_timer timer;
        bool done = false;
    };

    asio::awaitable<void> wait_signal() {
        (void)co_await signal_.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    asio::awaitable<error_code> connect() {
        asio::ip::tcp::resolver resolver(ex_);
        auto [rec, results] = co_await resolver.async_resolve(
            opts_.host, std::to_string(opts_.port), asio::as_tuple(asio::use_awaitable));
        if (rec || results.empty()) {
            last_error = "cannot resolve " + opts_.host + ": " + rec.message();
            co_return store_errc::unavailable;
        }
        auto ip = results.begin()->endpoint().address().to_string();
        ac_ = redisAsyncConnect(ip.c_str(), opts_.port); // non-blocking: the address is numeric
        if (!ac_ || ac_->err) {
            last_error = "cannot connect to Redis at " + ip + ": " + (ac_ ? ac_->errstr : "");
            if (ac_)
                redisAsyncFree(std::exchange(ac_, nullptr));
            co_return store_errc::unavailable;
        }
        ac_->data = this;
        ac_->ev = {this, &add_read, &del_read, &add_write, &del_write, &cleanup};
        sd_.assign(ac_->c.fd);
        redisAsyncSetConnectCallback(ac_, &on_connect);
        redisAsyncSetDisconnectCallback(ac_, &on_disconnect);
        asio::steady_timer deadline(ex_, opts_.command_timeout);
        deadline_ = &deadline;
        (void)co_await deadline.async_wait(asio::as_tuple(asio::use_awaitable));
        deadline_ = nullptr;
        if (connected())
            co_return error_code{};
        if (ac_) {
            last_error = "Redis at " + ip + " did not accept the connection in time";
            close();
        }
        co_return store_errc::unavailable;
    }

    void start(std::vector<std::string> args, handler h, bool subscribe) {
        auto p = std::make_shared<pending>(ex_, std::move(h));
        if (!connected())
            return finish(*p, store_errc::unavailable, redis_reply{});
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* box = subscribe ? nullptr : new std::shared_ptr<pending>(p);
        if (redisAsyncCommandArgv(ac_, subscribe ? &on_push : &on_reply, box, int(argv.size()),
                                  argv.data(), lens.data()) != REDIS_OK) {
            delete box;
            return finish(*p, store_errc::unavailable, redis_reply{});
        }
        if (subscribe)
            return finish(*p, error_code{}, redis_reply{});
        p->timer.expires_after(opts_.command_timeout);
        p->timer.async_wait(
            [self = shared_from_this(), w = std::weak_ptr<pending>(p)](error_code e) {
                auto p = w.lock();
                if (e || !p || p->done)
                    return;
                self->last_error = "Redis did not answer within the command timeout";
                finish(*p, store_errc::unavailable, redis_reply{});
                self->close(); // a connection that does not answer is not used again
            });
    }

    static void finish(pending& p, error_code ec, redis_reply r) {
        if (p.done)
            return;
        p.done = true;
        p.timer.cancel();
        // Through the handler's associated executor, never inline.
        asio::post(p.timer.get_executor(), asio::append(std::move(p.h), ec, std::move(r)));
    }

    static redis_conn& self(const redisAsyncContext* ac) {
        return *static_cast<redis_conn*>(ac->data);
    }

    static void on_reply(redisAsyncContext* ac, void* r, void* box) {
        std::unique_ptr<std::shared_ptr<pending>> p(static_cast<std::shared_ptr<pending>*>(box));
        auto* reply = static_cast<redisReply*>(r);
        if (!reply)
            return finish(**p, store_errc::unavailable, redis_reply{});
        if (reply->type == REDIS_REPLY_ERROR) {
            self(ac).last_error = "Redis answered: " + std::string(reply->str, reply->len);
            return finish(**p, store_errc::refused, redis_reply(reply));
        }
        finish(**p, error_code{}, redis_reply(reply));
    }

    static void on_push(redisAsyncContext* ac, void* r, void*) {
        if (r && self(ac).on_message)
            self(ac).on_message(redis_reply(static_cast<redisReply*>(r)));
    }

    static void on_connect(const redisAsyncContext* ac, int status) {
        auto& s = self(ac);
        s.up_ = status == REDIS_OK;
        if (!s.up_)
            s.last_error = "cannot connect to Redis at " + s.opts_.host + ": " + ac->errstr;
        if (s.deadline_)
            s.deadline_->cancel();
    }

    static void on_disconnect(const redisAsyncContext* ac, int status) {
        if (status != REDIS_OK)
            self(ac).last_error = std::string("the connection to Redis broke: ") + ac->errstr;
    }

    // hiredis's event hooks: wait on the descriptor while hiredis wants to read or write.
    static void add_read(void* d) { static_cast<redis_conn*>(d)->arm(true, true); }
    static void del_read(void* d) { static_cast<redis_conn*>(d)->want_[0] = false; }
    static void add_write(void* d) { static_cast<redis_conn*>(d)->arm(false, true); }
    static void del_write(void* d) { static_cast<redis_conn*>(d)->want_[1] = false; }
    static void cleanup(void* d) {
        auto& s = *static_cast<redis_conn*>(d);
        s.want_[0] = s.want_[1] = s.armed_[0] = s.armed_[1] = false;
        ++s.generation_;
        if (s.sd_.is_open())
            s.sd_.release(); // hiredis closes the descriptor itself
        s.ac_ = nullptr;
        s.up_ = false;
        s.signal_.cancel();
        if (s.deadline_)
            s.deadline_->cancel();
    }

    void arm(bool read, bool want) {
        int i = read ? 0 : 1;
        want_[i] = want;
        if (armed_[i] || !sd_.is_open())
            return;
        armed_[i] = true;
        // `this` is alive: handlers are cancelled (and ignored through the generation) before
        // the context goes, and the owner's shared_ptr outlives the context.
        sd_.async_wait(read ? asio::posix::descriptor_base::wait_read
                            : asio::posix::descriptor_base::wait_write,
                       [self = weak_from_this(), read, i, gen = generation_](error_code ec) {
                           auto s = self.lock();
                           if (!s || gen != s->generation_)
                               return;
                           s->armed_[i] = false;
                           if (ec || !s->ac_ || !s->want_[i])
                               return;
                           if (read)
                               redisAsyncHandleRead(s->ac_);
                           else
                               redisAsyncHandleWrite(s->ac_);
                           if (s->ac_ && gen == s->generation_ && s->want_[i])
                               s->arm(read, true);
                       });
    }

    asio::any_io_executor ex_;
    asio::posix::stream_descriptor sd_;
    asio::steady_timer signal_; // cancelled when a connection attempt ends or a context goes
    redis_options opts_;
    redisAsyncContext* ac_ = nullptr;
    bool up_ = false;
    bool connecting_ = false;
    bool want_[2] = {false, false};
    bool armed_[2] = {false, false};
    std::uint64_t generation_ = 0;
    asio::steady_timer* deadline_ = nullptr;
    std::chrono::milliseconds backoff_{0};
    std::chrono::steady_clock::time_point retry_at_{};
};

// Compare-and-swap of a token: KEYS[1] the entry, ARGV: expected version ('*': any), the
// token field, the channel, the user. Returns the new version, or -1 on a mismatch.
inline constexpr const char* save_script = R"(
local v = redis.call('HGET', KEYS[1], 'version') or '0'
if ARGV[1] ~= '*' and ARGV[1] ~= v then return -1 end
v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'token', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return v)";

// Releases KEYS[1] if it still holds ARGV[1], then publishes ARGV[3] on ARGV[2]. 1 or 0.
inline constexpr const char* unlock_script = R"(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1)";

} // namespace detail

/// Tokens of many users in Redis, shared by every process that uses the same Redis and
/// prefix, with a distributed single-flight refresh:
/// - `async_lock` is `SET P lease:U <random> NX PX max_hold`; while another process holds
///   the lease it waits (a notification on `P events`, or every `lock_poll`), so that it
///   reads the token the holder saved instead of refreshing itself. A lease whose holder died
///   expires after `max_hold` (the token source's refresh timeout).
/// - `async_save` is a compare-and-swap on the version (a Lua script) that publishes the user;
///   `async_unlock` deletes the lease only if it still holds its random value (a Lua script).
/// - Redis unreachable, or not answering within `command_timeout`, is
///   `store_errc::unavailable` (`last_error()` says more); a token source reports it as
///   `errc::token_store_failed` and never refreshes without the lease.
/// - An entry that is not a token is `store_errc::corrupt`; one the key does not open is
///   `store_errc::bad_key`.
///
/// Thread safety: not thread-safe; use it from its executor (a strand on a multi-threaded
/// io_context). Lifetime: the store must outlive its operations.
class redis_token_store : public oauth::token_store {
public:
    /// @param ex    executor of its connections, timers and default handlers.
    /// @param opts  where Redis is, key prefix, deadlines, encryption key.
    /// @throws std::invalid_argument when `opts.key` is set but is not 32 bytes.
    redis_token_store(boost::asio::any_io_executor ex, redis_options opts)
        : st_(std::make_shared<state>(ex, std::move(opts))) {
        if (!st_->opts.key.empty() && st_->opts.key.reveal().size() != 32)
            throw std::invalid_argument("joinme: a Redis store's key is 32 bytes");
    }

    ~redis_token_store() override { close(); }

    redis_token_store(const redis_token_store&) = delete;
    redis_token_store& operator=(const redis_token_store&) = delete;

    /// The executor its handlers default to.
    const boost::asio::any_io_executor& get_executor() const noexcept { return st_->ex; }

    /// Why the last command or connection failed, for a log (no token is ever in it).
    const std::string& last_error() const noexcept { return st_->cmd->last_error; }

    /// Closes both connections; later operations fail with `operation_aborted`. Then nothing
    /// of the store is left on the executor (an io_context with nothing else to do returns).
    void close() {
        st_->closed = true;
        st_->cmd->close();
        st_->sub->close();
    }

protected:
    void do_load(std::string user, load_handler h) override {
        run<std::optional<oauth::stored_token>>(
            std::move(h),
            [user](std::shared_ptr<state> st,
                   std::optional<oauth::stored_token>& out) -> boost::asio::awaitable<error_code> {
                std::vector<std::string> args{"HMGET", st->key("token:", user), "version", "token"};
                auto [ec, r] = co_await st->exec(std::move(args));
                if (ec)
                    co_return ec;
                if (r.elements.size() != 2)
                    co_return oauth::store_errc::corrupt;
                if (r.elements[0].type == REDIS_REPLY_NIL && r.elements[1].type == REDIS_REPLY_NIL)
                    co_return error_code{}; // nothing stored
                out = detail::parse_entry(r.elements[0].str, r.elements[1].str,
                                          st->opts.key.reveal(), st->key("token:", user), ec);
                co_return ec;
            });
    }

    void do_save(std::string user, oauth::token t, std::uint64_t expected,
                 save_handler h) override {
        run<std::uint64_t>(std::move(h),
                           [user, t = std::move(t),
                            expected](std::shared_ptr<state> st,
                                      std::uint64_t& out) -> boost::asio::awaitable<error_code> {
                               auto entry = st->key("token:", user);
                               std::vector<std::string> args{
                                   "EVAL",
                                   detail::save_script,
                                   "1",
                                   entry,
                                   expected == oauth::any_version ? "*" : std::to_string(expected),
                                   detail::encode_entry(t, st->opts.key.reveal(), entry),
                                   st->key("events", ""),
                                   user};
                               auto [ec, r] = co_await st->exec(std::move(args));
                               if (ec)
                                   co_return ec;
                               if (r.integer < 0)
                                   co_return oauth::store_errc::conflict;
                               out = std::uint64_t(r.integer);
                               co_return error_code{};
                           });
    }

    void do_lock(std::string user, std::chrono::milliseconds max_hold, lock_handler h) override {
        run<oauth::store_lease>(
            std::move(h),
            [user, max_hold](std::shared_ptr<state> st,
                             oauth::store_lease& out) -> boost::asio::awaitable<error_code> {
                namespace asio = boost::asio;
                auto value = joinme::detail::random_token(16);
                auto deadline = std::chrono::steady_clock::now() + st->opts.lock_wait;
                for (;;) {
                    std::vector<std::string> args{
                        "SET", st->key("lease:", user),
                        value, "NX",
                        "PX",  std::to_string(std::max<long long>(1, max_hold.count()))};
                    auto [ec, r] = co_await st->exec(std::move(args));
                    if (ec)
                        co_return ec;
                    if (r.type == REDIS_REPLY_STATUS) {
                        out.id = ++st->next;
                        st->leases.emplace(out.id, value);
                        co_return error_code{};
                    }
                    auto now = std::chrono::steady_clock::now();
                    if (now >= deadline)
                        co_return oauth::store_errc::lock_timeout;
                    st->subscribe();
                    asio::steady_timer wake(
                        st->ex, std::min(deadline - now,
                                         std::chrono::steady_clock::duration(st->opts.lock_poll)));
                    auto& list = st->waiting[user];
                    list.push_back(&wake);
                    (void)co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
                    auto& again = st->waiting[user];
                    std::erase(again, &wake);
                    if (again.empty())
                        st->waiting.erase(user);
                    if (st->closed)
                        co_return asio::error::operation_aborted;
                }
            });
    }

    void do_unlock(std::string user, oauth::store_lease lease, unlock_handler h) override {
        run<>(std::move(h),
              [user, lease](std::shared_ptr<state> st) -> boost::asio::awaitable<error_code> {
                  auto it = st->leases.find(lease.id);
                  if (it == st->leases.end())
                      co_return oauth::store_errc::unknown_lease;
                  auto value = std::move(it->second);
                  st->leases.erase(it);
                  std::vector<std::string> args{
                      "EVAL", detail::unlock_script, "1", st->key("lease:", user),
                      value,  st->key("events", ""), user};
                  auto [ec, r] = co_await st->exec(std::move(args));
                  if (ec)
                      co_return ec;
                  co_return r.integer == 1 ? error_code{}
                                           : error_code(oauth::store_errc::unknown_lease);
              });
    }

private:
    struct state : std::enable_shared_from_this<state> {
        state(boost::asio::any_io_executor e, redis_options o)
            : ex(std::move(e))
            , opts(std::move(o))
            , cmd(std::make_shared<detail::redis_conn>(ex, opts))
            , sub(std::make_shared<detail::redis_conn>(ex, opts)) {}

        boost::asio::any_io_executor ex;
        redis_options opts;
        std::shared_ptr<detail::redis_conn> cmd, sub; // commands; the subscription
        std::map<std::uint64_t, std::string> leases;  // held: their random values
        std::uint64_t next = 0;
        std::map<std::string, std::vector<boost::asio::steady_timer*>, std::less<>> waiting;
        bool subscribing = false;
        bool closed = false;

        std::string key(std::string_view kind, std::string_view user) const {
            return opts.prefix + std::string(kind) + std::string(user);
        }

        boost::asio::awaitable<std::tuple<error_code, detail::redis_reply>>
        exec(std::vector<std::string> args) {
            error_code ec = boost::asio::error::operation_aborted;
            if (!closed)
                ec = co_await cmd->ensure();
            if (ec)
                co_return std::tuple<error_code, detail::redis_reply>{ec, {}};
            auto r = co_await cmd->async_exec(std::move(args),
                                              boost::asio::as_tuple(boost::asio::use_awaitable));
            co_return r;
        }

        // Keeps a subscription to the events channel while the store lives: each message
        // wakes the lock waiters of its user.
        void subscribe() {
            if (subscribing)
                return;
            subscribing = true;
            sub->on_message = [w = weak_from_this()](const detail::redis_reply& m) {
                auto s = w.lock();
                if (!s || m.elements.size() != 3 || m.elements[0].str != "message")
                    return;
                if (auto it = s->waiting.find(m.elements[2].str); it != s->waiting.end())
                    for (auto* t : it->second)
                        t->cancel();
            };
            boost::asio::co_spawn(ex, subscription(shared_from_this()), boost::asio::detached);
        }

        static boost::asio::awaitable<void> subscription(std::shared_ptr<state> s) {
            while (!s->closed) {
                if (!co_await s->sub->ensure()) {
                    std::vector<std::string> args{"SUBSCRIBE", s->key("events", "")};
                    (void)co_await s->sub->async_exec(
                        std::move(args), boost::asio::as_tuple(boost::asio::use_awaitable), true);
                    co_await s->sub->wait_closed();
                } else {
                    boost::asio::steady_timer t(s->ex, s->opts.reconnect_min);
                    (void)co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                }
            }
        }
    };

    template <class... Ts, class Handler, class Body>
    void run(Handler h, Body body) {
        joinme::detail::async_run<Ts...>(
            st_->ex, std::move(h),
            [st = st_, body = std::move(body)](Ts&... out) { return body(st, out...); });
    }

    std::shared_ptr<state> st_;
};

} // namespace joinme::store

#endif
