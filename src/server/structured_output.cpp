// Request fields -> ConstraintSpec -> a logits processor on the engine request.
#include "server/structured_output.h"

#include "server/json_fields.h"

namespace kite::server {

namespace {

using nlohmann::json;
using structured::ConstraintKind;

Result<std::string> schema_text(const json& v, const std::string& field) {
    if (v.is_string()) {
        auto parsed = json::parse(v.get<std::string>(), nullptr, false);
        if (parsed.is_discarded() || !(parsed.is_object() || parsed.is_boolean()))
            return invalid_argument(field + ": expected a JSON schema (an object, or a string holding one)");
        return parsed.dump();
    }
    if (!v.is_object() && !v.is_boolean()) return invalid_argument(field + ": expected a JSON schema object, got " + type_name(v));
    return v.dump();
}

Result<std::optional<ConstraintRequest>> from_response_format(const json& rf) {
    if (!rf.is_object()) return invalid_argument("response_format: expected an object, got " + type_name(rf));
    KITE_ASSIGN_OR_RETURN(auto type, get_string(rf, "type"));
    if (!type) return invalid_argument("response_format.type: is required (text, json_object or json_schema)");
    if (*type == "text") return std::optional<ConstraintRequest>();
    ConstraintRequest c;
    c.field = "response_format";
    if (*type == "json_object") {
        c.spec.kind = ConstraintKind::kJsonObject;
        return std::optional<ConstraintRequest>(c);
    }
    if (*type != "json_schema")
        return invalid_argument("response_format.type: '" + *type + "' is not one of text, json_object, json_schema");
    auto js = rf.find("json_schema");
    if (js == rf.end() || !js->is_object()) return invalid_argument("response_format.json_schema: expected an object with name and schema");
    KITE_ASSIGN_OR_RETURN(auto name, get_string(*js, "name"));
    if (!name || name->empty()) return invalid_argument("response_format.json_schema.name: is required");
    KITE_ASSIGN_OR_RETURN(auto strict, get_bool(*js, "strict"));
    (void)strict;  // the output is constrained to the schema either way
    auto schema = js->find("schema");
    c.spec.kind = ConstraintKind::kJsonSchema;
    c.field = "response_format.json_schema.schema";
    if (schema == js->end() || schema->is_null()) {
        c.spec.kind = ConstraintKind::kJsonObject;  // OpenAI: no schema means any JSON object
    } else {
        KITE_ASSIGN_OR_RETURN(c.spec.data, schema_text(*schema, c.field));
    }
    return std::optional<ConstraintRequest>(c);
}

}  // namespace

Result<std::optional<ConstraintRequest>> parse_constraint(const json& body_in) {
    // The native API nests its options in generate_config.
    const json* body = &body_in;
    json merged;
    if (auto gc = body_in.find("generate_config"); gc != body_in.end() && gc->is_object()) {
        merged = body_in;
        for (const auto& [k, v] : gc->items()) merged[k] = v;
        body = &merged;
    }
    std::optional<ConstraintRequest> out;
    std::string first;
    auto take = [&](std::optional<ConstraintRequest> c, const char* field) -> Status {
        if (!c) return Status::ok();
        if (out) return invalid_argument(std::string(field) + ": only one of response_format, guided_json, guided_regex, "
                                         "guided_choice, guided_grammar may be given (" + first + " is too)");
        first = field;
        out = std::move(c);
        return Status::ok();
    };
    const json& b = *body;
    if (auto it = b.find("response_format"); it != b.end() && !it->is_null()) {
        KITE_ASSIGN_OR_RETURN(auto c, from_response_format(*it));
        KITE_RETURN_IF_ERROR(take(std::move(c), "response_format"));
    }
    if (auto it = b.find("guided_json"); it != b.end() && !it->is_null()) {
        ConstraintRequest c{{ConstraintKind::kJsonSchema, "", {}}, "guided_json"};
        KITE_ASSIGN_OR_RETURN(c.spec.data, schema_text(*it, "guided_json"));
        KITE_RETURN_IF_ERROR(take(c, "guided_json"));
    }
    KITE_ASSIGN_OR_RETURN(auto regex, get_string(b, "guided_regex"));
    if (regex) KITE_RETURN_IF_ERROR(take(ConstraintRequest{{ConstraintKind::kRegex, *regex, {}}, "guided_regex"}, "guided_regex"));
    if (auto it = b.find("guided_choice"); it != b.end() && !it->is_null()) {
        KITE_ASSIGN_OR_RETURN(auto choices, get_string_list(b, "guided_choice", 4096));
        if (choices.empty()) return invalid_argument("guided_choice: expected a non-empty list of strings");
        KITE_RETURN_IF_ERROR(take(ConstraintRequest{{ConstraintKind::kChoice, "", choices}, "guided_choice"}, "guided_choice"));
    }
    KITE_ASSIGN_OR_RETURN(auto grammar, get_string(b, "guided_grammar"));
    if (grammar) KITE_RETURN_IF_ERROR(take(ConstraintRequest{{ConstraintKind::kGrammar, *grammar, {}}, "guided_grammar"}, "guided_grammar"));
    return out;
}

Status attach_constraint(ServerState& st, const ConstraintRequest& c, GenerationRequest& request) {
    if (request.num_beams > 1) return invalid_argument(c.field + ": not supported together with beam search (num_beams > 1)");
    std::shared_ptr<structured::GrammarCompiler> compiler;
    {
        std::lock_guard<std::mutex> lock(st.grammar_mu);
        if (!st.grammar) {
            auto made = structured::GrammarCompiler::create(st.tokenizer, st.limits.vocab_size, st.eos_ids);
            if (!made.ok()) return Status(made.status().code(), c.field + ": " + made.status().message());
            st.grammar = *made;
        }
        compiler = st.grammar;
    }
    auto factory = compiler->compile(c.spec);
    if (!factory.ok()) return invalid_argument(c.field + ": " + factory.status().message());
    request.logits_processor = std::move(*factory);
    return Status::ok();
}

Status apply_structured_output(ServerState& st, const json& body, GenerationRequest& request) {
    KITE_RETURN_IF_ERROR(select_lora(st, body, request));
    KITE_ASSIGN_OR_RETURN(auto c, parse_constraint(body));
    if (!c) return Status::ok();
    return attach_constraint(st, *c, request);
}

}  // namespace kite::server
