// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
//
// joinme-sandbox: runs the join.me emulator of <joinme/sandbox/sandbox.hpp> on 127.0.0.1 until
// interrupted. The first line of standard output is "joinme-sandbox listening on <base URL>";
// then one line per request (method, path without query, status, time). No token, code or
// secret is ever printed.

#include <joinme/sandbox/sandbox.hpp>
#include <joinme/src.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

namespace {

constexpr const char* usage =
    "usage: joinme-sandbox [--port N] [--plain] [--ca-out FILE] [--auto-consent] [--quiet]\n"
    "                      [--client-id ID --client-secret SECRET --redirect-uri URI ...]\n"
    "\n"
    "Serves the join.me OAuth endpoints and REST API on 127.0.0.1 until interrupted.\n"
    "  --port N            port to listen on (default 0: an ephemeral port)\n"
    "  --plain             plain HTTP instead of HTTPS\n"
    "  --ca-out FILE       write the generated certificate (PEM) a client must trust\n"
    "  --auto-consent      skip the consent page: authorize redirects at once\n"
    "  --quiet             print no line per request\n"
    "  --client-id ID      register an application with this client id ...\n"
    "  --client-secret S   ... this secret ...\n"
    "  --redirect-uri URI  ... and this callback URL (repeatable)\n"
    "The default applications stay registered (see joinme/sandbox/options.hpp).\n";

[[noreturn]] void fail(std::string_view message) {
    std::cerr << "joinme-sandbox: " << message << "\n" << usage;
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    unsigned long port = 0;
    bool plain = false;
    bool quiet = false;
    std::string ca_out;
    joinme::sandbox::options opts;
    joinme::sandbox::application app;
    app.name = "joinme-sandbox application";

    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                fail(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << usage;
            return 0;
        } else if (arg == "--port") {
            auto v = value();
            char* end = nullptr;
            port = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || port > 65535)
                fail("--port needs a number from 0 to 65535");
        } else if (arg == "--plain") {
            plain = true;
        } else if (arg == "--ca-out") {
            ca_out = value();
        } else if (arg == "--quiet") {
            quiet = true;
        } else if (arg == "--auto-consent") {
            opts.auto_consent = true;
        } else if (arg == "--client-id") {
            app.client_id = value();
        } else if (arg == "--client-secret") {
            app.client_secret = value();
        } else if (arg == "--redirect-uri") {
            app.redirect_uris.push_back(value());
        } else {
            fail("unknown option " + std::string(arg));
        }
    }
    if (!app.client_id.empty() || !app.client_secret.empty() || !app.redirect_uris.empty()) {
        if (app.client_id.empty() || app.client_secret.empty() || app.redirect_uris.empty())
            fail("--client-id, --client-secret and --redirect-uri go together");
        opts.applications.insert(opts.applications.begin(), app);
    }
    if (plain && !ca_out.empty())
        fail("--ca-out needs TLS; drop --plain");

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
                if (!out.flush())
                    fail("cannot write " + ca_out);
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
