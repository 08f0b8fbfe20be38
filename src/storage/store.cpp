#include "storage/store.hpp"

#include <future>

namespace noderepair::storage {

RemediationWriteKey UncheckedRemediationWriteKey() { return {}; }

Status Store::WriteAndWait(TxnWork work) {
    std::promise<Status> committed;
    auto result = committed.get_future();
    Write(std::move(work), [&committed](Status s) { committed.set_value(std::move(s)); });
    return result.get();
}

}  // namespace noderepair::storage
