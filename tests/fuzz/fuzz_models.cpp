// libFuzzer target: every model of joinme::api, the webhook event and the API error body read
// from arbitrary bytes through the non-throwing entry points. Bad input must come back as
// errc::malformed_response with a message, never as a crash, an exception or a leak; what
// parses must survive a round trip through value_from unchanged.
#include <joinme/api/models.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

template <class T>
void check(std::string_view body) {
    joinme::error_code ec;
    joinme::diagnostics diag;
    auto model = joinme::api::parse<T>(body, ec, diag);
    if (!model) {
        if (ec != joinme::errc::malformed_response || diag.client_message.empty())
            std::abort();
        return;
    }
    if (ec || !diag.empty())
        std::abort();
    // Writing the model and reading it back gives the same model.
    auto text = boost::json::serialize(boost::json::value_from(*model));
    auto again = joinme::api::parse<T>(text, ec, diag);
    if (!again || !(*again == *model))
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    namespace api = joinme::api;
    check<api::user>(body);
    check<api::audio_conference>(body);
    check<api::start_request>(body);
    check<api::scheduled_start_request>(body);
    check<api::start_result>(body);
    check<api::meeting>(body);
    check<api::meeting_list>(body);
    check<api::meeting_draft>(body);
    check<api::meeting_patch>(body);
    check<api::presenter>(body);
    check<api::presenter_list>(body);
    check<api::new_presenter>(body);
    check<api::webhook_event>(body);
    check<api::webhook_registration>(body);
    check<api::error_body>(body);

    joinme::diagnostics diag;
    api::read_error_body(body, diag);
    if (diag.body_excerpt.size() > joinme::diagnostics::max_excerpt + 3)
        std::abort();
    (void)api::meeting_list_filter::from_end_date(body);
    return 0;
}
