#include "cli/client.hpp"

#include <boost/json/serialize.hpp>

namespace noderepair::cli {

ApiClient::ApiClient(ServerUrl server, std::string token)
    : token_(token), http_(std::move(server), std::move(token)) {}

Result<JsonReply> ApiClient::Call(std::string_view method, std::string_view target,
                                  std::string_view body) {
    NR_ASSIGN_OR_RETURN(HttpReply reply, http_.Send(method, target, body));
    return ReadJsonReply(std::move(reply), http_.server().text);
}

// Every page of a list from `target` onwards, merged into one reply of the same shape
// (`{"<key>": [...], "has_next": false, "next_page_token": ""}`).
Result<JsonReply> GetAllPages(ApiClient& api, const std::string& target, std::string_view key) {
    boost::json::array items;
    std::string token;
    for (;;) {
        std::string page = target;
        if (!token.empty()) AddQuery(page, "page_token", token);
        NR_ASSIGN_OR_RETURN(JsonReply reply, api.Get(page));
        for (const auto& item : Items(reply.value, key)) items.push_back(item);
        const std::string next = Text(reply.value, "next_page_token");
        if (!Flag(reply.value, "has_next") || next.empty()) break;
        if (next == token) return Internal("the server returned the same page token twice");
        token = next;
    }
    boost::json::object merged;
    merged[boost::json::string_view(key.data(), key.size())] = std::move(items);
    merged["has_next"] = false;
    merged["next_page_token"] = "";
    JsonReply out;
    out.value = std::move(merged);
    out.body = boost::json::serialize(out.value);
    return out;
}

std::string Path(std::initializer_list<std::string_view> segments) {
    std::string out;
    for (auto segment : segments) {
        out.push_back('/');
        out += EncodeUrlComponent(segment);
    }
    return out;
}

void AddQuery(std::string& target, std::string_view key, std::string_view value) {
    target.push_back(target.find('?') == std::string::npos ? '?' : '&');
    target += EncodeUrlComponent(key);
    target.push_back('=');
    target += EncodeUrlComponent(value);
}

}  // namespace noderepair::cli
