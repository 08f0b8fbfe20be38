// The HTTP request a thread is working for, so what it causes further down (a store write, a
// transition) can be logged with that request's id without passing it through every call.
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

}  // namespace noderepair
