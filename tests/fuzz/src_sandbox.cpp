// The sandbox's code, compiled once for every fuzz target (see joinme/sandbox/src.hpp).
#include <joinme/sandbox/src.hpp>
