// joinme (the sandbox included), Boost.JSON, Boost.URL, Asio and Beast compiled once for all
// test programs, the way joinme documents it for users (see joinme/src.hpp).
#include <joinme/sandbox/src.hpp>
#include <joinme/src.hpp>
