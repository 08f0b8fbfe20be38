#include "engine/control.hpp"

namespace noderepair::engine {

namespace {
constexpr const char* kPausedKey = "engine.paused";
}

Result<bool> EngineControl::IsPaused() {
    bool paused = false;
    NR_RETURN_IF_ERROR(store_.Read([&](storage::Reader& reader) -> Status {
        NR_ASSIGN_OR_RETURN(auto value, reader.Settings().Get(kPausedKey));
        paused = value && *value == "true";
        return OkStatus();
    }));
    return paused;
}

void EngineControl::SetPaused(bool paused, std::function<void(Result<bool>)> done) {
    store_.Write(
        [paused](storage::Txn& txn) {
            return txn.Settings().Put(kPausedKey, paused ? "true" : "false");
        },
        [paused, done = std::move(done)](Status committed) {
            if (!committed) return done(committed.error());
            done(paused);
        });
}

}  // namespace noderepair::engine
