#include "api/request_target.hpp"

#include <boost/url/parse.hpp>

namespace noderepair::api {

Status ParseRequestTarget(std::string_view target, HttpRequest& out) {
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return InvalidArgument("malformed request target");
    for (auto segment : url->segments()) out.segments.push_back(segment);
    for (auto param : url->params()) {
        out.query.emplace_back(param.key, param.has_value ? param.value : std::string());
    }
    return OkStatus();
}

}  // namespace noderepair::api
