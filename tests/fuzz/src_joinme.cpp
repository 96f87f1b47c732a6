// joinme's own code, Boost.JSON, Boost.URL, Asio and Beast, compiled once for every fuzz target
// (see joinme/src.hpp); the sandbox's is in src_sandbox.cpp, so that the two compile in
// parallel.
#include <joinme/src.hpp>
