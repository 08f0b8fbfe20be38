#include "common/request_context.hpp"

#include <utility>

namespace noderepair {
namespace {
thread_local std::string current_request_id;
thread_local std::string current_actor = "system";
}  // namespace

const std::string& CurrentRequestId() { return current_request_id; }

ScopedRequestId::ScopedRequestId(std::string id)
    : previous_(std::exchange(current_request_id, std::move(id))) {}

ScopedRequestId::~ScopedRequestId() { current_request_id = std::move(previous_); }

const std::string& CurrentActor() { return current_actor; }

ScopedActor::ScopedActor(std::string actor)
    : previous_(std::exchange(current_actor, std::move(actor))) {}

ScopedActor::~ScopedActor() { current_actor = std::move(previous_); }

}  // namespace noderepair
