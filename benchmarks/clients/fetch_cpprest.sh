#!/bin/sh
# Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#
# Extracts the cpprestsdk headers, and the Boost 1.74 headers they are written against, into
# PREFIX without installing them: Debian's libcpprest-dev depends on the Boost 1.74 -dev
# packages, and installing those would remove the Boost 1.81 headers the project needs.
# The cpprestsdk runtime library comes from the libcpprest2.10 package, which is safe to install.
#
# Usage: fetch_cpprest.sh PREFIX       (idempotent; compile with -isystem PREFIX/usr/include)
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$1
packages="libcpprest-dev libboost1.74-dev"

if [ -f "$prefix/.complete" ] && [ -f /usr/lib/x86_64-linux-gnu/libcpprest.so.2.10 ]; then
    exit 0
fi

if [ ! -f /usr/lib/x86_64-linux-gnu/libcpprest.so.2.10 ]; then
    apt-get install -y --no-install-recommends libcpprest2.10 ||
        { apt-get update && apt-get install -y --no-install-recommends libcpprest2.10; }
fi

mkdir -p "$prefix/debs"
prefix=$(cd "$prefix" && pwd)
cd "$prefix/debs"
rm -f ./*.deb
# apt-get download fetches the .deb files only: nothing is installed or removed.
apt-get download $packages || { apt-get update && apt-get download $packages; }
for deb in ./*.deb; do
    dpkg -x "$deb" "$prefix"
done
test -f "$prefix/usr/include/cpprest/http_client.h"
test -f "$prefix/usr/include/boost/version.hpp"
touch "$prefix/.complete"
