// What every client verb shares: the server and token flags, the HTTP connection, and the
// turn from a reply into parsed JSON or the one line of error the user sees. Used by one thread.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "cli/http_client.hpp"
#include "common/status.hpp"

namespace noderepair::cli {

// Flags that every client verb takes (API.md 6). Flags win over the environment.
struct ClientFlags {
    std::string server = "http://127.0.0.1:8080";  // or NODEREPAIR_SERVER
    std::string token;                             // or NODEREPAIR_TOKEN
    bool json = false;                             // print the server's JSON as it came
};

// The line for a non-2xx reply: "404 NOT_FOUND: <server message> (request id <id>)".
// A body that is not a google.rpc.Status is shown in part, as text.
std::string DescribeErrorReply(const HttpReply& reply);

// One JSON reply: its text as the server sent it (for --json) and its parsed value.
struct JsonReply {
    std::string body;
    boost::json::value value;
};

// What the CLI makes of a reply to an API call: a 2xx with a JSON body is that JSON; any other
// status an Error whose message is DescribeErrorReply's line; a 2xx whose body is not JSON an
// Internal error naming `server` (the --server URL, for the message). The reply comes from a
// server that may be broken or hostile: nothing in it is trusted.
Result<JsonReply> ReadJsonReply(HttpReply reply, std::string_view server);

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

// The field `key` of a JSON object; nullptr when `object` is no object or lacks it.
const boost::json::value* Field(const boost::json::value& object, std::string_view key);

// Field access on a JSON object that may lack the field: strings as they are, numbers and
// booleans as text, anything else (or nothing) as "".
std::string Text(const boost::json::value& object, std::string_view key);
bool Flag(const boost::json::value& object, std::string_view key);
const boost::json::array& Items(const boost::json::value& object, std::string_view key);

}  // namespace noderepair::cli
