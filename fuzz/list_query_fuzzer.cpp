// The query string of a remediation list (GET .../remediations?state=...&page_size=...):
// percent-decoding by the target parser, then filters, page size, page token and order. A
// refusal is a JSON error body that reads back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/request_params.hpp"
#include "api/request_target.hpp"
#include "invariants.hpp"

using namespace noderepair;

namespace {

template <class E>
bool SortedAndUnique(const std::vector<E>& values) {
    return std::adjacent_find(values.begin(), values.end(), std::greater_equal<E>()) ==
           values.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string target = "/v1/compute/clusters/c/instances/-/remediations?";
    target.append(reinterpret_cast<const char*>(data), size);
    api::HttpRequest request;
    if (Status parsed = api::ParseRequestTarget(target, request); !parsed) {
        fuzz::CheckWritesStrictJson(api::ErrorResponse(parsed.error()).body);
        return 0;
    }
    api::Call call{std::move(request), {"c", "-"}, {}};
    auto list = api::ParseListRequest(call);
    if (!list) {
        fuzz::CheckWritesStrictJson(api::ErrorResponse(list.error()).body);
        return 0;
    }
    if (list->page_size < 0 || list->page_size > 1000) {
        fuzz::Broken("page_size is within 0..1000", target);
    }
    if (!SortedAndUnique(list->states) || !SortedAndUnique(list->modes) ||
        !SortedAndUnique(list->triggers)) {
        fuzz::Broken("filters hold each value once, in order", target);
    }
    return 0;
}
