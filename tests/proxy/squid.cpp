// Through a real Squid (Debian's squid 5.7), started by the test on a free loopback port with
// its own configuration, folders and Basic password file, with the sandbox over TLS behind it:
// the whole OAuth flow and the API calls, Basic authentication, no_proxy, a CONNECT to a port
// Squid refuses, an origin Squid cannot reach, Squid down, and keep-alive through one tunnel.
//
// Without /usr/sbin/squid the tests say so and pass, unless JOINME_REQUIRE_SQUID=1.
#include <joinme/transport/proxy.hpp>

#include "api_client/fixture.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

template <>
struct apit::setup<joinme::proxy_stream> {
    static constexpr const char* name = "proxy";
    static joinme::proxy_context context(joinme::sandbox::server& srv,
                                         boost::asio::ssl::context& ssl) {
        srv.listen_tls();
        ssl.add_certificate_authority(boost::asio::buffer(srv.certificate_pem()));
        return joinme::proxy_context(joinme::tls_context(ssl));
    }
};

namespace {

using namespace apit;
namespace fs = std::filesystem;

constexpr const char* squid_program = "/usr/sbin/squid";
constexpr const char* ncsa_auth = "/usr/lib/squid/basic_ncsa_auth";
constexpr const char* proxy_user = "alice";
constexpr const char* proxy_password = "Squ1d-Pr0xy-Passw0rd";

// Whether the tests can run; without Squid, a message, or a failure when it is required.
bool squid_available() {
    if (fs::exists(squid_program) && fs::exists(ncsa_auth))
        return true;
    const char* required = std::getenv("JOINME_REQUIRE_SQUID");
    if (required && std::string_view(required) == "1")
        FAIL("JOINME_REQUIRE_SQUID=1 but " << squid_program << " or " << ncsa_auth
                                           << " is missing (apt-get install squid)");
    MESSAGE("squid is not installed: the Squid tests are skipped");
    return false;
}

unsigned short free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The output of `command`, run by the shell.
std::string output_of(const std::string& command) {
    std::string out;
    FILE* f = ::popen(command.c_str(), "r");
    REQUIRE(f);
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, f))
        out.append(buf, n);
    REQUIRE(::pclose(f) == 0);
    return out;
}

// One Squid process with its own folder (configuration, password file, logs).
class squid {
public:
    // `blocked_port`: CONNECT to it is denied (403).
    explicit squid(unsigned short blocked_port) : port_(free_port()) {
        char tmpl[] = "/tmp/joinme-squid-XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir_ = tmpl;
        // Squid started as root runs as the user `proxy`, which must read and write here.
        fs::permissions(dir_, fs::perms::all);
        auto hash = output_of(std::string("openssl passwd -apr1 '") + proxy_password + "'");
        write(dir_ / "passwd", std::string(proxy_user) + ":" + hash);
        std::ostringstream conf;
        conf << "http_port 127.0.0.1:" << port_ << "\n"
             << "pid_filename " << (dir_ / "squid.pid").string() << "\n"
             << "cache_log " << (dir_ / "cache.log").string() << "\n"
             << "access_log stdio:" << (dir_ / "access.log").string() << "\n"
             << "coredump_dir " << dir_.string() << "\n"
             << "netdb_filename none\n"
             << "pinger_enable off\n"
             << "shutdown_lifetime 0 seconds\n"
             << "cache deny all\n"
             << "cache_mem 4 MB\n"
             << "max_filedescriptors 1024\n"
             << "visible_hostname joinme-test-squid\n"
             << "auth_param basic program " << ncsa_auth << " " << (dir_ / "passwd").string()
             << "\n"
             << "auth_param basic children 2 startup=1\n"
             << "auth_param basic realm joinme-test\n"
             << "acl CONNECT method CONNECT\n"
             << "acl blocked port " << blocked_port << "\n"
             << "acl authenticated proxy_auth REQUIRED\n"
             << "http_access deny CONNECT blocked\n"
             << "http_access allow authenticated\n"
             << "http_access deny all\n";
        write(dir_ / "squid.conf", conf.str());

        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int fd = ::open((dir_ / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execl(squid_program, "squid", "-N", "-f", (dir_ / "squid.conf").c_str(), nullptr);
            ::_exit(127);
        }
        wait_until_listening();
    }

    ~squid() {
        stop();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    unsigned short port() const { return port_; }

    std::string url(std::string_view user = proxy_user,
                    std::string_view password = proxy_password) const {
        return "http://" + std::string(user) + ":" + std::string(password) + "@127.0.0.1:" +
               std::to_string(port_);
    }

    // Stops Squid (its log is complete afterwards: a tunnel is logged when it closes).
    void stop() {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 100; ++i) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            ::usleep(50'000);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    std::string access_log() const { return read_file(dir_ / "access.log"); }

    // Lines of the access log with a CONNECT to `authority`.
    std::size_t connects_to(const std::string& authority) const {
        std::istringstream log(access_log());
        std::size_t n = 0;
        for (std::string line; std::getline(log, line);)
            if (line.find(" CONNECT " + authority + " ") != std::string::npos)
                ++n;
        return n;
    }

private:
    static void write(const fs::path& p, const std::string& text) {
        std::ofstream(p) << text;
        fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write |
                               fs::perms::group_read | fs::perms::others_read);
    }

    void wait_until_listening() {
        for (int i = 0; i < 200; ++i) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL("squid exited: " << read_file(dir_ / "stderr.log")
                                      << read_file(dir_ / "cache.log"));
            }
            asio::io_context ioc;
            asio::ip::tcp::socket s(ioc);
            error_code ec;
            s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
            if (!ec)
                return;
            ::usleep(50'000);
        }
        FAIL("squid did not listen within 10 s: " << read_file(dir_ / "cache.log"));
    }

    unsigned short port_;
    fs::path dir_;
    pid_t pid_ = -1;
};

using proxy_env = env<joinme::proxy_stream>;
using proxy_client = proxy_env::client_type;

// A client of `e` through `proxy_url`.
api::client_config through(proxy_env& e, const std::string& proxy_url) {
    auto cfg = e.config();
    REQUIRE(!cfg.proxy.set_proxy(proxy_url));
    cfg.proxy.proxy_loopback = true; // the sandbox is on loopback
    return cfg;
}

std::string sandbox_authority(proxy_env& e) {
    auto url = boost::urls::parse_absolute_uri(e.base).value();
    return std::string(url.encoded_host_and_port());
}

std::chrono::sys_seconds hours_after(time_point base, std::chrono::hours h) {
    return std::chrono::floor<std::chrono::seconds>(base + h);
}

} // namespace

TEST_CASE("squid: the OAuth flow and every API call through the proxy, over one tunnel") {
    if (!squid_available())
        return;
    proxy_env e;
    squid proxy(1);
    auto cfg = through(e, proxy.url());
    std::size_t opened = 0;
    {
        proxy_client client(e.ioc.get_executor(), e.ctx, cfg);
        e.login(client); // the authorize page and the code exchange

        auto user = e.run(client.async_get_user());
        CHECK(user.email == "pro@example.com");
        auto started = e.run(client.async_start_meeting(api::start_request{}));
        CHECK(!started.presenter_link.empty());

        api::meeting_draft draft;
        draft.meeting_name = "Through the proxy";
        draft.meeting_start = hours_after(*e.now, 24h);
        draft.meeting_end = hours_after(*e.now, 25h);
        auto created = e.run(client.async_schedule_meeting(draft));
        auto listed = e.run(client.async_list_meetings(api::meeting_list_filter{}));
        CHECK(listed.size() == 1);
        auto got = e.run(client.async_get_meeting(created.meeting_id));
        CHECK(got.meeting_name == "Through the proxy");
        api::meeting_patch patch;
        patch.meeting_name = "Renamed through the proxy";
        auto updated = e.run(client.async_update_meeting(created.meeting_id, patch));
        CHECK(updated.meeting_name == "Renamed through the proxy");
        auto scheduled_start = e.run(client.async_start_scheduled_meeting(
            created.meeting_id, api::scheduled_start_request{}));
        CHECK(!scheduled_start.presenter_link.empty());
        auto deleted = attempt<none>(e, [&](diagnostics& d, auto t) {
            return client.async_delete_meeting(created.meeting_id, d, std::move(t));
        });
        CHECK(!deleted.ec);

        // An expired access token: a refresh and the call, through the proxy too.
        e.run(client.async_expire_access_token(api::expire_mode::locally));
        auto again = e.run(client.async_get_user());
        CHECK(again.email == "pro@example.com");
        CHECK(e.refreshes() == 1);

        opened = client.pool().stats().connections_opened;
        CHECK(client.pool().stats().requests_sent >= 12);
        client.close();
    }
    // The presenters endpoints, with the business client.
    {
        proxy_client admin(e.ioc.get_executor(), e.ctx,
                           [&] {
                               auto c = e.config(sandbox::default_business_client_id);
                               REQUIRE(!c.proxy.set_proxy(proxy.url()));
                               c.proxy.proxy_loopback = true;
                               return c;
                           }());
        e.login(admin, "user_info provisioning", "admin@example.com");
        auto presenters = e.run(admin.async_list_presenters());
        REQUIRE(presenters.size() == 1);
        auto one = e.run(admin.async_get_presenter(presenters[0].id));
        CHECK(one == presenters[0]);
        auto added = e.run(admin.async_add_presenter(api::new_presenter{"new@example.com"}));
        CHECK(added.email == "new@example.com");
        opened += admin.pool().stats().connections_opened;
        admin.close();
    }
    e.ioc.poll();
    using ep = sandbox::endpoint;
    for (auto endpoint : {ep::authorize, ep::token, ep::expire_access, ep::get_user,
                          ep::start_meeting, ep::list_meetings, ep::schedule_meeting,
                          ep::get_meeting, ep::update_meeting, ep::delete_meeting,
                          ep::start_scheduled, ep::list_presenters, ep::get_presenter,
                          ep::add_presenter}) {
        CAPTURE(sandbox::to_string(endpoint));
        CHECK(e.requests(endpoint) >= 1);
    }
    CHECK(e.requests(ep::get_user) == 2);

    proxy.stop();
    // Every connection was a tunnel through Squid: one CONNECT logged for each.
    const auto authority = sandbox_authority(e);
    CHECK(opened >= 2);
    CHECK(proxy.connects_to(authority) == opened);
    CHECK(proxy.access_log().find(proxy_user) != std::string::npos);
}

TEST_CASE("squid: Basic authentication; wrong credentials are the 407 condition, never printed") {
    if (!squid_available())
        return;
    proxy_env e;
    squid proxy(1);
    const std::string wrong = "Wr0ng-Squ1d-Passw0rd";
    proxy_client client(e.ioc.get_executor(), e.ctx, through(e, proxy.url(proxy_user, wrong)));
    diagnostics diag;
    auto ec = e.run([](proxy_client& c, diagnostics& d) -> asio::awaitable<error_code> {
        auto [ec] = co_await c.async_warm_up(1, d, asio::as_tuple(asio::use_awaitable));
        co_return ec;
    }(client, diag));
    CHECK(ec == errc::proxy_auth_required);
    CHECK(diag.status == 407);
    CHECK(diag.proxy_authenticate.find("Basic realm=\"joinme-test\"") != std::string::npos);
    CHECK(diag.via.find("joinme-test-squid") != std::string::npos);
    CHECK(diag.client_message.find("rejected the credentials") != std::string::npos);
    std::ostringstream all;
    all << diag << ' ' << ec.message() << ' ' << client.config().proxy.https.value();
    for (const std::string& s : {wrong, std::string(proxy_password),
                                 joinme::detail::base64(std::string(proxy_user) + ":" + wrong)}) {
        CAPTURE(s);
        CHECK(all.str().find(s) == std::string::npos);
    }
    CHECK(e.srv.stats().connections_accepted == 0);

    // The right ones work.
    proxy_client good(e.ioc.get_executor(), e.ctx, through(e, proxy.url()));
    e.login(good);
    CHECK(e.run(good.async_get_user()).email == "pro@example.com");
    good.close();
    client.close();
}

TEST_CASE("squid: no_proxy bypasses the proxy for the hosts it lists") {
    if (!squid_available())
        return;
    proxy_env e;
    squid proxy(1);
    auto cfg = through(e, proxy.url());
    cfg.proxy.no_proxy = "example.com, 127.0.0.0/8";
    proxy_client client(e.ioc.get_executor(), e.ctx, cfg);
    e.login(client);
    CHECK(e.run(client.async_get_user()).email == "pro@example.com");
    client.close();
    proxy.stop();
    CHECK(proxy.connects_to(sandbox_authority(e)) == 0);
    CHECK(e.srv.stats().connections_accepted >= 1);
}

TEST_CASE("squid: a refused port, an unreachable origin and Squid down are distinct errors") {
    if (!squid_available())
        return;
    proxy_env e;
    auto sandbox_port = static_cast<unsigned short>(
        std::stoi(sandbox_authority(e).substr(sandbox_authority(e).rfind(':') + 1)));
    auto call = [&e](proxy_client& c, diagnostics& d) {
        auto start = std::chrono::steady_clock::now();
        auto ec = e.run([](proxy_client& c, diagnostics& d) -> asio::awaitable<error_code> {
            auto [ec] = co_await c.async_warm_up(1, d, asio::as_tuple(asio::use_awaitable));
            co_return ec;
        }(c, d));
        CHECK(std::chrono::steady_clock::now() - start < 5s);
        return ec;
    };
    SUBCASE("Squid refuses CONNECT to the sandbox's port") {
        squid proxy(sandbox_port);
        proxy_client client(e.ioc.get_executor(), e.ctx, through(e, proxy.url()));
        diagnostics d;
        CHECK(call(client, d) == errc::proxy_refused);
        CHECK(d.status == 403);
        CHECK(!d.via.empty());
        client.close();
    }
    SUBCASE("Squid cannot reach the origin") {
        squid proxy(1);
        auto cfg = through(e, proxy.url());
        auto closed = free_port();
        cfg.api_base_url = "https://127.0.0.1:" + std::to_string(closed);
        cfg.allow_mixed_environments = true;
        proxy_client client(e.ioc.get_executor(), e.ctx, cfg);
        diagnostics d;
        CHECK(call(client, d) == errc::proxy_origin_unreachable);
        CHECK(d.status == 503);
        CHECK(d.client_message.find("ERR_CONNECT_FAIL") != std::string::npos);
        client.close();
    }
    SUBCASE("Squid is down") {
        std::string url;
        {
            squid proxy(1);
            url = proxy.url();
        }
        proxy_client client(e.ioc.get_executor(), e.ctx, through(e, url));
        diagnostics d;
        CHECK(call(client, d) == errc::proxy_unreachable);
        CHECK(d.client_message.find("could not connect to the proxy") != std::string::npos);
        client.close();
    }
    CHECK(e.srv.stats().connections_accepted == 0);
}

TEST_CASE("squid: many calls reuse one tunnelled connection") {
    if (!squid_available())
        return;
    proxy_env e;
    squid proxy(1);
    auto cfg = through(e, proxy.url());
    proxy_client client(e.ioc.get_executor(), e.ctx, cfg);
    e.login(client);
    for (int i = 0; i < 100; ++i)
        CHECK(e.run(client.async_get_user()).email == "pro@example.com");
    CHECK(client.pool().stats().connections_opened == 1);
    CHECK(client.pool().stats().reused >= 100);
    client.close();
    proxy.stop();
    CHECK(proxy.connects_to(sandbox_authority(e)) == 1);
    CHECK(e.srv.stats().connections_accepted == 1);
}
