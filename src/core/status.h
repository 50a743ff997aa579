// Errors as values: a Status (code + one-line message) and Result<T> (a value or a Status).
// Anything that comes from outside (files, requests, flags) reports through these; KITE_CHECK is
// reserved for broken invariants, i.e. bugs. Exceptions never cross a module boundary.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kite {

enum class StatusCode {
    kOk = 0,
    kInvalidArgument,   // bad input from a caller (request field, flag, JSON)
    kNotFound,          // missing file, tensor, route, model
    kDataLoss,          // truncated or corrupt file
    kUnimplemented,     // valid input that kite does not support (yet)
    kResourceExhausted, // KV cache, concurrency limit, size limit
    kFailedPrecondition,
    kAborted,           // request cancelled
    kInternal,
    kUnavailable,       // shutting down, still loading
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return Status(); }
    bool is_ok() const { return code_ == StatusCode::kOk; }
    // No conversion to bool: `!status.ok()` would call the static factory and always be false.
    // Use is_ok().
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "NotFound: config.json: no such file"
    std::string to_string() const;

private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }

// A value or an error. Construct from T or from a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {  // NOLINT
        if (std::get<Status>(v_).is_ok()) v_ = Status(StatusCode::kInternal, "Result built from ok Status");
    }
    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }
    const Status& status() const {
        static const Status kOk;
        return ok() ? kOk : std::get<Status>(v_);
    }
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    std::variant<T, Status> v_;
};

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace kite

// Broken invariant (a bug in kite, never bad input): print and abort.
#define KITE_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) ::kite::check_failed(#cond, __FILE__, __LINE__, ""); \
    } while (0)
#define KITE_CHECK_MSG(cond, msg)                                             \
    do {                                                                      \
        if (!(cond)) ::kite::check_failed(#cond, __FILE__, __LINE__, (msg)); \
    } while (0)

// Propagate a non-ok Status / Result error to the caller.
#define KITE_RETURN_IF_ERROR(expr)                 \
    do {                                           \
        ::kite::Status kite_st_ = (expr);          \
        if (!kite_st_.is_ok()) return kite_st_;    \
    } while (0)

#define KITE_CONCAT_INNER(a, b) a##b
#define KITE_CONCAT(a, b) KITE_CONCAT_INNER(a, b)
// KITE_ASSIGN_OR_RETURN(auto x, make_x());
#define KITE_ASSIGN_OR_RETURN(lhs, expr) KITE_ASSIGN_OR_RETURN_IMPL(KITE_CONCAT(kite_res_, __LINE__), lhs, expr)
#define KITE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                             \
    if (!tmp.ok()) return tmp.status();            \
    lhs = std::move(tmp).value()
