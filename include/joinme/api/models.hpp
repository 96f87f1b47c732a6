// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_MODELS_HPP
#define JOINME_API_MODELS_HPP

/// @file
/// Every typed model of the join.me REST API (joinme-api.md §4), with its Boost.JSON
/// conversions, the webhook callback event and the API error body.
///
/// Each model `T` converts with `boost::json::value_from(t)`, `boost::json::value_to<T>(jv)`
/// (throws `error_with_diagnostics`), `boost::json::try_value_to<T>(jv)` (no path in the
/// error), and `joinme::api::parse<T>(body, ec, diag)` / `joinme::api::from_json<T>(jv, ec,
/// diag)`, which report bad input through `ec` and name the offending member in
/// `diag.client_message`. The models are plain values: they depend on no stream, socket or
/// HTTP type.

#include <joinme/api/error_body.hpp>
#include <joinme/api/meeting.hpp>
#include <joinme/api/parse.hpp>
#include <joinme/api/presenter.hpp>
#include <joinme/api/start.hpp>
#include <joinme/api/user.hpp>
#include <joinme/api/webhook.hpp>

#endif
