// Point reads by key, coalesced: callers that ask while a read is in flight are answered
// together by the next one, a single fetch of all their keys (docs/design.md 7: on
// PostgreSQL one statement for many GETs instead of a round trip and a statement each).
//
// No new thread: the first caller to find no read in flight runs the fetch for everyone
// queued (itself included) and hands each caller its value; the others wait. A fetch only
// ever serves callers that queued before it started, so every caller sees what was committed
// before it asked, exactly as a read of its own would.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.hpp"

namespace noderepair {

template <class Key, class Value, class Hash = std::hash<Key>>
class ReadCoalescer {
public:
    // Values of the keys that exist; a key missing from the map does not exist.
    using Found = std::unordered_map<Key, Value, Hash>;
    using Fetch = std::function<Result<Found>(const std::vector<Key>&)>;

    ReadCoalescer(Fetch fetch, size_t max_keys) : fetch_(std::move(fetch)), max_keys_(max_keys) {}

    // Blocks until a fetch that started after this call answered `key`.
    Result<std::optional<Value>> Get(const Key& key) {
        Waiter self{key, {}, {}};
        std::unique_lock lock(mu_);
        queued_.push_back(&self);
        while (!self.answer) {
            if (fetching_) {
                self.wake.wait(lock);
                continue;
            }
            fetching_ = true;
            std::vector<Waiter*> batch = TakeBatch();
            lock.unlock();
            std::vector<Key> keys;
            std::unordered_set<Key, Hash> seen;
            for (const Waiter* w : batch) {
                if (seen.insert(w->key).second) keys.push_back(w->key);
            }
            auto fetched = fetch_(keys);
            lock.lock();
            fetching_ = false;
            ++fetches_;
            // Wakes this batch's callers, each on its own, and the oldest of those queued
            // meanwhile to fetch next: waking every waiting thread for each fetch cost more
            // context switches than the GETs themselves.
            for (Waiter* w : batch) {
                w->answer = AnswerFor(fetched, w->key);
                if (w != &self) w->wake.notify_one();
            }
            if (!queued_.empty()) queued_.front()->wake.notify_one();
        }
        return *std::move(self.answer);
    }

    // Fetches finished so far, and callers waiting for a fetch to start (for tests).
    size_t fetches() const {
        std::lock_guard lock(mu_);
        return fetches_;
    }
    size_t queued() const {
        std::lock_guard lock(mu_);
        return queued_.size();
    }

private:
    struct Waiter {
        Key key;
        std::optional<Result<std::optional<Value>>> answer;
        std::condition_variable wake;  // its answer came, or it is the next to fetch
    };

    // The oldest queued callers, at most max_keys_ of them (a caller here may be answered
    // by a later fetch, never by one that started before it asked).
    std::vector<Waiter*> TakeBatch() {
        const size_t n = std::min(queued_.size(), max_keys_);
        std::vector<Waiter*> batch(queued_.begin(), queued_.begin() + ptrdiff_t(n));
        queued_.erase(queued_.begin(), queued_.begin() + ptrdiff_t(n));
        return batch;
    }

    static Result<std::optional<Value>> AnswerFor(const Result<Found>& fetched, const Key& key) {
        if (!fetched) return fetched.error();
        auto it = fetched->find(key);
        if (it == fetched->end()) return std::optional<Value>();
        return std::optional<Value>(it->second);
    }

    const Fetch fetch_;
    const size_t max_keys_;
    mutable std::mutex mu_;
    std::vector<Waiter*> queued_;
    bool fetching_ = false;
    size_t fetches_ = 0;
};

}  // namespace noderepair
