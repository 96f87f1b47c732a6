// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_JOINME_HPP
#define JOINME_JOINME_HPP

/// @file
/// Everything in joinme except the sandbox (include `joinme/sandbox/sandbox.hpp` for that) and
/// the in-memory transport (`joinme/transport/test_stream.hpp`). One .cpp of the program must
/// also include `joinme/src.hpp`.

#include <joinme/error.hpp>
#include <joinme/proxy.hpp>
#include <joinme/secret.hpp>
#include <joinme/time.hpp>
#include <joinme/timeout_after.hpp>
#include <joinme/version.hpp>

#include <joinme/transport.hpp>
#include <joinme/transport/tcp.hpp>
#include <joinme/transport/tls.hpp>
#include <joinme/transport/proxy.hpp>

#include <joinme/http/exchange.hpp>
#include <joinme/http/message.hpp>
#include <joinme/http/pool.hpp>
#include <joinme/http/retry.hpp>

#include <joinme/oauth/authorization.hpp>
#include <joinme/oauth/client.hpp>
#include <joinme/oauth/config.hpp>
#include <joinme/oauth/redirect.hpp>
#include <joinme/oauth/scope.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/oauth/token_request.hpp>
#include <joinme/oauth/token_response.hpp>
#include <joinme/oauth/token_source.hpp>
#include <joinme/oauth/token_store.hpp>

#include <joinme/api/any_client.hpp>
#include <joinme/api/client.hpp>
#include <joinme/api/models.hpp>

#include <joinme/loopback.hpp>

#endif
