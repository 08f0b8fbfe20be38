// Errors as values (docs/design.md 4). Codes are the google.rpc numbers of docs/http-api.md 3, so
// nothing below api/ translates them.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace noderepair {

enum class Code {
    kOk = 0,
    kCancelled = 1,
    kUnknown = 2,
    kInvalidArgument = 3,
    kDeadlineExceeded = 4,
    kNotFound = 5,
    kAlreadyExists = 6,
    kPermissionDenied = 7,
    kResourceExhausted = 8,
    kFailedPrecondition = 9,
    kAborted = 10,
    kOutOfRange = 11,
    kUnimplemented = 12,
    kInternal = 13,
    kUnavailable = 14,
    kDataLoss = 15,
    kUnauthenticated = 16,
};

std::string_view CodeName(Code code);

struct Error {
    Code code = Code::kInternal;
    std::string message;
};

// Unavailable, Aborted and ResourceExhausted may succeed when tried again; they drive engine
// retries and the x-should-retry header.
bool IsTransient(Code code);

inline Error InvalidArgument(std::string message) {
    return {Code::kInvalidArgument, std::move(message)};
}
inline Error NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
inline Error FailedPrecondition(std::string message) {
    return {Code::kFailedPrecondition, std::move(message)};
}
inline Error AlreadyExists(std::string message) {
    return {Code::kAlreadyExists, std::move(message)};
}
inline Error PermissionDenied(std::string message) {
    return {Code::kPermissionDenied, std::move(message)};
}
inline Error Unauthenticated(std::string message) {
    return {Code::kUnauthenticated, std::move(message)};
}
inline Error Unavailable(std::string message) { return {Code::kUnavailable, std::move(message)}; }
inline Error Internal(std::string message) { return {Code::kInternal, std::move(message)}; }
inline Error Aborted(std::string message) { return {Code::kAborted, std::move(message)}; }

// A value or an Error. Keeps std::expected's member names (C++20 lacks it).
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
    Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design
    bool has_value() const { return data_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    const T& value() const& { return std::get<0>(data_); }
    T& value() & { return std::get<0>(data_); }
    T&& value() && { return std::get<0>(std::move(data_)); }
    const Error& error() const { return std::get<1>(data_); }
    const T* operator->() const { return &value(); }
    T* operator->() { return &value(); }
    const T& operator*() const& { return value(); }
    T& operator*() & { return value(); }

private:
    std::variant<T, Error> data_;
};

// Success or an Error.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

inline Status OkStatus() { return {}; }

[[noreturn]] void AssertFailed(const char* condition, const char* why, const char* file, int line);

}  // namespace noderepair

// Invariants only, never input: aborts in every build.
#define NR_ASSERT(cond, why)                                                     \
    do {                                                                         \
        if (!(cond)) ::noderepair::AssertFailed(#cond, why, __FILE__, __LINE__); \
    } while (0)

#define NR_CONCAT_INNER(a, b) a##b
#define NR_CONCAT(a, b) NR_CONCAT_INNER(a, b)

// Early return of the error of a Status or Result expression.
#define NR_RETURN_IF_ERROR(expr) NR_RETURN_IF_ERROR_IMPL(NR_CONCAT(nr_status_, __LINE__), expr)
#define NR_RETURN_IF_ERROR_IMPL(tmp, expr) \
    do {                                   \
        auto tmp = (expr);                 \
        if (!tmp) return tmp.error();      \
    } while (0)

#define NR_ASSIGN_OR_RETURN(lhs, expr) \
    NR_ASSIGN_OR_RETURN_IMPL(NR_CONCAT(nr_result_, __LINE__), lhs, expr)
#define NR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                           \
    if (!tmp) return tmp.error();                \
    lhs = std::move(tmp).value()
