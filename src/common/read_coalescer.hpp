// Point reads by key, coalesced: keys asked while a read is in flight are read together by
// the next one, a single fetch of all of them (docs/design.md 7: on PostgreSQL one statement
// for many GETs instead of a round trip and a statement each).
//
// The fetches run on a thread of the coalescer's own, one after the other, each for every key
// queued when it starts (at most max_keys), and hand each caller its value on its callback. So
// asking never waits, even on an I/O thread, and under load the thread fetches batch after
// batch without being woken for each. A fetch only ever serves keys queued before it started,
// so every caller sees what was committed before it asked, exactly as a read of its own would.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.hpp"
#include "common/thread_name.hpp"

namespace noderepair {

template <class Key, class Value, class Hash = std::hash<Key>>
class ReadCoalescer {
public:
    // Values of the keys that exist; a key missing from the map does not exist.
    using Found = std::unordered_map<Key, Value, Hash>;
    using Fetch = std::function<Result<Found>(const std::vector<Key>&)>;

    using Answer = Result<std::optional<Value>>;
    using Done = std::function<void(Answer)>;

    // `thread_name`: what the fetching thread is called (at most 15 characters).
    ReadCoalescer(Fetch fetch, size_t max_keys, const char* thread_name)
        : fetch_(std::move(fetch)), max_keys_(max_keys), thread_([this, thread_name] {
              NameThisThread(thread_name);
              FetchWhileOpen();
          }) {}

    // Answers what is queued, then stops.
    ~ReadCoalescer() {
        {
            std::lock_guard lock(mu_);
            closing_ = true;
        }
        queued_or_closing_.notify_one();
        thread_.join();
    }

    ReadCoalescer(const ReadCoalescer&) = delete;
    ReadCoalescer& operator=(const ReadCoalescer&) = delete;

    // Queues `key`; `done` gets its value, on the coalescer's thread, from a fetch that starts
    // after this call.
    void Ask(const Key& key, Done done) {
        bool idle;
        {
            std::lock_guard lock(mu_);
            queued_.push_back({key, std::move(done)});
            idle = idle_;
        }
        // A fetching thread takes the queue when its fetch is done: only an idle one is woken.
        if (idle) queued_or_closing_.notify_one();
    }

    // Ask, waiting for the answer.
    Answer Get(const Key& key) {
        // Shared: the fetching thread may still be inside set_value when this one returns.
        auto answered = std::make_shared<std::promise<Answer>>();
        auto answer = answered->get_future();
        Ask(key, [answered](Answer a) { answered->set_value(std::move(a)); });
        return answer.get();
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
        Done done;
    };

    // Fetches the queued keys, the oldest max_keys_ at a time, until closed with none queued;
    // each batch's callbacks run after its fetch, before the next batch is taken.
    void FetchWhileOpen() {
        while (true) {
            std::vector<Waiter> batch;
            {
                std::unique_lock lock(mu_);
                idle_ = true;
                queued_or_closing_.wait(lock, [this] { return !queued_.empty() || closing_; });
                idle_ = false;
                if (queued_.empty()) return;
                const size_t n = std::min(queued_.size(), max_keys_);
                batch.assign(std::make_move_iterator(queued_.begin()),
                             std::make_move_iterator(queued_.begin() + ptrdiff_t(n)));
                queued_.erase(queued_.begin(), queued_.begin() + ptrdiff_t(n));
            }
            std::vector<Key> keys;
            std::unordered_set<Key, Hash> seen;
            for (const Waiter& w : batch) {
                if (seen.insert(w.key).second) keys.push_back(w.key);
            }
            auto fetched = fetch_(keys);
            {
                std::lock_guard lock(mu_);
                ++fetches_;
            }
            for (Waiter& w : batch) w.done(AnswerFor(fetched, w.key));
        }
    }

    static Answer AnswerFor(const Result<Found>& fetched, const Key& key) {
        if (!fetched) return fetched.error();
        auto it = fetched->find(key);
        if (it == fetched->end()) return std::optional<Value>();
        return std::optional<Value>(it->second);
    }

    const Fetch fetch_;
    const size_t max_keys_;
    mutable std::mutex mu_;
    std::condition_variable queued_or_closing_;
    std::vector<Waiter> queued_;
    bool idle_ = false;  // the thread waits for a key
    bool closing_ = false;
    size_t fetches_ = 0;
    std::thread thread_;  // last: it starts once everything above is ready
};

}  // namespace noderepair
