// Shared by the Redis store tests: a redis-server process of the test's own on a free loopback
// port (AOF on, fsync always, in a temporary directory), other processes started and stopped
// by the tests, and the rule for a machine without redis-server: the test skips with a
// message, unless JOINME_REQUIRE_REDIS=1, when that is a failure.
#ifndef JOINME_TESTS_REDIS_REDIS_SERVER_HPP
#define JOINME_TESTS_REDIS_REDIS_SERVER_HPP

#include <boost/asio/ip/tcp.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace redis_test {

inline std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    for (std::size_t start = 0; start <= p.size();) {
        auto end = p.find(':', start);
        if (end == std::string::npos)
            end = p.size();
        auto candidate = std::filesystem::path(p.substr(start, end - start)) / name;
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.string();
        start = end + 1;
    }
    return {};
}

// True when redis-server can run; otherwise the test skips (or fails when it is required).
inline bool have_redis() {
    if (!find_program("redis-server").empty())
        return true;
    bool required = std::getenv("JOINME_REQUIRE_REDIS") &&
                    std::string(std::getenv("JOINME_REQUIRE_REDIS")) == "1";
    if (required)
        FAIL("JOINME_REQUIRE_REDIS=1 but redis-server is not installed (apt-get install "
             "redis-server)");
    MESSAGE("skipped: redis-server is not installed (apt-get install redis-server)");
    return false;
}

inline unsigned short free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, {boost::asio::ip::address_v4::loopback(), 0}); // closed at once: then free
    return a.local_endpoint().port();
}

inline bool port_open(unsigned short port) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::address_v4::loopback(), port}, ec);
    return !ec;
}

// Starts `argv` with its standard output (and error) in `out` (or /dev/null).
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& out = "/dev/null") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    return pid;
}

// The exit status of `pid` (-signal when killed).
inline int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// A temporary directory removed at the end.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "joinme-redis-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// redis-server on 127.0.0.1:port, its data (AOF) in a temporary directory: stop and start
// again keep the data.
struct redis_server {
    temp_dir dir;
    unsigned short port = free_port();
    pid_t pid = -1;

    redis_server() { start(); }
    ~redis_server() { stop(); }

    void start() {
        pid = spawn({find_program("redis-server"), "--port", std::to_string(port), "--bind",
                     "127.0.0.1", "--appendonly", "yes", "--appendfsync", "always", "--dir",
                     dir.path.string(), "--save", "", "--protected-mode", "no"},
                    (dir.path / "redis.log").string());
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!port_open(port) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        REQUIRE_MESSAGE(port_open(port), "redis-server did not start");
    }

    void stop() {
        if (pid <= 0)
            return;
        ::kill(pid, SIGTERM);
        wait_for(pid);
        pid = -1;
    }
};

} // namespace redis_test

#endif
