// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// joinme-sandbox: runs the join.me emulator of <joinme/sandbox/sandbox.hpp> on 127.0.0.1 until
// interrupted. The first line of standard output is "joinme-sandbox listening on <base URL>";
// then one line per request (method, path without query, status, time). No token, code or
// secret is ever printed.

#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>
#include <joinme/version.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    unsigned port = 0;
    bool plain = false;
    bool quiet = false;
    std::string ca_out;
    joinme::sandbox::options opts;
    joinme::sandbox::application app;
    app.name = "joinme-sandbox application";
    long long access_lifetime = opts.access_token_lifetime.count();
    long long implicit_lifetime = opts.implicit_token_lifetime.count();
    long long code_lifetime = opts.code_lifetime.count();
    long long expire_delay = opts.expire_access_delay.count();
    bool no_rotate = false;
    auto& faults = opts.random;

    CLI::App cli{
        "Serves the join.me OAuth endpoints and REST API on 127.0.0.1 until interrupted.\n"
        "The first line on standard output is \"joinme-sandbox listening on <base URL>\";\n"
        "then one line per request. The default applications and users stay registered\n"
        "(see joinme/sandbox/options.hpp).",
        "joinme-sandbox"};
    cli.set_version_flag("--version", "joinme-sandbox " JOINME_VERSION_STRING);
    cli.add_option("--port", port, "Port to listen on (0: an ephemeral port)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    cli.add_flag("--plain", plain, "Plain HTTP instead of HTTPS");
    cli.add_option("--ca-out", ca_out, "Write the generated certificate (PEM) a client must trust");
    cli.add_flag("--auto-consent", opts.auto_consent,
                 "Skip the consent page: authorize redirects at once");
    cli.add_flag("--quiet", quiet, "Print no line per request");
    auto* id = cli.add_option("--client-id", app.client_id,
                              "Register an application with this client id ...");
    auto* secret = cli.add_option("--client-secret", app.client_secret, "... this secret ...");
    auto* uri = cli.add_option("--redirect-uri", app.redirect_uris,
                               "... and this callback URL (repeatable)");
    id->needs(secret, uri);
    secret->needs(id, uri);
    uri->needs(id, secret);
    cli.add_option("--current-user", opts.current_user,
                   "The user signed in at the authorize page (pro@example.com, free@example.com, "
                   "admin@example.com)")
        ->capture_default_str();
    unsigned extra_users = 0;
    cli.add_option("--users", extra_users,
                   "Add N users, user1@example.com to userN@example.com (with --auto-consent, "
                   "the authorize request's user parameter picks one)")
        ->check(CLI::Range(0, 100000));
    cli.add_option("--access-token-lifetime", access_lifetime,
                   "Seconds an authorization-code access token lives")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cli.add_option("--implicit-token-lifetime", implicit_lifetime,
                   "Seconds an implicit-grant access token lives")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cli.add_option("--code-lifetime", code_lifetime, "Seconds an authorization code lives")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cli.add_option("--expire-access-delay", expire_delay,
                   "Seconds an Expire Access call takes to reach the API")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cli.add_flag("--no-rotate-refresh-tokens", no_rotate,
                 "A refresh keeps the refresh token valid instead of issuing a new one");
    cli.add_option("--qps-limit", opts.qps_limit,
                   "API requests per second per access token (0: unlimited)")
        ->capture_default_str();
    cli.add_option("--fault-seed", faults.seed, "Seed of the random faults")->capture_default_str();
    auto probability = CLI::Range(0.0, 1.0);
    cli.add_option("--fault-disconnect", faults.disconnect,
                   "Probability of closing the connection instead of answering")
        ->check(probability);
    cli.add_option("--fault-503", faults.error_status,
                   "Probability of answering 503 with Retry-After: 0")
        ->check(probability);
    cli.add_option("--fault-interim", faults.interim,
                   "Probability of an interim 1xx answer before the answer")
        ->check(probability);
    cli.add_option("--fault-unsolicited", faults.unsolicited,
                   "Probability of an unsolicited response after the answer")
        ->check(probability);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return cli.exit(e);
        std::cerr << "joinme-sandbox: " << e.what() << " (see joinme-sandbox --help)\n";
        return 2;
    }
    if (plain && !ca_out.empty()) {
        std::cerr << "joinme-sandbox: --ca-out needs TLS; drop --plain\n";
        return 2;
    }
    if (!app.client_id.empty())
        opts.applications.insert(opts.applications.begin(), app);
    opts.access_token_lifetime = std::chrono::seconds(access_lifetime);
    opts.implicit_token_lifetime = std::chrono::seconds(implicit_lifetime);
    opts.code_lifetime = std::chrono::seconds(code_lifetime);
    opts.expire_access_delay = std::chrono::seconds(expire_delay);
    opts.rotate_refresh_tokens = !no_rotate;
    for (unsigned i = 1; i <= extra_users; ++i) {
        joinme::sandbox::user u;
        u.email = "user" + std::to_string(i) + "@example.com";
        u.full_name = "User " + std::to_string(i);
        opts.users.push_back(std::move(u));
    }

    if (!quiet) {
        opts.on_request = [](const joinme::sandbox::request_log_entry& e) {
            std::printf("%s %s %u %.1fms\n", e.method.c_str(), e.path.c_str(), e.status,
                        static_cast<double>(e.duration.count()) / 1000.0);
            std::fflush(stdout);
        };
    }

    try {
        boost::asio::io_context ioc;
        joinme::sandbox::server srv(ioc.get_executor(), opts);
        boost::asio::ip::tcp::endpoint ep(boost::asio::ip::address_v4::loopback(),
                                          static_cast<unsigned short>(port));
        if (plain) {
            srv.listen_tcp(ep);
        } else {
            srv.listen_tls(ep);
            if (!ca_out.empty()) {
                std::ofstream out(ca_out, std::ios::binary | std::ios::trunc);
                out << srv.certificate_pem();
                if (!out.flush()) {
                    std::cerr << "joinme-sandbox: cannot write " << ca_out << "\n";
                    return 1;
                }
            }
        }
        boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](boost::system::error_code, int) { srv.stop(); });
        std::printf("joinme-sandbox listening on %s\n", srv.base_url().c_str());
        std::fflush(stdout);
        ioc.run();
    } catch (const std::exception& e) {
        std::cerr << "joinme-sandbox: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
