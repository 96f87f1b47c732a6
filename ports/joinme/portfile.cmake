# An overlay port for the joinme checkout it lives in:
#   vcpkg install joinme --overlay-ports=<checkout>/ports
# joinme is header-only: the port installs the headers, the CMake package (joinme::joinme,
# joinme::separate) and the pkg-config file, as `cmake --install` does.
set(VCPKG_BUILD_TYPE release)
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DJOINME_BUILD_TESTS=OFF
        -DJOINME_BUILD_EXAMPLES=OFF
        -DJOINME_BUILD_BENCHMARKS=OFF
        -DJOINME_BUILD_TOOLS=OFF
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/joinme)
vcpkg_fixup_pkgconfig()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
