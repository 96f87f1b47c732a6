# A Conan 2 recipe for joinme, header-only: `conan create .` from the checkout. It packages
# the headers; Conan's generators (CMakeDeps, PkgConfigDeps) then give the consumer the same
# names as joinme's own install: find_package(joinme), the target joinme::joinme and the
# pkg-config module joinme. (For separate compilation, define JOINME_SEPARATE_COMPILATION:
# joinme's own joinme::separate target is not made here.)
import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout


class JoinmeConan(ConanFile):
    name = "joinme"
    description = ("Header-only C++20 coroutine client for the join.me REST API and its "
                   "OAuth 2.0 flows")
    license = "BSL-1.0"
    topics = ("join.me", "oauth2", "asio", "beast", "coroutines", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "include/*", "LICENSE"
    no_copy_source = True

    def set_version(self):
        # The version is written in one place, include/joinme/version.hpp.
        text = load(self, os.path.join(self.recipe_folder, "include", "joinme", "version.hpp"))
        self.version = re.search(r'#define JOINME_VERSION_STRING "(.*)"', text)[1]

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        self.requires("boost/[>=1.81.0]")
        self.requires("openssl/[>=3.0 <4]")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*", os.path.join(self.source_folder, "include"),
             os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "joinme")
        self.cpp_info.set_property("cmake_target_name", "joinme::joinme")
        self.cpp_info.set_property("pkg_config_name", "joinme")
        self.cpp_info.requires = ["boost::headers", "openssl::ssl", "openssl::crypto"]
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
