// Every error the server answers goes through here: a Status (or an HTTP status) becomes the HTTP
// status and OpenAI's error body {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <string>

#include "core/status.h"
#include "server/http.h"

namespace kite::server {

// The HTTP status for a Status code: InvalidArgument 400, NotFound 404, ResourceExhausted 429,
// Unavailable 503, Unimplemented 501, everything else 500.
int http_status_for(const Status& status);
// OpenAI's error "type" for an HTTP status ("invalid_request_error", "authentication_error", ...).
const char* error_type_for(int http_status);

// The JSON text of the error body (no trailing newline).
std::string error_body(int http_status, const std::string& message, const std::string& param = "");
HttpResponse error_response(int http_status, const std::string& message, const std::string& param = "");
HttpResponse error_response(const Status& status, const std::string& param = "");

}  // namespace kite::server
