// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_DETAIL_DESCRIBE_HPP
#define JOINME_API_DETAIL_DESCRIBE_HPP

// From an endpoint's description (endpoints.hpp) to the request the client sends and the
// function that reads its answer. Sans-I/O.

#include <joinme/api/detail/client_impl.hpp>
#include <joinme/api/endpoints.hpp>
#include <joinme/api/parse.hpp>
#include <joinme/http/message.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/url/url.hpp>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace joinme::api::detail {

// What the body of `E`'s answer is read as.
template <class E>
struct model_of {
    using type = typename E::result;
};
template <class E>
requires requires {
    typename E::model;
}
struct model_of<E> {
    using type = typename E::model;
};

inline std::vector<meeting> take(meeting_list&& m) {
    return std::move(m.meetings);
}
inline std::vector<presenter> take(presenter_list&& m) {
    return std::move(m.presenters);
}

// Reads a 2xx body as `Model` into `*out`, a `Result`.
template <class Model, class Result>
error_code parse_result(const http::response& res, void* out, diagnostics& diag) {
    error_code ec;
    bool ok = false;
    auto& result = *static_cast<Result*>(out);
    if constexpr (std::is_same_v<Model, Result>) {
        ok = parse_into(res.body(), result, ec, diag);
    } else {
        Model model;
        ok = parse_into(res.body(), model, ec, diag);
        if (ok)
            result = take(std::move(model));
    }
    if (!ok)
        http::fill_diagnostics(res, diag);
    return ec;
}

// The request of endpoint `e`.
template <class E>
api_call describe(const E& e) {
    api_call c;
    c.method = E::method;
    if constexpr (requires { e.id; }) {
        constexpr auto at = E::path.find("{id}");
        c.target.append(E::path.substr(0, at))
            .append(std::to_string(e.id))
            .append(E::path.substr(at + 4));
    } else {
        c.target = E::path;
    }
    if constexpr (requires { e.query; }) {
        boost::urls::url u(c.target);
        for (const auto& param : e.query.query_parameters())
            u.params().append({param.first, param.second});
        c.target = u.buffer();
    }
    if constexpr (requires { e.body; })
        c.body = boost::json::serialize(boost::json::value_from(e.body));
    if constexpr (!std::is_void_v<typename E::result>)
        c.parse = &parse_result<typename model_of<E>::type, typename E::result>;
    return c;
}

} // namespace joinme::api::detail

#endif
