// Copyright (c) joinme contributors. Distributed under the Boost Software License, Version 1.0.
#ifndef JOINME_OAUTH_IMPL_TOKEN_SOURCE_IPP
#define JOINME_OAUTH_IMPL_TOKEN_SOURCE_IPP

#include <joinme/oauth/token_source.hpp>

#include <boost/asio/coroutine.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/system_error.hpp>

#include <new>

namespace joinme::oauth::detail {

JOINME_DECL token_state::serve token_state::ask(const std::optional<joinme::secret>& rejected) {
    if (rejected) {
        // A token other than the rejected one is already there: use it.
        if (valid() && !(current->access_token == *rejected))
            return serve::now;
        force = *rejected;
        return serve::wait;
    }
    if (usable())
        return serve::now;
    return valid() ? serve::now_and_refresh : serve::wait;
}

JOINME_DECL void token_state::adopt(std::optional<stored_token> stored) {
    loaded = true;
    // A saved token that is no longer stored was erased (a logout, a store that lost its
    // data): it must not be refreshed, since the user must authorize again.
    if (!stored && current && saved && version != 0) {
        current.reset();
        version = 0;
        return;
    }
    // An unsaved token of ours is newer than anything stored: it is saved, not replaced.
    if (!stored || (current && (stored->version == version || !saved)))
        return;
    current = std::move(stored->value);
    version = stored->version;
    saved = true;
    unconditional_save = false;
    ++stats.adopted;
}

JOINME_DECL refresh_outcome refresh_fsm::store_failure(std::string_view what,
                                                       const refresh_input& in) {
    auto o = refresh_outcome::failure(errc::token_store_failed, what);
    if (in.thrown.empty())
        o.diag.client_message += ": " + in.ec.message();
    else
        o.diag.client_message += ": the token store threw an exception: " + in.thrown;
    return o;
}

// A load's result: false, with `out_` set, when the store failed; else the stored token is
// adopted if newer.
JOINME_DECL bool refresh_fsm::loaded(refresh_input& in) {
    if (in.ec) {
        out_ = store_failure("reading the token store failed", in);
        return false;
    }
    s_.adopt(std::move(in.stored));
    if (!s_.current) {
        out_ = refresh_outcome::failure(errc::reauthorization_required,
                                        "no token is stored for this user: authorize the "
                                        "application first");
        return false;
    }
    return true;
}

JOINME_DECL void refresh_fsm::saved(const refresh_input& in) {
    if (in.ec) {
        out_ = store_failure("saving the token failed", in);
        return;
    }
    s_.version = in.version;
    s_.saved = true;
    s_.unconditional_save = false;
    ++s_.stats.saves;
    out_ = refresh_outcome::success(*s_.current);
}

// Builds the refresh request for `current`, unless its refresh token was rejected or the
// source destroyed; false, with `out_` set, when nothing may be sent.
JOINME_DECL bool refresh_fsm::may_send() {
    if (s_.dead(*s_.current) || s_.closed) {
        out_ = s_.closed ? refresh_outcome::aborted() : refresh_outcome::rejected();
        return false;
    }
    error_code built;
    previous_ = *s_.current;
    request_ = make_refresh_request(s_.cfg, previous_.refresh_token, built);
    if (built) {
        out_ = refresh_outcome::failure(built, "the refresh request could not be built");
        return false;
    }
    ++s_.stats.refresh_requests;
    return true;
}

// The token endpoint's answer as the round's outcome; updates the clock offset from `Date`.
JOINME_DECL void refresh_fsm::replied(const refresh_input& in) {
    out_ = {};
    if (in.ec) {
        out_.ec = in.ec;
        out_.diag = in.reply.failure;
        return;
    }
    const auto& r = in.reply;
    if (s_.use_server_date && r.server_date)
        s_.offset = *r.server_date - r.received;
    out_.value =
        finish_token(r, r.received + s_.offset, &previous_, previous_.scopes, out_.ec, out_.diag);
}

JOINME_DECL refresh_action refresh_fsm::resume(refresh_input in) {
    if (failed_)
        return finish(); // the lease is released
    try {
        return step(in);
    } catch (...) {
        return fail(std::current_exception());
    }
}

// An exception the flight does not expect is its callers' error: they must not wait forever
// for a flight that ended.
JOINME_DECL refresh_action refresh_fsm::fail(std::exception_ptr e) {
    if (!failed_) {
        failed_ = true;
        using boost::system::errc::make_error_code;
        try {
            std::rethrow_exception(e);
        } catch (const boost::system::system_error& x) {
            out_ = refresh_outcome::failure(x.code(), "");
        } catch (const std::bad_alloc&) {
            out_ = refresh_outcome::failure(make_error_code(boost::system::errc::not_enough_memory),
                                            "the refresh ran out of memory");
        } catch (const std::exception& x) {
            out_ = refresh_outcome::failure(
                make_error_code(boost::system::errc::state_not_recoverable),
                std::string("the refresh failed with an exception: ") + x.what());
        } catch (...) {
            out_ = refresh_outcome::failure(
                make_error_code(boost::system::errc::state_not_recoverable),
                "the refresh failed with an exception");
        }
    }
    if (locked_) {
        locked_ = false;
        return refresh_action::unlock;
    }
    return finish();
}

JOINME_DECL refresh_action refresh_fsm::finish() {
    s_.force.reset();
    return refresh_action::done;
}

JOINME_DECL refresh_action refresh_fsm::step(refresh_input& in) {
    auto& s = s_;
    BOOST_ASIO_CORO_REENTER(coro_) {
        for (round_ = 0;; ++round_) {
            considered_ = false;
            do { // one round; `break` ends it with `out_`
                if (!s.current && s.has_store && !s.loaded) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::load;
                    if (!loaded(in))
                        break;
                }
                if (!s.current) {
                    out_ = refresh_outcome::failure(
                        errc::reauthorization_required,
                        "no token is held: authorize the application first");
                    break;
                }
                if (!s.saved) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::save;
                    saved(in);
                    break;
                }
                if (s.has_store && s.needs_refresh(*s.current) && s.dead(*s.current)) {
                    // Nothing will be sent: only a token another process stored can help, and
                    // reading the store needs no lease.
                    BOOST_ASIO_CORO_YIELD return refresh_action::load;
                    if (!loaded(in))
                        break;
                    if (s.dead(*s.current)) {
                        out_ = refresh_outcome::rejected();
                        break;
                    }
                }
                considered_ = s.forced(*s.current);
                if (s.has_store && s.needs_refresh(*s.current)) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::lock;
                    if (in.ec) {
                        out_ = store_failure("locking the token store failed", in);
                        break;
                    }
                    lease_ = in.lease;
                    locked_ = true;
                    // Another process may have refreshed meanwhile.
                    BOOST_ASIO_CORO_YIELD return refresh_action::load;
                    if (!loaded(in))
                        break;
                }
                if (!s.needs_refresh(*s.current)) {
                    out_ = refresh_outcome::success(*s.current);
                    break;
                }
                if (!s.current->refreshable()) {
                    if (s.current->expired(s.server_now()) || s.forced(*s.current))
                        out_ = refresh_outcome::failure(
                            errc::reauthorization_required,
                            "the token has expired and has no refresh token");
                    else
                        out_ = refresh_outcome::success(*s.current);
                    break;
                }
                if (!may_send())
                    break;
                BOOST_ASIO_CORO_YIELD return refresh_action::refresh;
                replied(in);
                if (out_.ec == oauth_errc::invalid_grant) {
                    s.rejected_refresh = previous_.refresh_token;
                    if (s.has_store) {
                        // Another process may have rotated the refresh token: take what it
                        // stored.
                        BOOST_ASIO_CORO_YIELD return refresh_action::load;
                        if (!in.ec) {
                            s.adopt(std::move(in.stored));
                            if (s.current &&
                                !(s.current->refresh_token == previous_.refresh_token) &&
                                !s.current->expired(s.server_now()))
                                out_ = refresh_outcome::success(*s.current);
                        }
                    }
                    break;
                }
                if (out_.ec)
                    break;
                s.current = std::move(out_.value);
                s.saved = !s.has_store;
                s.unconditional_save = false;
                if (s.has_store) {
                    BOOST_ASIO_CORO_YIELD return refresh_action::save;
                    saved(in);
                    break;
                }
                out_ = refresh_outcome::success(*s.current);
            } while (false);
            if (locked_) { // whatever happened under the lease, it is released
                locked_ = false;
                BOOST_ASIO_CORO_YIELD return refresh_action::unlock;
                // A lost lease changes nothing for the result.
            }
            if (out_.ec || considered_ || round_ == 1 || !s.forced(out_.value))
                break;
        }
    }
    return finish();
}

} // namespace joinme::oauth::detail

#endif
