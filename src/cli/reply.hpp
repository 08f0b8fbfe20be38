// What the CLI makes of a server's reply, apart from the connection that brought it: parsed
// JSON or the one line of error the user sees, and field access on that JSON. Pure functions of
// the status and body, so the fuzzers in fuzz/ reach them without a socket.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "cli/http_client.hpp"
#include "common/status.hpp"

namespace noderepair::cli {

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

// The field `key` of a JSON object; nullptr when `object` is no object or lacks it.
const boost::json::value* Field(const boost::json::value& object, std::string_view key);

// Field access on a JSON object that may lack the field: strings as they are, numbers and
// booleans as text, anything else (or nothing) as "".
std::string Text(const boost::json::value& object, std::string_view key);
bool Flag(const boost::json::value& object, std::string_view key);
const boost::json::array& Items(const boost::json::value& object, std::string_view key);

}  // namespace noderepair::cli
