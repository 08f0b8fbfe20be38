// A server's reply as the CLI reads and prints it: ReadJsonReply, then the error line or every
// view of the JSON (cli/views.hpp). The server may be broken, or hostile, or something else
// answering in its place, so what reaches the user's terminal must be text (CheckTerminalText):
// an error is one line, a view has newlines only between its lines, and a table has one line
// per item under its header.
//
// Input: two bytes of HTTP status (big-endian, modulo 1000), one byte of x-request-id length
// (modulo 33), the request id (bytes as Beast passes them: anything but CR, LF and other
// control characters but tab), then the body.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/reply.hpp"
#include "cli/views.hpp"
#include "invariants.hpp"

using namespace noderepair;

namespace {

// A table of `key`'s items, as `list` prints it: one line each under a header.
void CheckTable(const boost::json::value& value, std::string_view key,
                std::string (*view)(const boost::json::value&)) {
    const std::string text = view(value);
    fuzz::CheckTerminalText(text, true);
    const size_t lines = size_t(std::count(text.begin(), text.end(), '\n'));
    if (text.empty() || text.back() != '\n' || lines != 1 + cli::Items(value, key).size()) {
        fuzz::Broken("a table prints one line per item under its header", text);
    }
}

// "Key: value" lines and, for some, a table after them.
void CheckText(const boost::json::value& value, std::string (*view)(const boost::json::value&)) {
    const std::string text = view(value);
    fuzz::CheckTerminalText(text, true);
    if (!text.empty() && text.back() != '\n') fuzz::Broken("a view ends its last line", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    cli::HttpReply reply;
    reply.status = (data[0] << 8 | data[1]) % 1000;
    const size_t id_length = std::min<size_t>(data[2] % 33, size - 3);
    reply.request_id.assign(reinterpret_cast<const char*>(data) + 3, id_length);
    for (char c : reply.request_id) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return 0;  // Beast refuses the header
    }
    reply.body.assign(reinterpret_cast<const char*>(data) + 3 + id_length, size - 3 - id_length);
    reply.content_type = "application/json";
    const std::string body = reply.body;
    const std::string status = std::to_string(reply.status);
    const bool success = reply.status >= 200 && reply.status <= 299;

    auto json = cli::ReadJsonReply(std::move(reply), "http://127.0.0.1:8080");
    if (!json) {
        // Printed as "noderepair: <message>\n".
        const std::string& line = json.error().message;
        fuzz::CheckTerminalText(line, false);
        const bool status_first = line.compare(0, status.size() + 1, status + " ") == 0 ||
                                  line.compare(0, status.size() + 1, status + ":") == 0;
        if (!success && !status_first) {
            fuzz::Broken("an error line starts with the HTTP status", line);
        }
        return 0;
    }
    if (json->body != body) fuzz::Broken("--json prints the body as it came", json->body);
    const boost::json::value& value = json->value;
    CheckTable(value, "remediations", &cli::RemediationTable);
    CheckTable(value, "events", &cli::EventTable);
    CheckTable(value, "clusters", &cli::ClusterTable);
    CheckTable(value, "hosts", &cli::HostTable);
    CheckTable(value, "alerts", &cli::AlertTable);
    CheckTable(value, "health_checks", &cli::HealthCheckTable);
    CheckText(value, &cli::RemediationDetail);
    CheckText(value, &cli::ClusterDetail);
    CheckText(value, &cli::HealthCheckDetail);
    CheckText(value, &cli::EngineLine);
    CheckText(value, &cli::NextPageHint);
    // The watch prints the same rows, one line each.
    const std::string row = cli::FormatRow(cli::WatchRow(value), {10, 10, 10, 10, 10, 10});
    fuzz::CheckTerminalText(row, true);
    if (std::count(row.begin(), row.end(), '\n') != 1) fuzz::Broken("a row is one line", row);
    return 0;
}
