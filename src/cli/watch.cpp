#include "cli/watch.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/enums.hpp"
#include "cli/sse.hpp"
#include "cli/views.hpp"
#include "common/json.hpp"
#include "common/time.hpp"

namespace noderepair::cli {
namespace {

using boost::json::value;
using Clock = std::chrono::steady_clock;

// The server sends a keepalive every 15 s: three missed ones mean the stream is dead.
constexpr auto kIdleTimeout = std::chrono::seconds(45);
constexpr auto kRetryDelay = std::chrono::seconds(1);
constexpr auto kGiveUpAfter = std::chrono::seconds(30);
// Column widths the rows of later changes are likely to need (PENDING_APPROVAL, UUIDs, …).
const std::vector<size_t> kMinWidths = {24, 36, 8, 16, 16, 0};

void Print(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

int Failed(const std::string& message) {
    std::fprintf(stderr, "noderepair: %s\n", message.c_str());
    return kExitFailure;
}

bool Contains(const std::vector<std::string>& wanted, const std::string& v) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), v) != wanted.end();
}

// One watch: what was printed so far and where the stream is. Used by one thread.
class Follower {
public:
    Follower(ApiClient& api, const WatchRequest& request) : api_(api), r_(request) {}

    int Run() {
        HttpClient stream(api_.server(), api_.token());
        std::string target =
            Path({"v1", "compute", "clusters", r_.cluster, "instances", r_.instance}) +
            "/remediations:watch";
        if (!r_.remediation_id.empty()) AddQuery(target, "remediation_id", r_.remediation_id);
        bool connected_once = false;
        bool said_reconnecting = false;
        std::optional<Clock::time_point> failing_since;
        for (;;) {
            SseParser parser;
            // With nothing to resume from, the GET after `ready` gives the current state;
            // subscribing first means no change between the two is missed.
            fetch_after_ready_ = last_event_id_.empty();
            HttpHeaders headers;
            if (!last_event_id_.empty()) headers.emplace_back("last-event-id", last_event_id_);
            auto result = stream.Stream(target, headers, kIdleTimeout, [&](std::string_view data) {
                connected_once = true;
                failing_since.reset();
                auto events = parser.Feed(data);
                if (!events) {
                    error_ = "watch: " + events.error().message;
                    return false;
                }
                for (const auto& event : *events) {
                    if (!OnEvent(event)) return false;
                }
                return true;
            });
            if (result && result->status == 200) connected_once = true;
            if (error_) return Failed(*error_);
            if (done_) return 0;
            if (result && result->status != 200) return Failed(DescribeErrorReply(*result));
            if (!connected_once) return Failed(result.error().message);
            const std::string why = result ? "the server ended the stream" : result.error().message;
            if (!failing_since) failing_since = Clock::now();
            if (Clock::now() - *failing_since > kGiveUpAfter) {
                return Failed("watch lost: " + why);
            }
            if (!said_reconnecting) {
                std::fprintf(stderr, "noderepair: watch interrupted (%s); reconnecting\n",
                             why.c_str());
                said_reconnecting = true;
            }
            std::this_thread::sleep_for(kRetryDelay);
        }
    }

private:
    // Handles one server-sent event; false stops reading the stream.
    bool OnEvent(const SseEvent& event) {
        if (!event.id.empty()) last_event_id_ = event.id;
        if (event.event == "ready") {
            if (fetch_after_ready_) {
                fetch_after_ready_ = false;
                Refresh();
            }
        } else if (event.event == "reset") {
            // The server could not replay what was missed: the current state again.
            Refresh();
        } else if (event.event == "remediation") {
            auto remediation = ParseStrictJson(event.data);
            if (remediation && remediation->is_object()) Show({&*remediation});
        }
        return !error_ && !done_;
    }

    void Refresh() {
        const bool one = !r_.remediation_id.empty();
        auto reply = one || !r_.all_pages ? api_.Get(r_.list_target)
                                          : GetAllPages(api_, r_.list_target, "remediations");
        if (!reply) {
            error_ = reply.error().message;
            return;
        }
        std::vector<const value*> items;
        if (one) {
            items.push_back(&reply->value);
        } else {
            for (const auto& r : Items(reply->value, "remediations")) items.push_back(&r);
        }
        Show(items);
    }

    bool Matches(const value& r) const {
        return Contains(r_.states, Text(r, "state")) && Contains(r_.modes, Text(r, "mode")) &&
               Contains(r_.triggers, Text(r, "trigger"));
    }

    // Prints the remediations that changed since they were last printed; a replayed or
    // re-fetched version already shown is skipped.
    void Show(const std::vector<const value*>& remediations) {
        std::vector<const value*> fresh;
        for (const value* r : remediations) {
            const std::string id = Text(*r, "id");
            auto updated = ParseRfc3339(Text(*r, "update_time"));
            const int64_t micros = updated ? ToMicros(*updated) : 0;
            auto [it, inserted] = printed_.try_emplace(id, micros);
            if (!inserted && it->second >= micros) continue;
            it->second = micros;
            if (!r_.remediation_id.empty()) {
                if (id != r_.remediation_id) continue;
                if (IsTerminalState(Text(*r, "state"))) done_ = true;
            } else if (!Matches(*r)) {
                continue;
            }
            fresh.push_back(r);
        }
        if (r_.json) {
            for (const value* r : fresh) Print(boost::json::serialize(*r) + "\n");
            return;
        }
        std::vector<TableRow> rows;
        rows.reserve(fresh.size());
        for (const value* r : fresh) rows.push_back(WatchRow(*r));
        std::string out;
        if (widths_.empty()) {
            widths_ = ColumnWidths(WatchHeader(), rows);
            for (size_t i = 0; i < widths_.size() && i < kMinWidths.size(); ++i) {
                widths_[i] = std::max(widths_[i], kMinWidths[i]);
            }
            out += FormatRow(WatchHeader(), widths_);
        }
        for (const auto& row : rows) out += FormatRow(row, widths_);
        Print(out);
    }

    ApiClient& api_;
    const WatchRequest& r_;
    std::map<std::string, int64_t> printed_;  // id → update_time (µs) last seen
    std::vector<size_t> widths_;              // empty until the header is printed
    std::string last_event_id_;
    bool fetch_after_ready_ = false;
    bool done_ = false;
    std::optional<std::string> error_;
};

}  // namespace

int Watch(ApiClient& api, const WatchRequest& request) { return Follower(api, request).Run(); }

}  // namespace noderepair::cli
