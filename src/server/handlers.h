// The route handlers (one per endpoint) and what they share. Each handler answers through its
// Exchange exactly once (a full reply or a stream); routes are listed in router.cpp.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/http.h"
#include "server/server_state.h"

namespace kite::server {

using RouteHandler = void (*)(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string& param);

// openai_completions.cpp, openai_chat.cpp, native_api.cpp
void handle_completions(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_chat(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_native(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
// openai_responses.cpp
void handle_responses(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
// lora_routes.cpp
void handle_load_lora(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_unload_lora(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
// info_routes.cpp
void handle_list_models(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_get_model(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string& model);
void handle_tokenize(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_detokenize(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_health(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_metrics(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);
void handle_worker_status(ServerState&, const HttpRequest&, std::shared_ptr<Exchange>, const std::string&);

// Replies, counts the status in the metrics and writes the access-log line.
void respond(ServerState& st, const HttpRequest& req, Exchange& ex, HttpResponse r);
void respond_json(ServerState& st, const HttpRequest& req, Exchange& ex, const nlohmann::json& body, int status = 200);
void respond_error(ServerState& st, const HttpRequest& req, Exchange& ex, const Status& error);

}  // namespace kite::server
