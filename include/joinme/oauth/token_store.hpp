// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_TOKEN_STORE_HPP
#define JOINME_OAUTH_TOKEN_STORE_HPP

/// @file
/// Where a `token_source` keeps tokens: the `token_store` interface (asynchronous, keyed by
/// user, versioned), an in-memory store, and a file store shared safely by several processes.
///
/// The protocol a token source follows, which a store implementation must support:
/// 1. `async_lock(user, max_hold)` before a refresh: an exclusive lease, so that processes
///    sharing the store do not refresh (and rotate) the same refresh token at once. The
///    holder promises to release it within `max_hold`; a store may break an older lease
///    (a Redis store would give the lock that TTL).
/// 2. `async_load(user)`: the stored token and its version. A version other than the one the
///    source last saw means another process stored a newer token, which is adopted.
/// 3. `async_save(user, token, expected_version)`: compare-and-swap; it succeeds only when
///    the stored version still equals `expected_version` (`any_version`: unconditionally) and
///    returns the new version. A mismatch is `store_errc::conflict`.
/// 4. `async_unlock(user, lease)`.

#include <joinme/detail/async_run.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/token.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace joinme::oauth {

/// Failures particular to token stores. A token source reports any store failure to its
/// callers as `errc::token_store_failed`, with the store's message in
/// `diagnostics::client_message`.
enum class store_errc {
    conflict = 1,  ///< `async_save`'s expected version is no longer the stored one.
    lock_timeout,  ///< The lease could not be obtained within the store's wait limit.
    corrupt,       ///< The stored data could not be read back as tokens.
    unknown_lease, ///< `async_unlock` with a lease the store does not hold.
    unavailable,   ///< The store (a server) cannot be reached or did not answer in time.
    refused,       ///< The store (a server) refused a command.
    bad_key,       ///< A stored token could not be decrypted with the key given to the store.
};

} // namespace joinme::oauth

namespace boost::system {
template <>
struct is_error_code_enum<joinme::oauth::store_errc> : std::true_type {};
} // namespace boost::system

namespace joinme::oauth {

namespace detail {

inline constexpr joinme::detail::errc_info store_errc_table[] = {
    {"conflict", "the stored token changed since it was read; read it again"},
    {"lock_timeout", "the token store's lock was not obtained in time; another process holds it"},
    {"corrupt", "the token store holds data that is not a valid token; remove or repair it"},
    {"unknown_lease", "the token store does not hold this lease"},
    {"unavailable", "the token store cannot be reached or did not answer in time; check that it "
                    "runs and its address"},
    {"refused", "the token store refused a command; see the store's last_error() and its log"},
    {"bad_key", "a stored token cannot be decrypted with this key (or is stored in clear while a "
                "key is set); use the key it was stored with"},
};

} // namespace detail

/// The category of `store_errc` values. Its name is "joinme.store".
inline const boost::system::error_category& store_category() noexcept {
    static const joinme::detail::table_category<detail::store_errc_table> c(
        "joinme.store", "unknown token store error");
    return c;
}

/// Makes an `error_code` of `store_category()` from `e`.
inline error_code make_error_code(store_errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

/// A token as stored, with the version the store gave it. Versions start at 1 and grow with
/// every save.
struct stored_token {
    oauth::token value;        ///< The token.
    std::uint64_t version = 0; ///< The store's version of this user's entry.
};

/// `async_save`'s expected version meaning "whatever is stored": an unconditional write.
inline constexpr std::uint64_t any_version = std::numeric_limits<std::uint64_t>::max();

/// An exclusive lease on a user's entry, returned by `async_lock`.
struct store_lease {
    std::uint64_t id = 0; ///< Opaque; 0 is never a held lease.
};

/// Keeps tokens per user, for a token source and for the processes sharing it.
///
/// Implementations override the `do_*` functions. Each must complete its handler through the
/// handler's associated executor (never inline from the call), exactly once. A store may do
/// blocking work (the file store does small, local file I/O) but must never wait for the
/// network or another process without a bound.
///
/// Thread safety: an implementation documents its own; the ones here are used from one
/// executor (give them a strand on a multi-threaded io_context).
class token_store {
public:
    /// Handler of `async_load`.
    using load_handler =
        boost::asio::any_completion_handler<void(error_code, std::optional<stored_token>)>;
    /// Handler of `async_save`.
    using save_handler = boost::asio::any_completion_handler<void(error_code, std::uint64_t)>;
    /// Handler of `async_lock`.
    using lock_handler = boost::asio::any_completion_handler<void(error_code, store_lease)>;
    /// Handler of `async_unlock`.
    using unlock_handler = boost::asio::any_completion_handler<void(error_code)>;

    virtual ~token_store() = default;

    /// Reads `user`'s token. Completion: `void(error_code, std::optional<stored_token>)`, an
    /// empty optional when nothing is stored for `user`.
    template <class Token>
    auto async_load(std::string user, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, std::optional<stored_token>)>(
            [this](load_handler h, std::string user) { do_load(std::move(user), std::move(h)); },
            token, std::move(user));
    }

    /// Stores `t` for `user` if the stored version is still `expected_version` (0: nothing
    /// stored; `any_version`: whatever is stored). Completion: `void(error_code,
    /// std::uint64_t new_version)`. Errors: `store_errc::conflict`, the store's I/O errors.
    template <class Token>
    auto async_save(std::string user, oauth::token t, std::uint64_t expected_version,
                    Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, std::uint64_t)>(
            [this](save_handler h, std::string user, oauth::token t, std::uint64_t v) {
                do_save(std::move(user), std::move(t), v, std::move(h));
            },
            token, std::move(user), std::move(t), expected_version);
    }

    /// Takes the exclusive lease on `user`'s entry, waiting (within the store's own limit)
    /// while another holder has it. The caller releases it within `max_hold`. Completion:
    /// `void(error_code, store_lease)`. Errors: `store_errc::lock_timeout`, I/O errors.
    template <class Token>
    auto async_lock(std::string user, std::chrono::milliseconds max_hold, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, store_lease)>(
            [this](lock_handler h, std::string user, std::chrono::milliseconds d) {
                do_lock(std::move(user), d, std::move(h));
            },
            token, std::move(user), max_hold);
    }

    /// Releases a lease. Completion: `void(error_code)`.
    template <class Token>
    auto async_unlock(std::string user, store_lease lease, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](unlock_handler h, std::string user, store_lease l) {
                do_unlock(std::move(user), l, std::move(h));
            },
            token, std::move(user), lease);
    }

protected:
    /// See `async_load`.
    virtual void do_load(std::string user, load_handler h) = 0;
    /// See `async_save`.
    virtual void do_save(std::string user, oauth::token t, std::uint64_t expected_version,
                         save_handler h) = 0;
    /// See `async_lock`.
    virtual void do_lock(std::string user, std::chrono::milliseconds max_hold, lock_handler h) = 0;
    /// See `async_unlock`.
    virtual void do_unlock(std::string user, store_lease lease, unlock_handler h) = 0;

    /// Completes `h` with `args` through its associated executor (default `ex`), never inline.
    template <class Handler, class... Args>
    static void complete(const boost::asio::any_io_executor& ex, Handler h, Args&&... args) {
        boost::asio::post(ex, boost::asio::append(std::move(h), std::forward<Args>(args)...));
    }
};

namespace detail {

// An exclusive lock per key with a FIFO of waiters, each waiting at most `wait`.
class lease_table {
public:
    explicit lease_table(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    boost::asio::awaitable<error_code> acquire(std::string key, std::chrono::milliseconds wait,
                                               store_lease& out) {
        auto& e = entries_[key];
        if (e.holder != 0) {
            waiter w{boost::asio::steady_timer(ex_, wait)};
            e.waiters.push_back(&w);
            (void)co_await w.timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
            auto& e2 = entries_[key];
            if (!w.granted) {
                std::erase(e2.waiters, &w);
                co_return store_errc::lock_timeout;
            }
            // `release` handed the lease over to this waiter.
            out = store_lease{e2.holder};
            co_return error_code{};
        }
        e.holder = ++next_;
        out = store_lease{e.holder};
        co_return error_code{};
    }

    error_code release(const std::string& key, store_lease lease) {
        auto it = entries_.find(key);
        if (it == entries_.end() || lease.id == 0 || it->second.holder != lease.id)
            return store_errc::unknown_lease;
        auto& e = it->second;
        e.holder = 0;
        if (!e.waiters.empty()) {
            waiter* w = e.waiters.front();
            e.waiters.pop_front();
            e.holder = ++next_;
            w->granted = true;
            w->timer.cancel();
        }
        return {};
    }

private:
    struct waiter {
        boost::asio::steady_timer timer;
        bool granted = false;
    };
    struct entry {
        std::uint64_t holder = 0;
        std::deque<waiter*> waiters;
    };
    boost::asio::any_io_executor ex_;
    std::map<std::string, entry, std::less<>> entries_;
    std::uint64_t next_ = 0;
};

} // namespace detail

/// Tokens in memory, for one process: tests, and programs that keep nothing across runs.
///
/// Leases are exclusive per user; a caller waiting for one gives up after `lock_wait` with
/// `store_errc::lock_timeout`. `max_hold` is not enforced: the holder bounds itself (a token
/// source releases its lease on every path within its refresh timeout).
///
/// Thread safety: not thread-safe; use it from its executor (a strand on a multi-threaded
/// io_context). Lifetime: the store must outlive its operations.
class memory_token_store : public token_store {
public:
    /// @param ex         executor its handlers default to and its timers run on.
    /// @param lock_wait  how long `async_lock` waits for another holder.
    explicit memory_token_store(boost::asio::any_io_executor ex,
                                std::chrono::milliseconds lock_wait = std::chrono::seconds(60))
        : ex_(std::move(ex))
        , leases_(std::make_shared<detail::lease_table>(ex_))
        , lock_wait_(lock_wait) {}

    /// The executor its handlers default to.
    const boost::asio::any_io_executor& get_executor() const noexcept { return ex_; }

    /// Saves made so far (for tests and monitoring).
    std::size_t saves() const noexcept { return saves_; }

protected:
    void do_load(std::string user, load_handler h) override {
        auto it = tokens_.find(user);
        std::optional<stored_token> out;
        if (it != tokens_.end())
            out = it->second;
        complete(ex_, std::move(h), error_code{}, std::move(out));
    }

    void do_save(std::string user, oauth::token t, std::uint64_t expected,
                 save_handler h) override {
        auto& slot = tokens_[user];
        if (expected != any_version && slot.version != expected) {
            if (slot.version == 0)
                tokens_.erase(user);
            return complete(ex_, std::move(h), error_code(store_errc::conflict), std::uint64_t{0});
        }
        slot.value = std::move(t);
        ++slot.version;
        ++saves_;
        complete(ex_, std::move(h), error_code{}, slot.version);
    }

    void do_lock(std::string user, std::chrono::milliseconds, lock_handler h) override {
        auto leases = leases_;
        joinme::detail::async_run<store_lease>(
            ex_, std::move(h),
            [leases, user = std::move(user), wait = lock_wait_](store_lease& out) {
                return leases->acquire(user, wait, out);
            });
    }

    void do_unlock(std::string user, store_lease lease, unlock_handler h) override {
        complete(ex_, std::move(h), leases_->release(user, lease));
    }

private:
    boost::asio::any_io_executor ex_;
    std::map<std::string, stored_token, std::less<>> tokens_;
    std::shared_ptr<detail::lease_table> leases_;
    std::chrono::milliseconds lock_wait_;
    std::size_t saves_ = 0;
};

/// Settings of a `file_token_store`.
struct file_store_options {
    /// How long `async_lock` waits for a lease another process (or store object) holds.
    std::chrono::milliseconds lock_wait{60'000};
    /// How often a waiting `async_lock` tries again.
    std::chrono::milliseconds lock_poll{5};
};

/// Tokens in one JSON file, shared by every process (and every store object) that opens the
/// same path.
///
/// - The file, and the two lock files beside it (`PATH.lock`, `PATH.lease`), are created with
///   permissions 0600: the tokens are in clear, so the file is readable by its owner only.
/// - A save replaces the file atomically: a temporary file in the same directory is written,
///   flushed (`fsync`) and renamed over the old one, so a reader never sees a torn file.
/// - Saves compare and swap under an exclusive `flock` of `PATH.lock`, held only for that
///   local file I/O.
/// - Leases are an exclusive `flock` of `PATH.lease`, one per store (not per user), tried
///   without blocking and retried every `lock_poll` up to `lock_wait`. `flock` locks belong
///   to an open file, so two store objects in one process exclude each other as two processes
///   do; the kernel releases the lock of a process that dies.
///
/// File I/O is blocking and done inside the asynchronous operations: the files are small and
/// local. Handlers complete through their associated executors, never inline.
///
/// Format: `{"users": {"USER": {"version": N, "token": {...}}}}`, the token as
/// `boost::json::value_from(token)` writes it.
///
/// Thread safety: not thread-safe; use one object from one executor. Lifetime: the store must
/// outlive its operations. POSIX only.
class file_token_store : public token_store {
public:
    /// @param ex    executor its handlers default to and its timers run on.
    /// @param path  the token file; its directory must exist.
    /// @param opts  how long and how often `async_lock` waits for a lease.
    file_token_store(boost::asio::any_io_executor ex, std::filesystem::path path,
                     file_store_options opts = {})
        : ex_(std::move(ex))
        , path_(std::move(path))
        , opts_(opts)
        , st_(std::make_shared<lease_state>()) {}

    ~file_token_store() override {
        for (auto& [id, fd] : st_->fds)
            ::close(fd);
        st_->fds.clear();
    }

    file_token_store(const file_token_store&) = delete;
    file_token_store& operator=(const file_token_store&) = delete;

    /// The executor its handlers default to.
    const boost::asio::any_io_executor& get_executor() const noexcept { return ex_; }

    /// The token file.
    const std::filesystem::path& path() const noexcept { return path_; }

protected:
    void do_load(std::string user, load_handler h) override {
        error_code ec;
        auto users = read_all(ec);
        std::optional<stored_token> out;
        if (!ec)
            out = find(users, user, ec);
        complete(ex_, std::move(h), ec, std::move(out));
    }

    void do_save(std::string user, oauth::token t, std::uint64_t expected,
                 save_handler h) override {
        std::uint64_t version = 0;
        auto ec = save(user, t, expected, version);
        complete(ex_, std::move(h), ec, version);
    }

    void do_lock(std::string, std::chrono::milliseconds, lock_handler h) override {
        joinme::detail::async_run<store_lease>(
            ex_, std::move(h),
            [st = st_, lease_path = sibling(".lease"),
             opts = opts_](store_lease& out) -> boost::asio::awaitable<error_code> {
                int fd = open_private(lease_path, O_RDWR | O_CREAT);
                if (fd < 0)
                    co_return errno_code();
                auto deadline = std::chrono::steady_clock::now() + opts.lock_wait;
                for (;;) {
                    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        store_lease lease{++st->next};
                        st->fds.emplace(lease.id, fd);
                        out = lease;
                        co_return error_code{};
                    }
                    if (errno != EWOULDBLOCK && errno != EINTR) {
                        auto ec = errno_code();
                        ::close(fd);
                        co_return ec;
                    }
                    if (std::chrono::steady_clock::now() >= deadline) {
                        ::close(fd);
                        co_return store_errc::lock_timeout;
                    }
                    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor,
                                                opts.lock_poll);
                    auto [tec] =
                        co_await t.async_wait(boost::asio::as_tuple(boost::asio::deferred));
                    if (tec) {
                        ::close(fd);
                        co_return tec;
                    }
                }
            });
    }

    void do_unlock(std::string, store_lease lease, unlock_handler h) override {
        auto it = st_->fds.find(lease.id);
        error_code ec;
        if (it == st_->fds.end()) {
            ec = store_errc::unknown_lease;
        } else {
            ::flock(it->second, LOCK_UN);
            ::close(it->second);
            st_->fds.erase(it);
        }
        complete(ex_, std::move(h), ec);
    }

private:
    struct lease_state {
        std::map<std::uint64_t, int> fds; // held leases
        std::uint64_t next = 0;
    };

    static error_code errno_code() { return error_code(errno, boost::system::system_category()); }

    static int open_private(const std::filesystem::path& p, int flags) {
        int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0600);
        if (fd >= 0)
            ::fchmod(fd, 0600);
        return fd;
    }

    std::filesystem::path sibling(std::string_view suffix) const {
        auto p = path_;
        p += std::string(suffix);
        return p;
    }

    // The whole file as the `users` object; empty when the file does not exist.
    boost::json::object read_all(error_code& ec) const {
        ec = {};
        int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT)
                ec = errno_code();
            return {};
        }
        std::string text;
        char buf[4096];
        for (;;) {
            auto n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                ec = errno_code();
                ::close(fd);
                return {};
            }
            if (n == 0)
                break;
            text.append(buf, static_cast<std::size_t>(n));
            if (text.size() > max_file_size) {
                ::close(fd);
                ec = store_errc::corrupt;
                return {};
            }
        }
        ::close(fd);
        boost::json::error_code jec;
        auto v = boost::json::parse(text, jec);
        const boost::json::object* users = nullptr;
        if (!jec && v.is_object())
            if (auto* u = v.as_object().if_contains("users"))
                users = u->if_object();
        if (!users) {
            ec = store_errc::corrupt;
            return {};
        }
        return *users;
    }

    static std::optional<stored_token> find(const boost::json::object& users, std::string_view user,
                                            error_code& ec) {
        const auto* e = users.if_contains(user);
        if (!e)
            return std::nullopt;
        const auto* o = e->if_object();
        const boost::json::value* version = o ? o->if_contains("version") : nullptr;
        const boost::json::value* tok = o ? o->if_contains("token") : nullptr;
        if (!version || !tok || !version->is_number()) {
            ec = store_errc::corrupt;
            return std::nullopt;
        }
        auto t = boost::json::try_value_to<oauth::token>(*tok);
        boost::json::error_code vec;
        auto n = version->to_number<std::uint64_t>(vec);
        if (!t || vec) {
            ec = store_errc::corrupt;
            return std::nullopt;
        }
        return stored_token{std::move(*t), n};
    }

    error_code save(const std::string& user, const oauth::token& t, std::uint64_t expected,
                    std::uint64_t& version) {
        int lock = open_private(sibling(".lock"), O_RDWR | O_CREAT);
        if (lock < 0)
            return errno_code();
        // Held for local file I/O only, so a blocking wait is short.
        while (::flock(lock, LOCK_EX) != 0) {
            if (errno != EINTR) {
                auto ec = errno_code();
                ::close(lock);
                return ec;
            }
        }
        auto ec = save_locked(user, t, expected, version);
        ::flock(lock, LOCK_UN);
        ::close(lock);
        return ec;
    }

    error_code save_locked(const std::string& user, const oauth::token& t, std::uint64_t expected,
                           std::uint64_t& version) {
        error_code ec;
        auto users = read_all(ec);
        if (ec)
            return ec;
        auto current = find(users, user, ec);
        if (ec)
            return ec;
        std::uint64_t stored = current ? current->version : 0;
        if (expected != any_version && expected != stored)
            return store_errc::conflict;
        version = stored + 1;
        boost::json::object entry;
        entry["version"] = version;
        entry["token"] = boost::json::value_from(t);
        users[user] = std::move(entry);
        boost::json::object root;
        root["users"] = std::move(users);
        auto text = boost::json::serialize(root);

        auto tmp = path_;
        tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(std::random_device{}());
        int fd = open_private(tmp, O_WRONLY | O_CREAT | O_EXCL);
        if (fd < 0)
            return errno_code();
        std::size_t done = 0;
        while (done < text.size()) {
            auto n = ::write(fd, text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                ec = errno_code();
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        if (!ec && ::fsync(fd) != 0)
            ec = errno_code();
        ::close(fd);
        if (!ec && ::rename(tmp.c_str(), path_.c_str()) != 0)
            ec = errno_code();
        if (ec)
            ::unlink(tmp.c_str());
        return ec;
    }

    static constexpr std::size_t max_file_size = 16 * 1024 * 1024;

    boost::asio::any_io_executor ex_;
    std::filesystem::path path_;
    file_store_options opts_;
    std::shared_ptr<lease_state> st_;
};

} // namespace joinme::oauth

#endif
