// Status -> HTTP status and OpenAI-shaped error body, in one place.
#include "server/errors.h"

#include <nlohmann/json.hpp>

namespace kite::server {

int http_status_for(const Status& status) {
    switch (status.code()) {
        case StatusCode::kOk: return 200;
        case StatusCode::kInvalidArgument: return 400;
        case StatusCode::kNotFound: return 404;
        case StatusCode::kResourceExhausted: return 429;
        case StatusCode::kUnavailable: return 503;
        case StatusCode::kUnimplemented: return 501;
        case StatusCode::kAborted: return 499;  // the client went away (nginx's convention)
        case StatusCode::kDataLoss:
        case StatusCode::kFailedPrecondition:
        case StatusCode::kInternal: return 500;
    }
    return 500;
}

const char* error_type_for(int http_status) {
    switch (http_status) {
        case 400: case 413: case 422: return "invalid_request_error";
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: case 405: return "not_found_error";
        case 429: return "rate_limit_error";
        case 501: return "not_implemented_error";
        case 503: return "service_unavailable_error";
        default: return http_status < 500 ? "invalid_request_error" : "server_error";
    }
}

std::string error_body(int http_status, const std::string& message, const std::string& param) {
    nlohmann::json err = {{"message", message},
                          {"type", error_type_for(http_status)},
                          {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
                          {"code", nullptr}};
    // Invalid UTF-8 echoed from a request must not make the error itself fail.
    return nlohmann::json{{"error", err}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse error_response(int http_status, const std::string& message, const std::string& param) {
    HttpResponse r;
    r.status = http_status;
    r.body = error_body(http_status, message, param);
    return r;
}

HttpResponse error_response(const Status& status, const std::string& param) {
    return error_response(http_status_for(status), status.message(), param);
}

}  // namespace kite::server
