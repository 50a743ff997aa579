// The route table and the checks in front of it (API key, model loaded, shutting down).
#pragma once

#include <memory>

#include "server/http.h"
#include "server/server_state.h"

namespace kite::server {

// Dispatches one request: 404 for an unknown path, 405 for a known path with another method,
// 401 without the API key, 503 while loading or draining for the routes that need the model.
void dispatch(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex);

}  // namespace kite::server
