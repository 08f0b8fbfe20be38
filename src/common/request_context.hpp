// The HTTP request a thread is working for, and who acts, so what it causes further down (a
// store write, a transition, an audit record) carries that request's id and actor without
// passing them through every call.
#pragma once

#include <string>

namespace noderepair {

// The id of the request the calling thread serves; empty outside a request.
const std::string& CurrentRequestId();

// Sets the calling thread's request id for its lifetime.
class ScopedRequestId {
public:
    explicit ScopedRequestId(std::string id);
    ~ScopedRequestId();
    ScopedRequestId(const ScopedRequestId&) = delete;
    ScopedRequestId& operator=(const ScopedRequestId&) = delete;

private:
    std::string previous_;
};

// Who the calling thread acts for: the token name of the request it serves, or "engine",
// "automation" or "cli" for background work; "system" when nothing set it (the audit trail's
// actor, docs/design.md 11).
const std::string& CurrentActor();

// Sets the calling thread's actor for its lifetime.
class ScopedActor {
public:
    explicit ScopedActor(std::string actor);
    ~ScopedActor();
    ScopedActor(const ScopedActor&) = delete;
    ScopedActor& operator=(const ScopedActor&) = delete;

private:
    std::string previous_;
};

}  // namespace noderepair
