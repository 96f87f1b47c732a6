# Runs ports/joinme/portfile.cmake outside vcpkg (which is not packaged in Debian and whose
# registry is not reachable from CI): stand-ins for the vcpkg helpers it calls run its CMake
# steps for real (configure with the port's options, install into a packages folder) and check
# that what it hands to the other helpers exists. vcpkg's own fixups are not run.
#   cmake -DPORT_DIR=ports/joinme -DWORK=<empty folder> -P tests/packaging/vcpkg_port.cmake
cmake_minimum_required(VERSION 3.25)
set(PORT joinme)
set(CURRENT_PACKAGES_DIR "${WORK}/packages/${PORT}_x64-linux")
file(REMOVE_RECURSE "${WORK}")

function(require_path what path)
    if(NOT EXISTS "${path}")
        message(FATAL_ERROR "vcpkg port: ${what} ${path} does not exist")
    endif()
endfunction()

function(vcpkg_cmake_configure)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS")
    require_path("SOURCE_PATH" "${arg_SOURCE_PATH}/CMakeLists.txt")
    execute_process(COMMAND ${CMAKE_COMMAND} -S "${arg_SOURCE_PATH}" -B "${WORK}/build" -G Ninja
                            -DCMAKE_BUILD_TYPE=Release
                            "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}" ${arg_OPTIONS}
                    OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
endfunction()
function(vcpkg_cmake_install)
    execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK}/build" --target install
                    OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
endfunction()
function(vcpkg_cmake_config_fixup)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "CONFIG_PATH" "")
    require_path("CONFIG_PATH" "${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH}/joinmeConfig.cmake")
endfunction()
function(vcpkg_fixup_pkgconfig)
    require_path("pkg-config file" "${CURRENT_PACKAGES_DIR}/share/pkgconfig/joinme.pc")
endfunction()
function(vcpkg_install_copyright)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
    foreach(f IN LISTS arg_FILE_LIST)
        require_path("copyright file" "${f}")
    endforeach()
endfunction()

include("${PORT_DIR}/portfile.cmake")
require_path("header" "${CURRENT_PACKAGES_DIR}/include/joinme/joinme.hpp")
if(EXISTS "${CURRENT_PACKAGES_DIR}/lib" OR EXISTS "${CURRENT_PACKAGES_DIR}/debug")
    message(FATAL_ERROR "vcpkg port: a header-only port installed lib/ or debug/")
endif()
file(READ "${PORT_DIR}/vcpkg.json" manifest)
string(JSON port_version GET "${manifest}" version)
file(STRINGS "${SOURCE_PATH}/include/joinme/version.hpp" v REGEX "^#define JOINME_VERSION_STRING ")
string(REGEX REPLACE "^.*\"(.*)\"$" "\\1" v "${v}")
if(NOT port_version STREQUAL v)
    message(FATAL_ERROR "vcpkg port: vcpkg.json says ${port_version}, joinme/version.hpp ${v}")
endif()
message(STATUS "vcpkg port: configured, installed and checked (${port_version})")
