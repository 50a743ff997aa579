// The structured-output fields of a request, as OpenAI and vLLM spell them: response_format
// (text / json_object / json_schema with strict), guided_json, guided_regex, guided_choice,
// guided_grammar (EBNF or Lark); the native API reads the same names at the top level or in
// generate_config. At most one may be given.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/request.h"
#include "server/server_state.h"
#include "structured/grammar.h"

namespace kite::server {

struct ConstraintRequest {
    structured::ConstraintSpec spec;
    std::string field;  // the request field it came from, for error messages
};

// Errors name the field; nothing given -> nullopt.
Result<std::optional<ConstraintRequest>> parse_constraint(const nlohmann::json& body);

// Compiles the constraint for the served tokenizer (the compiler is built on first use) and sets
// request.logits_processor. Grammar errors are 400s naming the field; a missing llguidance a 501.
Status attach_constraint(ServerState& st, const ConstraintRequest& c, GenerationRequest& request);

// The LoRA adapter named by "model" / "adapter_name" (lora_routes.cpp); 404 for an unknown name.
Status select_lora(ServerState& st, const nlohmann::json& body, GenerationRequest& request);

// select_lora + parse_constraint + attach_constraint: what each generation handler calls after
// parse_generation.
Status apply_structured_output(ServerState& st, const nlohmann::json& body, GenerationRequest& request);

}  // namespace kite::server
