// Engine pause (docs/http-api.md 6): a persisted maintenance freeze that holds PENDING work.
// Thread-safe; the executor asks IsPaused() before it claims work.
#pragma once

#include <functional>

#include "common/status.hpp"
#include "storage/store.hpp"

namespace noderepair::engine {

class EngineControl {
public:
    explicit EngineControl(storage::Store& store) : store_(store) {}
    Result<bool> IsPaused();
    // Persists the flag; `done` runs after commit with the new value.
    void SetPaused(bool paused, std::function<void(Result<bool>)> done);

private:
    storage::Store& store_;
};

}  // namespace noderepair::engine
