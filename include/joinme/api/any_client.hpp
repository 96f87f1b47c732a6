// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_API_ANY_CLIENT_HPP
#define JOINME_API_ANY_CLIENT_HPP

/// @file
/// `joinme::api::any_client`: the operations of `basic_client<Stream>` with the stream type
/// hidden. Each operation crosses one virtual call and one `asio::any_completion_handler`,
/// so a translation unit that only calls the API includes this header (models, error codes,
/// Asio's handler erasure) and instantiates no stream, pool, token source or coroutine.
///
/// Typical use: one translation unit includes `joinme/api/client.hpp` and a transport, builds
/// a `basic_client<Stream>` and turns it into an `any_client` with `make_any_client`; every
/// other translation unit includes only this header.
///
/// The two forms of every operation, their completion signatures, errors, cancellation and
/// executor rules are those of `basic_client` (client.hpp).

#include <joinme/api/meeting.hpp>
#include <joinme/api/presenter.hpp>
#include <joinme/api/start.hpp>
#include <joinme/api/user.hpp>
#include <joinme/error.hpp>
#include <joinme/oauth/token.hpp>
#include <joinme/secret.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace joinme::api {

namespace detail {

// True for a completion token, false for the diagnostics argument of the other overload.
template <class Token>
concept completion_token = !std::is_same_v<std::remove_cvref_t<Token>, diagnostics>;

} // namespace detail

/// The operations of a join.me API client behind virtual calls: what `any_client` holds.
///
/// `make_any_client` (client.hpp) implements it with a `basic_client<Stream>`. Implement it
/// yourself to substitute the API in tests of your own code.
///
/// Contract of every operation: `diag` stays valid until `handler` is called; it is cleared
/// at the start and filled on failure. `handler` is called exactly once, never from inside the
/// call that started the operation, as `basic_client` documents (same errors, same
/// cancellation through the handler's cancellation slot).
class client_interface {
public:
    /// The type-erased completion handler of an operation yielding `Ts...`.
    template <class... Ts>
    using handler = boost::asio::any_completion_handler<void(error_code, Ts...)>;

    virtual ~client_interface() = default;

    /// The executor every operation runs on.
    virtual boost::asio::any_io_executor get_executor() const = 0;
    /// Makes `t` the current token (see `basic_client::set_token`).
    virtual void set_token(oauth::token t) = 0;
    /// See `basic_client::renew_authorization_url`.
    virtual joinme::secret renew_authorization_url(error_code& ec) const = 0;
    /// See `basic_client::close`.
    virtual void close() = 0;

    /// `GET /v1/user`.
    virtual void get_user(diagnostics& diag, handler<user> h) = 0;
    /// `POST /v1/meetings/start`.
    virtual void start_meeting(start_request req, diagnostics& diag, handler<start_result> h) = 0;
    /// `GET /v1/meetings`.
    virtual void list_meetings(meeting_list_filter filter, diagnostics& diag,
                               handler<std::vector<meeting>> h) = 0;
    /// `GET /v1/meetings/{meetingId}`.
    virtual void get_meeting(std::int64_t meeting_id, diagnostics& diag, handler<meeting> h) = 0;
    /// `POST /v1/meetings`.
    virtual void schedule_meeting(meeting_draft draft, diagnostics& diag, handler<meeting> h) = 0;
    /// `PATCH /v1/meetings/{meetingId}`.
    virtual void update_meeting(std::int64_t meeting_id, meeting_patch patch, diagnostics& diag,
                                handler<meeting> h) = 0;
    /// `DELETE /v1/meetings/{meetingId}`.
    virtual void delete_meeting(std::int64_t meeting_id, diagnostics& diag, handler<> h) = 0;
    /// `POST /v1/meetings/{meetingId}/start`.
    virtual void start_scheduled_meeting(std::int64_t meeting_id, scheduled_start_request req,
                                         diagnostics& diag, handler<start_result> h) = 0;
    /// `GET /v1/presenters/{id}`.
    virtual void get_presenter(std::int64_t presenter_id, diagnostics& diag,
                               handler<presenter> h) = 0;
    /// `GET /v1/presenters`.
    virtual void list_presenters(diagnostics& diag, handler<std::vector<presenter>> h) = 0;
    /// `POST /v1/presenters`.
    virtual void add_presenter(new_presenter who, diagnostics& diag, handler<presenter> h) = 0;
};

namespace detail {

// Completes the throwing form's handler from the diagnostics form's result; owns the
// diagnostics the operation fills.
template <class Handler, class... Ts>
struct rethrowing_handler {
    Handler handler;
    std::unique_ptr<diagnostics> diag;

    void operator()(error_code ec, Ts... values) {
        std::exception_ptr ex;
        if (ec)
            ex = std::make_exception_ptr(error_with_diagnostics(ec, std::move(*diag)));
        std::move(handler)(ex, std::move(values)...);
    }
};

// Starts `start(diagnostics&, any_completion_handler)` for the diagnostics form.
template <class... Ts, class Token, class Start>
auto erased_op(diagnostics& diag, Token&& token, Start start) {
    return boost::asio::async_initiate<Token, void(error_code, Ts...)>(
        [](auto handler, diagnostics* d, Start start) {
            start(*d, client_interface::handler<Ts...>(std::move(handler)));
        },
        token, &diag, std::move(start));
}

// The same for the throwing form: `void(std::exception_ptr, Ts...)`.
template <class... Ts, class Token, class Start>
auto erased_throwing_op(Token&& token, Start start) {
    return boost::asio::async_initiate<Token, void(std::exception_ptr, Ts...)>(
        [](auto handler, Start start) {
            using inner = rethrowing_handler<decltype(handler), Ts...>;
            auto d = std::make_unique<diagnostics>();
            diagnostics& ref = *d; // stays put: the handler owns it through the pointer
            start(ref, client_interface::handler<Ts...>(inner{std::move(handler), std::move(d)}));
        },
        token, std::move(start));
}

} // namespace detail

/// A join.me API client whose stream type is not part of its type.
///
/// Made from a `basic_client<Stream>` by `make_any_client` (client.hpp), or from any
/// `client_interface`. Copies share one client; the client is closed (see
/// `basic_client::close`) when the last copy is destroyed, and operations keep its state
/// alive until they complete.
///
/// Cost against `basic_client`: per operation, one virtual call, one heap allocation for the
/// type-erased handler (two in the throwing form, which also allocates its diagnostics), and
/// the completion through `any_completion_handler`.
///
/// Thread safety, cancellation and errors: as `basic_client`.
class any_client {
    // Declared first: clang checks the non-dependent calls of the member templates below
    // where they are defined.
    template <class... Ts>
    using handler = client_interface::handler<Ts...>;
    using impl_ptr = std::shared_ptr<client_interface>;

    // Each starter holds the implementation and copies of the arguments, so that an
    // operation started later (a `deferred` token) still finds them.
    auto get_user_starter() const {
        return [i = impl_](diagnostics& d, handler<user> h) { i->get_user(d, std::move(h)); };
    }
    auto start_starter(const start_request& r) const {
        return [i = impl_, r](diagnostics& d, handler<start_result> h) {
            i->start_meeting(r, d, std::move(h));
        };
    }
    auto list_starter(const meeting_list_filter& f) const {
        return [i = impl_, f](diagnostics& d, handler<std::vector<meeting>> h) {
            i->list_meetings(f, d, std::move(h));
        };
    }
    auto get_meeting_starter(std::int64_t id) const {
        return [i = impl_, id](diagnostics& d, handler<meeting> h) {
            i->get_meeting(id, d, std::move(h));
        };
    }
    auto schedule_starter(const meeting_draft& m) const {
        return [i = impl_, m](diagnostics& d, handler<meeting> h) {
            i->schedule_meeting(m, d, std::move(h));
        };
    }
    auto update_starter(std::int64_t id, const meeting_patch& p) const {
        return [i = impl_, id, p](diagnostics& d, handler<meeting> h) {
            i->update_meeting(id, p, d, std::move(h));
        };
    }
    auto delete_starter(std::int64_t id) const {
        return [i = impl_, id](diagnostics& d, handler<> h) {
            i->delete_meeting(id, d, std::move(h));
        };
    }
    auto start_scheduled_starter(std::int64_t id, const scheduled_start_request& r) const {
        return [i = impl_, id, r](diagnostics& d, handler<start_result> h) {
            i->start_scheduled_meeting(id, r, d, std::move(h));
        };
    }
    auto get_presenter_starter(std::int64_t id) const {
        return [i = impl_, id](diagnostics& d, handler<presenter> h) {
            i->get_presenter(id, d, std::move(h));
        };
    }
    auto list_presenters_starter() const {
        return [i = impl_](diagnostics& d, handler<std::vector<presenter>> h) {
            i->list_presenters(d, std::move(h));
        };
    }
    auto add_presenter_starter(const new_presenter& p) const {
        return [i = impl_, p](diagnostics& d, handler<presenter> h) {
            i->add_presenter(p, d, std::move(h));
        };
    }

public:
    using executor_type = boost::asio::any_io_executor;

    /// Wraps `impl`, which must not be null.
    explicit any_client(std::shared_ptr<client_interface> impl) : impl_(std::move(impl)) {}

    /// The executor every operation runs on.
    executor_type get_executor() const { return impl_->get_executor(); }

    /// Makes `t` the current token (after a code exchange or an implicit redirect).
    void set_token(oauth::token t) { impl_->set_token(std::move(t)); }

    /// See `basic_client::renew_authorization_url`.
    joinme::secret renew_authorization_url(error_code& ec) const {
        return impl_->renew_authorization_url(ec);
    }

    /// As above; throws `error_with_diagnostics` instead.
    joinme::secret renew_authorization_url() const {
        error_code ec;
        auto u = impl_->renew_authorization_url(ec);
        throw_on_error(ec);
        return u;
    }

    /// See `basic_client::close`.
    void close() { impl_->close(); }

    /// The implementation.
    client_interface& implementation() noexcept { return *impl_; }

    /// `GET /v1/user`; see `basic_client::async_get_user`.
    template <detail::completion_token Token>
    auto async_get_user(diagnostics& diag, Token&& token) {
        return detail::erased_op<user>(diag, std::forward<Token>(token), get_user_starter());
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_get_user(Token&& token) {
        return detail::erased_throwing_op<user>(std::forward<Token>(token), get_user_starter());
    }

    /// `POST /v1/meetings/start`; see `basic_client::async_start_meeting`.
    template <detail::completion_token Token>
    auto async_start_meeting(const start_request& req, diagnostics& diag, Token&& token) {
        return detail::erased_op<start_result>(diag, std::forward<Token>(token),
                                               start_starter(req));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_start_meeting(const start_request& req, Token&& token) {
        return detail::erased_throwing_op<start_result>(std::forward<Token>(token),
                                                        start_starter(req));
    }

    /// `GET /v1/meetings`; see `basic_client::async_list_meetings`.
    template <detail::completion_token Token>
    auto async_list_meetings(const meeting_list_filter& filter, diagnostics& diag, Token&& token) {
        return detail::erased_op<std::vector<meeting>>(diag, std::forward<Token>(token),
                                                       list_starter(filter));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_list_meetings(const meeting_list_filter& filter, Token&& token) {
        return detail::erased_throwing_op<std::vector<meeting>>(std::forward<Token>(token),
                                                                list_starter(filter));
    }

    /// `GET /v1/meetings/{meetingId}`; see `basic_client::async_get_meeting`.
    template <detail::completion_token Token>
    auto async_get_meeting(std::int64_t meeting_id, diagnostics& diag, Token&& token) {
        return detail::erased_op<meeting>(diag, std::forward<Token>(token),
                                          get_meeting_starter(meeting_id));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_get_meeting(std::int64_t meeting_id, Token&& token) {
        return detail::erased_throwing_op<meeting>(std::forward<Token>(token),
                                                   get_meeting_starter(meeting_id));
    }

    /// `POST /v1/meetings`; see `basic_client::async_schedule_meeting`.
    template <detail::completion_token Token>
    auto async_schedule_meeting(const meeting_draft& draft, diagnostics& diag, Token&& token) {
        return detail::erased_op<meeting>(diag, std::forward<Token>(token),
                                          schedule_starter(draft));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_schedule_meeting(const meeting_draft& draft, Token&& token) {
        return detail::erased_throwing_op<meeting>(std::forward<Token>(token),
                                                   schedule_starter(draft));
    }

    /// `PATCH /v1/meetings/{meetingId}`; see `basic_client::async_update_meeting`.
    template <detail::completion_token Token>
    auto async_update_meeting(std::int64_t meeting_id, const meeting_patch& patch,
                              diagnostics& diag, Token&& token) {
        return detail::erased_op<meeting>(diag, std::forward<Token>(token),
                                          update_starter(meeting_id, patch));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_update_meeting(std::int64_t meeting_id, const meeting_patch& patch, Token&& token) {
        return detail::erased_throwing_op<meeting>(std::forward<Token>(token),
                                                   update_starter(meeting_id, patch));
    }

    /// `DELETE /v1/meetings/{meetingId}`; see `basic_client::async_delete_meeting`.
    template <detail::completion_token Token>
    auto async_delete_meeting(std::int64_t meeting_id, diagnostics& diag, Token&& token) {
        return detail::erased_op<>(diag, std::forward<Token>(token), delete_starter(meeting_id));
    }
    /// As above, throwing form: `void(std::exception_ptr)`.
    template <detail::completion_token Token>
    auto async_delete_meeting(std::int64_t meeting_id, Token&& token) {
        return detail::erased_throwing_op<>(std::forward<Token>(token), delete_starter(meeting_id));
    }

    /// `POST /v1/meetings/{meetingId}/start`; see `basic_client::async_start_scheduled_meeting`.
    template <detail::completion_token Token>
    auto async_start_scheduled_meeting(std::int64_t meeting_id, const scheduled_start_request& req,
                                       diagnostics& diag, Token&& token) {
        return detail::erased_op<start_result>(diag, std::forward<Token>(token),
                                               start_scheduled_starter(meeting_id, req));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_start_scheduled_meeting(std::int64_t meeting_id, const scheduled_start_request& req,
                                       Token&& token) {
        return detail::erased_throwing_op<start_result>(std::forward<Token>(token),
                                                        start_scheduled_starter(meeting_id, req));
    }

    /// `GET /v1/presenters/{id}`; see `basic_client::async_get_presenter`.
    template <detail::completion_token Token>
    auto async_get_presenter(std::int64_t presenter_id, diagnostics& diag, Token&& token) {
        return detail::erased_op<presenter>(diag, std::forward<Token>(token),
                                            get_presenter_starter(presenter_id));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_get_presenter(std::int64_t presenter_id, Token&& token) {
        return detail::erased_throwing_op<presenter>(std::forward<Token>(token),
                                                     get_presenter_starter(presenter_id));
    }

    /// `GET /v1/presenters`; see `basic_client::async_list_presenters`.
    template <detail::completion_token Token>
    auto async_list_presenters(diagnostics& diag, Token&& token) {
        return detail::erased_op<std::vector<presenter>>(diag, std::forward<Token>(token),
                                                         list_presenters_starter());
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_list_presenters(Token&& token) {
        return detail::erased_throwing_op<std::vector<presenter>>(std::forward<Token>(token),
                                                                  list_presenters_starter());
    }

    /// `POST /v1/presenters`; see `basic_client::async_add_presenter`.
    template <detail::completion_token Token>
    auto async_add_presenter(const new_presenter& who, diagnostics& diag, Token&& token) {
        return detail::erased_op<presenter>(diag, std::forward<Token>(token),
                                            add_presenter_starter(who));
    }
    /// As above, throwing form.
    template <detail::completion_token Token>
    auto async_add_presenter(const new_presenter& who, Token&& token) {
        return detail::erased_throwing_op<presenter>(std::forward<Token>(token),
                                                     add_presenter_starter(who));
    }

private:
    impl_ptr impl_;
};

} // namespace joinme::api

namespace boost::asio {
template <template <class, class> class Associator, class Handler, class... Ts, class Default>
struct associator<Associator, joinme::api::detail::rethrowing_handler<Handler, Ts...>, Default> {
    using type = typename Associator<Handler, Default>::type;

    static type get(const joinme::api::detail::rethrowing_handler<Handler, Ts...>& h) noexcept {
        return Associator<Handler, Default>::get(h.handler);
    }
    static auto get(const joinme::api::detail::rethrowing_handler<Handler, Ts...>& h,
                    const Default& d) noexcept
        -> decltype(Associator<Handler, Default>::get(h.handler, d)) {
        return Associator<Handler, Default>::get(h.handler, d);
    }
};
} // namespace boost::asio

#endif
