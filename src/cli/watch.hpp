// `remediations list --watch` and `remediations get --watch`: the current state, then every
// committed change, from the server-sent events of `…/remediations:watch`.
#pragma once

#include <string>
#include <vector>

#include "cli/client.hpp"

namespace noderepair::cli {

struct WatchRequest {
    std::string cluster;
    std::string instance;        // "-" for the whole cluster
    std::string remediation_id;  // set: follow this one until it ends
    std::string list_target;     // what to GET for the current state: the list or the one
    bool all_pages = false;      // walk every page of the list for the current state
    // Filters of the list, applied to each change too (wire names; empty = any).
    std::vector<std::string> states;
    std::vector<std::string> modes;
    std::vector<std::string> triggers;
    bool json = false;  // one JSON object per line instead of table rows
};

// Prints the current state and then each change. Following one remediation returns 0 once it
// is terminal; following a list runs until the process is interrupted. Reconnects with
// Last-Event-ID when the stream drops; 1 after printing the error when the server refuses or
// stays unreachable.
int Watch(ApiClient& api, const WatchRequest& request);

}  // namespace noderepair::cli
