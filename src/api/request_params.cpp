#include "api/request_params.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "remediation/page_token.hpp"

namespace noderepair::api {
namespace {

// Splits "A,B" and repeated keys into one list of values (docs/http-api.md 4.3; the SDK joins
// arrays with commas).
std::vector<std::string> SplitValues(const std::vector<std::string>& raw) {
    std::vector<std::string> out;
    for (const auto& value : raw) {
        size_t start = 0;
        while (start <= value.size()) {
            size_t comma = value.find(',', start);
            if (comma == std::string::npos) comma = value.size();
            std::string item = value.substr(start, comma - start);
            while (!item.empty() && item.front() == ' ') item.erase(item.begin());
            while (!item.empty() && item.back() == ' ') item.pop_back();
            if (!item.empty()) out.push_back(std::move(item));
            start = comma + 1;
        }
    }
    return out;
}

template <class E>
Status ParseEnumFilter(const HttpRequest& req, const char* key,
                       std::optional<E> (*parse)(std::string_view), std::vector<E>& out) {
    for (const auto& name : SplitValues(req.QueryValues(key))) {
        auto value = parse(name);
        if (!value) return InvalidArgument("unknown " + std::string(key) + " '" + name + "'");
        if (std::find(out.begin(), out.end(), *value) == out.end()) out.push_back(*value);
    }
    std::sort(out.begin(), out.end());
    return OkStatus();
}

Status ParseOrderBy(const std::string& text, remediation::ListRequest& list) {
    std::string field;
    std::string direction;
    std::string rest;
    size_t i = 0;
    auto word = [&](std::string& out) {
        while (i < text.size() && text[i] == ' ') ++i;
        while (i < text.size() && text[i] != ' ') {
            out.push_back(char(std::tolower(static_cast<unsigned char>(text[i++]))));
        }
    };
    word(field);
    word(direction);
    word(rest);
    if (field == "create_time") {
        list.order = storage::OrderField::kCreateTime;
    } else if (field == "update_time") {
        list.order = storage::OrderField::kUpdateTime;
    } else {
        return InvalidArgument(
            "order_by must be create_time or update_time, optionally followed by asc or desc");
    }
    if (direction.empty() || direction == "asc") {
        list.descending = false;
    } else if (direction == "desc") {
        list.descending = true;
    } else {
        return InvalidArgument("order_by direction must be asc or desc");
    }
    if (!rest.empty()) return InvalidArgument("order_by takes one field and a direction");
    return OkStatus();
}

}  // namespace

std::optional<std::string> SingleParam(const HttpRequest& req, std::string_view snake,
                                       std::string_view camel) {
    auto values = req.QueryValues(snake, camel);
    if (values.empty()) return std::nullopt;
    return values.back();
}

Result<std::optional<int>> ParsePageSize(const HttpRequest& req, PageSizeOverflow overflow) {
    auto size = SingleParam(req, "page_size", "pageSize");
    if (!size || size->empty()) return std::optional<int>();
    long long value = 0;
    auto [end, ec] = std::from_chars(size->data(), size->data() + size->size(), value);
    if (ec == std::errc::result_out_of_range && overflow == PageSizeOverflow::kClamp) {
        value = size->front() == '-' ? -1 : 1000;
    } else if (ec != std::errc() || end != size->data() + size->size()) {
        return InvalidArgument("page_size must be an integer");
    }
    if (value < 0) return InvalidArgument("page_size must not be negative");
    return std::optional<int>(int(std::min<long long>(value, 1000)));
}

Result<remediation::ListRequest> ParseListRequest(const Call& call) {
    remediation::ListRequest list;
    list.cluster_id = call.params[0];
    list.instance_id = call.params[1];
    const HttpRequest& req = call.request;
    NR_RETURN_IF_ERROR(ParseEnumFilter(req, "state", &model::ParseState, list.states));
    NR_RETURN_IF_ERROR(ParseEnumFilter(req, "mode", &model::ParseMode, list.modes));
    NR_RETURN_IF_ERROR(ParseEnumFilter(req, "trigger", &model::ParseTrigger, list.triggers));
    NR_ASSIGN_OR_RETURN(auto page_size, ParsePageSize(req, PageSizeOverflow::kClamp));
    if (page_size) list.page_size = *page_size;
    if (auto token = SingleParam(req, "page_token", "pageToken")) list.page_token = *token;
    if (auto order = SingleParam(req, "order_by", "orderBy"); order && !order->empty()) {
        NR_RETURN_IF_ERROR(ParseOrderBy(*order, list));
    }
    return list;
}

Result<AlertListRequest> ParseAlertListRequest(const Call& call) {
    AlertListRequest list;
    storage::AlertQuery& query = list.query;
    query.cluster_id = call.params[0];
    auto status = SingleParam(call.request, "status", "status");
    if (status && *status == "firing") {
        query.firing = true;
    } else if (status && *status == "resolved") {
        query.firing = false;
    } else if (status && !status->empty()) {
        return InvalidArgument("status must be firing or resolved");
    }
    // This list has always given one message for every bad page_size.
    auto size = ParsePageSize(call.request, PageSizeOverflow::kRefuse);
    if (!size) return InvalidArgument("page_size must be a non-negative integer");
    if (*size) query.limit = **size == 0 ? 50 : **size;
    list.token_fingerprint =
        remediation::ShortHash("alerts\n" + query.cluster_id + "\n" + (status ? *status : ""));
    if (auto token = SingleParam(call.request, "page_token", "pageToken");
        token && !token->empty()) {
        NR_ASSIGN_OR_RETURN(query.after,
                            remediation::DecodePageToken(*token, list.token_fingerprint));
    }
    return list;
}

}  // namespace noderepair::api
