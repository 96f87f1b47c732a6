// The smallest program that uses joinme: it includes the library and prints its version.
#include <joinme/joinme.hpp>

#include <iostream>

int main() {
    static_assert(JOINME_VERSION == JOINME_VERSION_MAJOR * 10000 + JOINME_VERSION_MINOR * 100 +
                                        JOINME_VERSION_PATCH);
    std::cout << "joinme " << JOINME_VERSION_STRING << "\n";
}
