// Request bodies (POST and PATCH): the strict JSON parse, "an empty body is {}", and the field
// decoders the routes use. Strict parsing only narrows what Boost.JSON accepts, and the strings
// it accepts are written back as the same strings, since handlers echo them (reason, comment).
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/codec.hpp"
#include "api/http.hpp"
#include "common/json.hpp"
#include "invariants.hpp"

using namespace noderepair;

namespace {

void CheckStringFields(const boost::json::object& body) {
    for (std::string_view key : {"reason", "comment", "kind", "policy"}) {
        auto text = api::OptionalStringField(body, key);
        if (!text) continue;
        std::string json;
        JsonWriter(json).BeginObject().Key(key).String(*text).EndObject();
        auto back = ParseStrictJson(json);
        if (!back || back->as_object().at(key).as_string() != *text) {
            fuzz::Broken("a string field is echoed as the same JSON string", json);
        }
    }
    (void)api::OptionalModeField(body, "mode");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    auto strict = ParseStrictJson(body);
    if (strict) {
        boost::json::parse_options depth;
        depth.max_depth = 64;  // ParseStrictJson's; Boost's own default is 32
        boost::system::error_code ec;
        auto loose = boost::json::parse(body, ec, {}, depth);
        if (ec || loose != *strict) fuzz::Broken("strict JSON is also Boost.JSON's", body);
    }
    auto object = api::ParseBodyObject(body);
    if (!object) {
        fuzz::CheckWritesStrictJson(api::ErrorResponse(object.error()).body);
        return 0;
    }
    CheckStringFields(*object);
    return 0;
}
