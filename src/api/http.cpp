#include "api/http.hpp"

#include <cstdio>

#include "common/json.hpp"

namespace noderepair::api {

std::vector<std::string> HttpRequest::QueryValues(std::string_view name,
                                                  std::string_view alias) const {
    std::vector<std::string> values;
    for (const auto& [key, value] : query) {
        if (key == name || (!alias.empty() && key == alias)) values.push_back(value);
    }
    return values;
}

int HttpStatusFor(Code code) {
    switch (code) {
        case Code::kOk:
            return 200;
        case Code::kCancelled:
            return 499;
        case Code::kUnknown:
            return 500;
        case Code::kInvalidArgument:
            return 400;
        case Code::kDeadlineExceeded:
            return 504;
        case Code::kNotFound:
            return 404;
        case Code::kAlreadyExists:
            return 409;
        case Code::kPermissionDenied:
            return 403;
        case Code::kResourceExhausted:
            return 429;
        case Code::kFailedPrecondition:
            return 400;
        case Code::kAborted:
            return 409;
        case Code::kOutOfRange:
            return 400;
        case Code::kUnimplemented:
            return 501;
        case Code::kInternal:
            return 500;
        case Code::kUnavailable:
            return 503;
        case Code::kDataLoss:
            return 500;
        case Code::kUnauthenticated:
            return 401;
    }
    return 500;
}

HttpResponse ErrorResponse(const Error& error) {
    HttpResponse response;
    response.status = HttpStatusFor(error.code);
    // docs/http-api.md 3: an internal error's message never leaks internals (SQL, paths); the log
    // keeps it.
    const bool internal = error.code == Code::kInternal || error.code == Code::kUnknown ||
                          error.code == Code::kDataLoss;
    if (internal) std::fprintf(stderr, "noderepair: internal error: %s\n", error.message.c_str());
    JsonWriter w(response.body);
    w.BeginObject()
        .Key("code")
        .Int(int(error.code))
        .Key("message")
        .String(internal ? "internal error; the server log has the details" : error.message)
        .Key("details")
        .BeginArray()
        .EndArray()
        .EndObject();
    // The SDK retries 408, 409, 429 and >= 500 unless told otherwise (docs/http-api.md 3).
    const bool retriable = IsTransient(error.code) || error.code == Code::kInternal;
    if (!retriable) response.headers.emplace_back("x-should-retry", "false");
    // docs/http-api.md 10: past a bound the client is told when to come back; a second is
    // about how long a full queue takes to drain.
    if (error.code == Code::kUnavailable) response.headers.emplace_back("retry-after", "1");
    return response;
}

HttpResponse JsonResponse(std::string body, int status) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

}  // namespace noderepair::api
