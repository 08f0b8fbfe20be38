#include "cli/reply.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "cli/table.hpp"
#include "common/json.hpp"

namespace noderepair::cli {

std::string DescribeErrorReply(const HttpReply& reply) {
    std::string line = std::to_string(reply.status);
    auto parsed = ParseStrictJson(reply.body);
    const boost::json::value* code = nullptr;
    const boost::json::value* message = nullptr;
    if (parsed && parsed->is_object()) {
        code = parsed->as_object().if_contains("code");
        message = parsed->as_object().if_contains("message");
    }
    // What the server sent is shown as TerminalText: it may hold control characters.
    if (code != nullptr && code->is_int64() && message != nullptr && message->is_string()) {
        const int64_t n = code->as_int64();
        if (n >= 0 && n <= int64_t(Code::kUnauthenticated)) {
            line += " " + std::string(CodeName(Code(n)));
        } else {
            line += " code " + std::to_string(n);
        }
        line += ": " + TerminalText(message->as_string());
    } else {
        // Not ours (a proxy in between, say): show the start of what came back, cut between
        // characters.
        size_t end = std::min<size_t>(reply.body.size(), 200);
        while (end > 0 && end < reply.body.size() &&
               (static_cast<unsigned char>(reply.body[end]) & 0xc0) == 0x80) {
            --end;
        }
        std::string text = TerminalText(std::string_view(reply.body).substr(0, end));
        while (!text.empty() && text.back() == ' ') text.pop_back();
        line += text.empty() ? std::string(": (no body)") : ": " + text;
    }
    if (!reply.request_id.empty()) {
        line += " (request id " + TerminalText(reply.request_id) + ")";
    }
    return line;
}

Result<JsonReply> ReadJsonReply(HttpReply reply, std::string_view server) {
    if (reply.status < 200 || reply.status > 299) {
        // The google.rpc code travels in the message; the caller only prints it.
        return Error{Code::kUnknown, DescribeErrorReply(reply)};
    }
    auto value = ParseStrictJson(reply.body);
    if (!value) {
        return Internal("the server at " + std::string(server) +
                        " answered with something that is not JSON (request id " +
                        TerminalText(reply.request_id) + ")");
    }
    return JsonReply{std::move(reply.body), std::move(*value)};
}

const boost::json::value* Field(const boost::json::value& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    return object.as_object().if_contains(boost::json::string_view(key.data(), key.size()));
}

std::string Text(const boost::json::value& object, std::string_view key) {
    const auto* v = Field(object, key);
    if (v == nullptr || v->is_null()) return {};
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_bool()) return v->as_bool() ? "true" : "false";
    if (v->is_number()) return boost::json::serialize(*v);
    return {};
}

bool Flag(const boost::json::value& object, std::string_view key) {
    const auto* v = Field(object, key);
    return v != nullptr && v->is_bool() && v->as_bool();
}

const boost::json::array& Items(const boost::json::value& object, std::string_view key) {
    static const boost::json::array kEmpty;
    const auto* v = Field(object, key);
    return v != nullptr && v->is_array() ? v->as_array() : kEmpty;
}

}  // namespace noderepair::cli
