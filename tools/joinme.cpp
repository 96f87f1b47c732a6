// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// joinme: the join.me REST API from the command line. `joinme login` authorizes through the
// system browser and a loopback redirect listener (RFC 8252), and caches the token in
// $XDG_CONFIG_HOME/joinme/token.json (0600); every other command uses it, refreshed as needed,
// safely shared by concurrent processes (the file store's lock). docs/cli.md is the reference:
// commands, options, environment, files and exit codes.
//
// Never printed: the client secret, an access or refresh token, an authorization code, the
// PKCE verifier. Errors are one line on stderr with what the server said (joinme's
// diagnostics, already redacted).

#include <joinme/joinme.hpp>
#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>
#include <joinme/transport/proxy.hpp>

#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace oauth = joinme::oauth;
namespace api = joinme::api;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
// Directly, or through the HTTP proxy of https_proxy / http_proxy (see `session::open`).
using client_type = api::basic_client<joinme::proxy_stream>;

// Exit codes (docs/cli.md, "EXIT STATUS").
enum exit_status : int {
    exit_ok = 0,
    exit_api = 1,           // the API or the authorization server refused (4xx, 5xx, OAuth error)
    exit_usage = 2,         // bad command line
    exit_not_logged_in = 3, // no usable token: run `joinme login`
    exit_network = 4,       // connection, TLS or timeout
    exit_login = 5,         // login not completed: consent declined, or nobody answered in time
    exit_local = 6,         // local files: the token file, the CA file, the secret file
};

constexpr std::string_view default_scopes = "user_info scheduler start_meeting";
constexpr std::string_view sandbox_scopes = "user_info scheduler start_meeting provisioning";

// A failure the program itself detects, with its exit status.
struct cli_error : std::runtime_error {
    cli_error(int s, const std::string& what) : std::runtime_error(what), status(s) {}
    int status;
};

// ---------------------------------------------------------------------------------------------
// Settings from the command line and the environment.

struct settings {
    bool json = false;
    bool sandbox = false;
    std::string sandbox_user = "pro@example.com";
    std::string auth_base;
    std::string api_base;
    std::string ca_file;
    std::string client_id;
    std::string client_secret_file;
    std::string token_file;
};

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

fs::path config_dir() {
    if (auto x = env("XDG_CONFIG_HOME"); !x.empty())
        return fs::path(x) / "joinme";
    if (auto h = env("HOME"); !h.empty())
        return fs::path(h) / ".config" / "joinme";
    throw cli_error(exit_local, "neither XDG_CONFIG_HOME nor HOME is set; use --token-file");
}

// The token file, its directory created (0700) when missing.
fs::path token_path(const settings& s) {
    fs::path p = !s.token_file.empty()
                     ? fs::path(s.token_file)
                     : config_dir() / (s.sandbox ? "sandbox-token.json" : "token.json");
    if (p.has_parent_path() && !fs::exists(p.parent_path())) {
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        if (ec)
            throw cli_error(exit_local,
                            "cannot create " + p.parent_path().string() + ": " + ec.message());
        fs::permissions(p.parent_path(), fs::perms::owner_all, ec);
    }
    return p;
}

// The client secret: the file named by --client-secret-file (first line), else
// JOINME_CLIENT_SECRET, else none.
joinme::secret client_secret(const settings& s) {
    if (!s.client_secret_file.empty()) {
        std::ifstream in(s.client_secret_file);
        std::string line;
        if (!in || !std::getline(in, line))
            throw cli_error(exit_local,
                            "cannot read the client secret from " + s.client_secret_file);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        return joinme::secret(std::move(line));
    }
    return joinme::secret(env("JOINME_CLIENT_SECRET"));
}

// ---------------------------------------------------------------------------------------------
// Output: one JSON document on stdout with --json, text otherwise.

std::string iso(std::chrono::sys_seconds t) {
    return joinme::format_iso8601(t);
}

void print_json(const json::value& v) {
    std::cout << json::serialize(v) << "\n";
}

void print_meeting(const api::meeting& m) {
    std::cout << m.meeting_id << "  " << m.meeting_name << "\n"
              << "  " << iso(m.meeting_start) << " - " << iso(m.meeting_end)
              << (m.start_with_personal_url ? "  (personal URL)" : "") << "\n";
    if (!m.participants.empty()) {
        std::cout << "  participants:";
        for (auto& p : m.participants)
            std::cout << " " << p;
        std::cout << "\n";
    }
    if (m.conference_id)
        std::cout << "  conference id: " << *m.conference_id << "\n";
    if (m.viewer_link)
        std::cout << "  viewer link: " << *m.viewer_link << "\n";
}

void print_presenter(const api::presenter& p) {
    std::cout << p.id << "  " << p.email
              << (p.is_invitation_accepted ? "" : "  (invitation pending)")
              << (p.is_seat_assigned ? "  (seat assigned)" : "") << "\n";
}

void print_started(const api::start_result& r) {
    std::cout << "presenter link (one-time, 10 minutes): " << r.presenter_link << "\n"
              << "viewer link: " << r.viewer_link << "\n";
    if (r.audio_conference)
        std::cout << "conference id: " << r.audio_conference->conference_id << "\n";
}

json::value token_json(const oauth::token& t, oauth::time_point now) {
    json::object o;
    o["logged_in"] = true;
    o["token_type"] = t.token_type;
    o["obtained_at"] = iso(t.obtained_at);
    if (t.expires_at) {
        o["expires_at"] = iso(*t.expires_at);
        o["expires_in"] =
            std::chrono::duration_cast<std::chrono::seconds>(*t.expires_at - now).count();
        o["expired"] = t.expired(now);
    } else {
        o["expires_at"] = nullptr;
    }
    json::array scopes;
    for (auto& n : t.scopes.names())
        scopes.emplace_back(n);
    o["scopes"] = std::move(scopes);
    o["refreshable"] = t.refreshable();
    return o;
}

// ---------------------------------------------------------------------------------------------
// Forgetting a cached token. The file store has no erase operation: this removes the entry
// under the store's own save lock (`PATH.lock`), in its documented format, and replaces the
// file the way the store does (write a temporary file, fsync, rename).

void forget_token(const fs::path& path, const std::string& key) {
    auto lock_path = path;
    lock_path += ".lock";
    int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0)
        throw cli_error(exit_local, "cannot open " + lock_path.string());
    struct unlocker {
        int fd;
        ~unlocker() {
            ::flock(fd, LOCK_UN);
            ::close(fd);
        }
    } guard{lock};
    while (::flock(lock, LOCK_EX) != 0)
        if (errno != EINTR)
            throw cli_error(exit_local, "cannot lock " + lock_path.string());

    std::ifstream in(path, std::ios::binary);
    if (!in)
        return; // nothing cached
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code jec;
    auto doc = json::parse(text.str(), jec);
    json::object* users = nullptr;
    if (!jec && doc.is_object())
        if (auto* u = doc.as_object().if_contains("users"))
            users = u->if_object();
    if (!users)
        throw cli_error(exit_local, path.string() + " is not a token file; remove it by hand");
    users->erase(key);
    if (users->empty()) {
        fs::remove(path);
        return;
    }
    auto tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    auto out = json::serialize(doc);
    bool ok = fd >= 0 && ::write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size()) &&
              ::fsync(fd) == 0;
    if (fd >= 0)
        ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
        throw cli_error(exit_local, "cannot rewrite " + path.string());
}

// ---------------------------------------------------------------------------------------------
// The program's state for one command.

class session {
public:
    session(asio::io_context& ioc, settings s) : ioc_(ioc), s_(std::move(s)) {}

    const settings& opts() const { return s_; }
    asio::any_io_executor executor() { return ioc_.get_executor(); }

    // Starts the sandbox (with --sandbox) and makes the client; reads no token yet.
    void open() {
        auto ssl = std::make_shared<asio::ssl::context>(joinme::make_client_tls_context(
            s_.ca_file.empty() && !s_.sandbox ? joinme::trust_store::system
                                              : joinme::trust_store::none));
        oauth_.client_id = s_.client_id;
        oauth_.client_secret = client_secret(s_);
        std::string auth_base = s_.auth_base, api_base = s_.api_base;
        if (s_.sandbox) {
            joinme::sandbox::options so;
            so.auto_consent = true;
            so.current_user = s_.sandbox_user;
            sandbox_ = std::make_unique<joinme::sandbox::server>(executor(), so);
            sandbox_->listen_tls();
            ssl->add_certificate_authority(asio::buffer(sandbox_->certificate_pem()));
            // Only the sandbox's own applications are registered there.
            auth_base = api_base = sandbox_->base_url();
            oauth_.client_id = joinme::sandbox::default_business_client_id;
            oauth_.client_secret = joinme::secret(joinme::sandbox::default_client_secret);
        } else if (!s_.ca_file.empty()) {
            boost::system::error_code ec;
            ssl->load_verify_file(s_.ca_file, ec);
            if (ec)
                throw cli_error(exit_local,
                                "cannot load the CA file " + s_.ca_file + ": " + ec.message());
        }
        if (oauth_.client_id.empty())
            throw cli_error(exit_usage, "no client id: give --client-id or set JOINME_CLIENT_ID");
        // One of the two bases given: the other is the same server.
        if (auth_base.empty())
            auth_base = api_base;
        if (api_base.empty())
            api_base = auth_base;
        if (!auth_base.empty())
            oauth_.set_auth_base_url(auth_base);
        auth_base_ = auth_base.empty() ? std::string("https://secure.join.me") : auth_base;

        path_ = token_path(s_);
        store_ = std::make_shared<oauth::file_token_store>(executor(), path_);
        api::client_config cfg;
        cfg.oauth = oauth_;
        if (!api_base.empty())
            cfg.api_base_url = api_base;
        cfg.token_source.store = store_;
        cfg.token_source.user = store_key();
        // The proxy of the environment, read as curl reads it; loopback origins (the sandbox,
        // the redirect listener) are never proxied.
        joinme::error_code pec;
        std::string why;
        cfg.proxy = joinme::proxy_config_from_environment(pec, {}, &why);
        if (pec)
            throw cli_error(exit_usage, why);
        client_.emplace(executor(), joinme::proxy_context(joinme::tls_context(ssl)), cfg);
    }

    // With --sandbox, also forgets the token: it dies with the sandbox.
    void close() {
        if (client_)
            client_->close();
        if (sandbox_) {
            sandbox_->stop();
            forget_token(path_, store_key());
        }
    }

    client_type& client() { return *client_; }
    const oauth::config& oauth_config() const { return oauth_; }
    const fs::path& token_file() const { return path_; }
    oauth::file_token_store& store() { return *store_; }
    joinme::sandbox::server* sandbox() { return sandbox_.get(); }

    // Tokens are kept per application and authorization server.
    std::string store_key() const { return oauth_.client_id + " " + auth_base_; }

    // The cached token, or exit 3.
    asio::awaitable<oauth::token> cached_token() {
        auto stored = co_await store_->async_load(store_key(), asio::use_awaitable);
        if (!stored)
            throw cli_error(exit_not_logged_in, "not logged in: run `joinme login`");
        co_return stored->value;
    }

private:
    asio::io_context& ioc_;
    settings s_;
    oauth::config oauth_;
    std::string auth_base_;
    fs::path path_;
    std::unique_ptr<joinme::sandbox::server> sandbox_;
    std::shared_ptr<oauth::file_token_store> store_;
    std::optional<client_type> client_;
};

// ---------------------------------------------------------------------------------------------
// Login.

struct login_options {
    bool implicit = false;
    std::string scopes{default_scopes};
    std::uint16_t port = 0;
    int timeout = 300; // seconds
};

// Starts `xdg-open URL` without a shell and without waiting; false when it cannot be started.
bool open_browser(const std::string& url) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::string prog = "xdg-open";
    std::vector<char*> argv{prog.data(), const_cast<char*>(url.c_str()), nullptr};
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, "xdg-open", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0;
}

// Shows a spinner and the time left on a terminal until `done` is set.
asio::awaitable<void> spinner(std::shared_ptr<bool> done,
                              std::chrono::steady_clock::time_point end) {
    constexpr std::string_view frames = "|/-\\";
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (std::size_t i = 0; !*done; ++i) {
        auto left = std::chrono::duration_cast<std::chrono::seconds>(
            end - std::chrono::steady_clock::now());
        if (left < 0s)
            left = 0s;
        std::fprintf(stderr,
                     "\r%c Waiting for the authorization in the browser (%lld:%02lld left) ",
                     frames[i % frames.size()], static_cast<long long>(left.count() / 60),
                     static_cast<long long>(left.count() % 60));
        std::fflush(stderr);
        timer.expires_after(100ms);
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        (void)ec;
    }
}

// Waits for the browser's redirect on a loopback listener.
asio::awaitable<oauth::redirect_response> wait_for_browser(session& s,
                                                           joinme::loopback::redirect_listener& l,
                                                           const oauth::authorization_request& sent,
                                                           std::chrono::seconds timeout) {
    if (!env("DISPLAY").empty() || !env("WAYLAND_DISPLAY").empty()) {
        if (open_browser(sent.url))
            std::cerr << "Opening the browser. If it does not open, visit: " << sent.url << "\n";
        else
            std::cerr << "Open this URL in a browser: " << sent.url << "\n";
    } else {
        std::cerr << "Open this URL in a browser: " << sent.url << "\n";
    }
    // The spinner stops when the wait ends, whichever way.
    auto done = std::make_shared<bool>(false);
    struct stop_spinner {
        std::shared_ptr<bool> done;
        bool tty = ::isatty(STDERR_FILENO) != 0;
        ~stop_spinner() {
            *done = true;
            if (tty)
                std::fputs("\r\033[K", stderr); // erase its line
        }
    } stop{done};
    if (stop.tty)
        asio::co_spawn(s.executor(), spinner(done, std::chrono::steady_clock::now() + timeout),
                       asio::detached);
    joinme::diagnostics diag;
    auto [ec, got] =
        co_await l.async_wait_redirect(sent, diag, asio::as_tuple(asio::use_awaitable));
    if (ec == joinme::errc::timeout)
        throw cli_error(exit_login, "login: no answer from the browser within " +
                                        std::to_string(timeout.count()) + " s");
    joinme::throw_on_error(ec, diag);
    co_return got;
}

// With --sandbox: the in-process sandbox consents by itself; follow its redirect here.
asio::awaitable<oauth::redirect_response> follow_sandbox(session& s,
                                                         const oauth::authorization_request& sent) {
    joinme::http::request req;
    req.version(11);
    boost::urls::url_view url(sent.url);
    auto res = co_await s.client().pool().async_request(boost::beast::http::verb::get, url,
                                                        std::move(req));
    if (res.result() != boost::beast::http::status::found)
        throw cli_error(exit_api, "the sandbox refused the authorization request: status " +
                                      std::to_string(res.result_int()));
    std::string location(res[boost::beast::http::field::location]);
    co_return oauth::parse_redirect(location, sent, std::chrono::system_clock::now());
}

// Authorizes, saves the token to the store and returns it.
asio::awaitable<oauth::token> login(session& s, const login_options& lo) {
    joinme::loopback::listener_options o;
    o.ports = {lo.port};
    o.timeout = std::chrono::seconds(lo.timeout);
    o.application_name = "joinme";
    joinme::loopback::redirect_listener listener(s.executor(), o);
    oauth::config cfg = s.oauth_config();
    if (s.sandbox()) {
        cfg.redirect_uri = "http://127.0.0.1/callback";
    } else {
        listener.listen();
        cfg.redirect_uri = listener.redirect_uri();
    }
    oauth::authorization_options ao;
    ao.type = lo.implicit ? oauth::response_type::token : oauth::response_type::code;
    ao.scopes = oauth::scope_set::parse(lo.scopes);
    ao.pkce = !lo.implicit;
    auto sent = oauth::make_authorization_request(cfg, ao);

    oauth::redirect_response got;
    if (s.sandbox())
        got = co_await follow_sandbox(s, sent);
    else
        got = co_await wait_for_browser(s, listener, sent, std::chrono::seconds(lo.timeout));

    oauth::token t;
    if (got.implicit_token) {
        t = *got.implicit_token;
    } else {
        auto& pool = s.client().pool();
        t = co_await oauth::async_exchange_code(pool, cfg, sent, got);
    }
    co_await s.store().async_save(s.store_key(), t, oauth::any_version, asio::use_awaitable);
    co_return t;
}

// ---------------------------------------------------------------------------------------------
// Commands. Each is a coroutine over the session; it prints its result and returns.

using action = std::function<asio::awaitable<void>(session&)>;

// Checks an ISO 8601 time while the command line is parsed.
const CLI::Validator iso_time(
    [](const std::string& text) {
        return joinme::parse_iso8601(text) ? std::string()
                                           : "not an ISO 8601 time, e.g. 2026-12-24T09:00:00Z";
    },
    "TIME");

std::chrono::sys_seconds parse_time(const std::string& text, const char* what) {
    auto t = joinme::parse_iso8601(text);
    if (!t)
        throw cli_error(exit_usage, std::string(what) + ": not an ISO 8601 time (" + text +
                                        "), e.g. 2026-12-24T09:00:00Z");
    return *t;
}

struct meeting_args {
    std::int64_t id = 0;
    std::string name;
    std::string start;
    std::string end;
    std::vector<std::string> participants;
    bool personal_url = false;
    bool no_personal_url = false;
    std::string end_date;
};

struct start_args {
    bool personal_url = false;
    std::string viewer_mode;
    bool no_app_detection = false;
};

api::start_request make_start(const start_args& a) {
    api::start_request r;
    r.start_with_personal_url = a.personal_url;
    if (a.viewer_mode == "headless")
        r.viewer_mode = api::viewer_mode::headless;
    else if (a.viewer_mode == "default")
        r.viewer_mode = api::viewer_mode::default_viewer;
    if (a.no_app_detection)
        r.viewer_app_detection = false;
    return r;
}

// ---------------------------------------------------------------------------------------------
// Error reporting.

int status_for(const joinme::error_code& ec) {
    using joinme::errc;
    if (ec == errc::reauthorization_required || ec == errc::stale_token ||
        ec == errc::invalid_token || ec == joinme::oauth_errc::invalid_grant)
        return exit_not_logged_in;
    if (ec == joinme::oauth_errc::access_denied)
        return exit_login;
    if (ec == errc::token_store_failed)
        return exit_local;
    if (ec == errc::timeout || ec == errc::connection_closed || ec == errc::pool_exhausted ||
        ec == errc::certificate_untrusted || ec == errc::certificate_name_mismatch ||
        ec == errc::certificate_expired || ec == errc::certificate_not_yet_valid ||
        ec == errc::certificate_invalid || ec == errc::invalid_url ||
        ec == errc::proxy_unreachable || ec == errc::proxy_auth_required ||
        ec == errc::proxy_refused || ec == errc::proxy_origin_unreachable ||
        ec == errc::proxy_malformed_response)
        return exit_network;
    if (ec.category() == joinme::joinme_category() || ec.category() == joinme::oauth_category())
        return exit_api;
    return exit_network; // system, resolver and TLS errors
}

// One line: newlines in what the server said become spaces.
std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n' || c == '\r')
            c = ' ';
    return text;
}

int report(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const cli_error& x) {
        std::cerr << "joinme: " << one_line(x.what()) << "\n";
        return x.status;
    } catch (const joinme::error_with_diagnostics& x) {
        auto ec = x.code();
        auto detail = x.get_diagnostics().to_string();
        std::string line = "joinme: " + ec.message();
        if (ec.category() == joinme::joinme_category())
            line +=
                " (" + std::string(joinme::to_string(static_cast<joinme::errc>(ec.value()))) + ")";
        else if (ec.category() == joinme::oauth_category())
            line += " (" +
                    std::string(joinme::to_string(static_cast<joinme::oauth_errc>(ec.value()))) +
                    ")";
        if (!detail.empty())
            line += ": " + detail;
        int status = status_for(ec);
        if (status == exit_not_logged_in)
            line += "; run `joinme login`";
        std::cerr << one_line(line) << "\n";
        return status;
    } catch (const boost::system::system_error& x) {
        std::cerr << "joinme: " << one_line(x.what()) << "\n";
        return status_for(x.code());
    } catch (const std::exception& x) {
        std::cerr << "joinme: " << one_line(x.what()) << "\n";
        return exit_api;
    }
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    CLI::App app{"joinme: the join.me REST API from the command line. See docs/cli.md.", "joinme"};
    app.set_version_flag("--version", "joinme " JOINME_VERSION_STRING);
    app.fallthrough(); // global options also after the command
    app.require_subcommand(1);
    app.add_flag("--json", s.json, "Print one JSON document on standard output");
    app.add_flag("--sandbox", s.sandbox,
                 "Run against an in-process join.me sandbox: log in there without a browser "
                 "(consent given automatically), then run the command; the sandbox and its "
                 "tokens are gone when joinme exits (tokens in sandbox-token.json)");
    app.add_option("--sandbox-user", s.sandbox_user,
                   "With --sandbox: the user who logs in (pro@example.com, free@example.com, "
                   "admin@example.com)")
        ->capture_default_str();
    app.add_option("--auth-base", s.auth_base,
                   "Base URL of the authorization server (default https://secure.join.me; "
                   "defaults to --api-base when only that is given)");
    app.add_option("--api-base", s.api_base,
                   "Base URL of the REST API (default https://api.join.me; defaults to "
                   "--auth-base when only that is given)");
    app.add_option("--ca-file", s.ca_file,
                   "Trust only the certificate authorities in this PEM file (e.g. the one "
                   "`joinme-sandbox --ca-out` writes)")
        ->check(CLI::ExistingFile);
    app.add_option("--client-id", s.client_id, "The application's client id (API key)")
        ->envname("JOINME_CLIENT_ID");
    app.add_option("--client-secret-file", s.client_secret_file,
                   "Read the client secret from the first line of this file (else from "
                   "JOINME_CLIENT_SECRET; never from the command line)")
        ->check(CLI::ExistingFile);
    app.add_option("--token-file", s.token_file,
                   "The token cache (default $XDG_CONFIG_HOME/joinme/token.json)");

    action act;
    auto on = [&](CLI::App* sub, action a) { sub->callback([&act, a] { act = a; }); };

    // login
    login_options lo;
    auto* login_cmd =
        app.add_subcommand("login", "Authorize joinme in the browser and cache the token");
    login_cmd->add_flag("--implicit", lo.implicit,
                        "Use the implicit grant (a 24-hour token that cannot be refreshed)");
    login_cmd->add_option("--scopes", lo.scopes, "Space-separated scopes to request")
        ->capture_default_str();
    login_cmd
        ->add_option("--port", lo.port,
                     "Port of the loopback redirect listener (default: any free port)")
        ->check(CLI::Range(0, 65535));
    login_cmd->add_option("--timeout", lo.timeout, "Seconds to wait for the browser")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    on(login_cmd, [&lo](session& ss) -> asio::awaitable<void> {
        auto t = co_await login(ss, lo);
        std::optional<api::user> who;
        if (t.scopes.contains("user_info"))
            who = co_await ss.client().async_get_user();
        if (ss.opts().json) {
            auto v = token_json(t, std::chrono::system_clock::now());
            if (who)
                v.as_object()["user"] = json::value_from(*who);
            print_json(v);
        } else {
            std::cout << "Logged in";
            if (who)
                std::cout << " as " << who->full_name << " <" << who->email << ">";
            std::cout << "; token cached in " << ss.token_file().string() << "\n";
        }
    });

    // whoami
    on(app.add_subcommand("whoami", "Show the logged-in user (GET /v1/user)"),
       [](session& ss) -> asio::awaitable<void> {
           auto u = co_await ss.client().async_get_user();
           if (ss.opts().json)
               co_return print_json(json::value_from(u));
           std::cout << u.full_name << " <" << u.email << ">\n"
                     << "  plan: " << u.subscription_type << ", language " << u.language << ", "
                     << u.number_of_meetings_hosted << " meetings hosted\n";
           if (u.personal_url)
               std::cout << "  personal URL: " << *u.personal_url << "\n";
           if (u.conference_settings)
               std::cout << "  conference id: " << u.conference_settings->conference_id << "\n";
       });

    // meetings
    meeting_args ma;
    auto* meetings = app.add_subcommand("meetings", "Scheduled meetings");
    meetings->require_subcommand(1);
    auto* ml = meetings->add_subcommand("list", "List the upcoming scheduled meetings");
    ml->add_option("--end-date", ma.end_date, "Only meetings starting before this time (ISO 8601)")
        ->check(iso_time);
    on(ml, [&ma](session& ss) -> asio::awaitable<void> {
        api::meeting_list_filter f;
        if (!ma.end_date.empty())
            f.end_date = parse_time(ma.end_date, "--end-date");
        auto list = co_await ss.client().async_list_meetings(f);
        if (ss.opts().json) {
            json::object o;
            o["meetings"] = json::value_from(list);
            co_return print_json(o);
        }
        if (list.empty())
            std::cout << "No scheduled meetings.\n";
        for (auto& m : list)
            print_meeting(m);
    });
    auto* ms = meetings->add_subcommand("show", "Show one scheduled meeting");
    ms->add_option("id", ma.id, "Meeting id")->required();
    on(ms, [&ma](session& ss) -> asio::awaitable<void> {
        auto m = co_await ss.client().async_get_meeting(ma.id);
        if (ss.opts().json)
            co_return print_json(json::value_from(m));
        print_meeting(m);
    });
    auto* msch = meetings->add_subcommand("schedule", "Schedule a meeting");
    msch->add_option("--name", ma.name, "Meeting name")->required();
    msch->add_option("--start", ma.start, "Start time, ISO 8601 (e.g. 2026-12-24T09:00:00Z)")
        ->required()
        ->check(iso_time);
    msch->add_option("--end", ma.end, "End time, ISO 8601 (default: one hour after the start)")
        ->check(iso_time);
    msch->add_option("--participant", ma.participants, "Participant e-mail (repeatable)");
    msch->add_flag("--personal-url", ma.personal_url, "Start it with your personal URL");
    on(msch, [&ma](session& ss) -> asio::awaitable<void> {
        api::meeting_draft d;
        d.meeting_name = ma.name;
        d.meeting_start = parse_time(ma.start, "--start");
        d.meeting_end = ma.end.empty() ? d.meeting_start + 1h : parse_time(ma.end, "--end");
        d.participants = ma.participants;
        d.start_with_personal_url = ma.personal_url;
        auto m = co_await ss.client().async_schedule_meeting(d);
        if (ss.opts().json)
            co_return print_json(json::value_from(m));
        std::cout << "Scheduled:\n";
        print_meeting(m);
    });
    auto* mu =
        meetings->add_subcommand("update", "Change a scheduled meeting (only what is given)");
    mu->add_option("id", ma.id, "Meeting id")->required();
    mu->add_option("--name", ma.name, "New name");
    mu->add_option("--start", ma.start, "New start time, ISO 8601")->check(iso_time);
    mu->add_option("--end", ma.end, "New end time, ISO 8601")->check(iso_time);
    mu->add_option("--participant", ma.participants,
                   "Participant e-mail (repeatable; replaces the list)");
    auto* with_url =
        mu->add_flag("--personal-url", ma.personal_url, "Start it with your personal URL");
    mu->add_flag("--no-personal-url", ma.no_personal_url, "Start it without your personal URL")
        ->excludes(with_url);
    on(mu, [&ma](session& ss) -> asio::awaitable<void> {
        api::meeting_patch p;
        if (!ma.name.empty())
            p.meeting_name = ma.name;
        if (!ma.start.empty())
            p.meeting_start = parse_time(ma.start, "--start");
        if (!ma.end.empty())
            p.meeting_end = parse_time(ma.end, "--end");
        if (!ma.participants.empty())
            p.participants = ma.participants;
        if (ma.personal_url || ma.no_personal_url)
            p.start_with_personal_url = ma.personal_url;
        if (p.empty())
            throw cli_error(exit_usage, "meetings update: nothing to change (see --help)");
        auto m = co_await ss.client().async_update_meeting(ma.id, p);
        if (ss.opts().json)
            co_return print_json(json::value_from(m));
        std::cout << "Updated:\n";
        print_meeting(m);
    });
    auto* md = meetings->add_subcommand("delete", "Delete a scheduled meeting");
    md->add_option("id", ma.id, "Meeting id")->required();
    on(md, [&ma](session& ss) -> asio::awaitable<void> {
        co_await ss.client().async_delete_meeting(ma.id);
        if (ss.opts().json)
            co_return print_json(json::object{{"deleted", ma.id}});
        std::cout << "Deleted meeting " << ma.id << ".\n";
    });
    auto* mst = meetings->add_subcommand("start", "Start a scheduled meeting");
    mst->add_option("id", ma.id, "Meeting id")->required();
    on(mst, [&ma](session& ss) -> asio::awaitable<void> {
        api::scheduled_start_request req;
        auto r = co_await ss.client().async_start_scheduled_meeting(ma.id, req);
        if (ss.opts().json)
            co_return print_json(json::value_from(r));
        print_started(r);
    });

    // start
    start_args sa;
    auto* st = app.add_subcommand("start", "Start an ad hoc meeting");
    st->add_flag("--personal-url", sa.personal_url, "Use your personal URL");
    st->add_option("--viewer-mode", sa.viewer_mode, "Viewer: default or headless")
        ->check(CLI::IsMember({"default", "headless"}));
    st->add_flag("--no-app-detection", sa.no_app_detection,
                 "Keep viewers in the browser viewer even when the join.me app is installed");
    on(st, [&sa](session& ss) -> asio::awaitable<void> {
        auto req = make_start(sa);
        auto r = co_await ss.client().async_start_meeting(req);
        if (ss.opts().json)
            co_return print_json(json::value_from(r));
        print_started(r);
    });

    // presenters
    std::int64_t presenter_id = 0;
    std::string presenter_email;
    auto* pres = app.add_subcommand(
        "presenters",
        "Presenters of a Business account (Master Account Holder, provisioning scope)");
    pres->require_subcommand(1);
    on(pres->add_subcommand("list", "List the presenters"),
       [](session& ss) -> asio::awaitable<void> {
           auto list = co_await ss.client().async_list_presenters();
           if (ss.opts().json) {
               json::object o;
               o["presenters"] = json::value_from(list);
               co_return print_json(o);
           }
           if (list.empty())
               std::cout << "No presenters.\n";
           for (auto& p : list)
               print_presenter(p);
       });
    auto* ps = pres->add_subcommand("show", "Show one presenter");
    ps->add_option("id", presenter_id, "Presenter id")->required();
    on(ps, [&presenter_id](session& ss) -> asio::awaitable<void> {
        auto p = co_await ss.client().async_get_presenter(presenter_id);
        if (ss.opts().json)
            co_return print_json(json::value_from(p));
        print_presenter(p);
    });
    auto* pa = pres->add_subcommand("add", "Invite a presenter");
    pa->add_option("email", presenter_email, "E-mail of the user to invite")->required();
    on(pa, [&presenter_email](session& ss) -> asio::awaitable<void> {
        api::new_presenter who;
        who.email = presenter_email;
        auto p = co_await ss.client().async_add_presenter(who);
        if (ss.opts().json)
            co_return print_json(json::value_from(p));
        std::cout << "Invited:\n";
        print_presenter(p);
    });

    // token
    on(app.add_subcommand("token", "Show the cached token's expiry, scopes and whether it can be "
                                   "refreshed (never the token itself)"),
       [](session& ss) -> asio::awaitable<void> {
           auto t = co_await ss.cached_token();
           auto now = std::chrono::system_clock::now();
           if (ss.opts().json)
               co_return print_json(token_json(t, now));
           std::cout << "token file: " << ss.token_file().string() << "\n"
                     << "obtained:   " << iso(t.obtained_at) << "\n"
                     << "expires:    "
                     << (t.expires_at ? iso(*t.expires_at) + (t.expired(now) ? " (expired)" : "")
                                      : std::string("unknown"))
                     << "\n"
                     << "scopes:     " << t.scopes.to_string() << "\n"
                     << "refreshable: " << (t.refreshable() ? "yes" : "no") << "\n";
       });

    // logout
    bool expire = false;
    auto* lg = app.add_subcommand("logout", "Forget the cached token");
    lg->add_flag("--expire", expire,
                 "Also call join.me's Expire Access endpoint first. join.me documents it as a "
                 "test helper: it expires the access token only (within up to 10 minutes) and "
                 "leaves the refresh token valid, so it is no revocation");
    on(lg, [&expire](session& ss) -> asio::awaitable<void> {
        bool had = true;
        if (expire) {
            auto t = co_await ss.cached_token(); // exit 3 when there is none
            auto& pool = ss.client().pool();
            co_await oauth::async_expire_access(pool, ss.oauth_config(), t.access_token);
        } else {
            auto stored = co_await ss.store().async_load(ss.store_key(), asio::use_awaitable);
            had = stored.has_value();
        }
        forget_token(ss.token_file(), ss.store_key());
        if (ss.opts().json)
            co_return print_json(json::object{{"logged_out", had}, {"expired", expire}});
        std::cout << (had ? "Logged out" : "Was not logged in")
                  << (expire ? " (access token expired at the server)" : "") << ".\n";
    });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        std::cerr << "joinme: " << one_line(e.what()) << " (see joinme --help)\n";
        return exit_usage;
    }

    int status = exit_ok;
    try {
        asio::io_context ioc;
        session ss(ioc, s);
        ss.open();
        bool is_login = login_cmd->parsed();
        // The API commands say "not logged in" plainly rather than through the token source.
        bool api_command = !is_login && !lg->parsed() && !app.got_subcommand("token");
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                if (s.sandbox && is_login) {
                    if (lo.scopes == default_scopes)
                        lo.scopes = std::string(sandbox_scopes);
                } else if (s.sandbox) {
                    login_options auto_login;
                    auto_login.scopes = sandbox_scopes;
                    co_await login(ss, auto_login);
                } else if (api_command) {
                    co_await ss.cached_token(); // exit 3 when there is none
                }
                co_await act(ss);
            },
            [&](std::exception_ptr e) {
                if (e)
                    status = report(e);
                ss.close();
            });
        ioc.run();
    } catch (...) {
        status = report(std::current_exception());
    }
    std::cout.flush();
    return status;
}
