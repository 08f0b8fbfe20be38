// What every client verb shares: the server and token flags, the HTTP connection, and the
// paths it asks for; what a reply is read into is reply.hpp's. Used by one thread.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "cli/http_client.hpp"
#include "cli/reply.hpp"
#include "common/status.hpp"

namespace noderepair::cli {

// Flags that every client verb takes (docs/http-api.md 6). Flags win over the environment.
struct ClientFlags {
    std::string server = "http://127.0.0.1:8080";  // or NODEREPAIR_SERVER
    std::string token;                             // or NODEREPAIR_TOKEN
    std::string cacert;                            // or NODEREPAIR_CACERT; for https only
    bool json = false;                             // print the server's JSON as it came
};

class ApiClient {
public:
    ApiClient(ServerUrl server, std::string token);

    // Sends one request; the reply is read by ReadJsonReply. Network failures keep their own
    // message.
    Result<JsonReply> Call(std::string_view method, std::string_view target,
                           std::string_view body = {});
    Result<JsonReply> Get(std::string_view target) { return Call("GET", target); }

    const ServerUrl& server() const { return http_.server(); }
    const std::string& token() const { return token_; }

private:
    std::string token_;
    HttpClient http_;
};

// Every page of a list from `target` onwards, merged into one reply of the same shape:
// {"<key>": [...], "has_next": false, "next_page_token": ""}.
Result<JsonReply> GetAllPages(ApiClient& api, const std::string& target, std::string_view key);

// Builds a path from segments, percent-encoding each: Path({"v1", "compute", id}).
std::string Path(std::initializer_list<std::string_view> segments);

// Appends "?key=value" or "&key=value", encoding the value.
void AddQuery(std::string& target, std::string_view key, std::string_view value);

}  // namespace noderepair::cli
