// The one file of the program that compiles Boost.JSON and Boost.URL, and, when the program
// defines JOINME_SEPARATE_COMPILATION, joinme's own code and the sandbox's.
#include <joinme/src.hpp>
#if defined(JOINME_SEPARATE_COMPILATION)
#include <joinme/sandbox/src.hpp>
#endif
