// `kite tokenize` and `kite detokenize`: JSON lines on stdin -> one JSON line per input on stdout,
// through the model's tokenizer. A bad line gets {"error": ...} and the following lines go on.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "model/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace kite::cli {

namespace {

using nlohmann::json;

void emit(const json& j) {
    // Decoded text can hold any bytes a tokenizer produces; replace rather than throw.
    const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

json error_line(const std::string& msg) { return json{{"error", msg}}; }

json tokenize_line(const Tokenizer& tok, const std::string& line) {
    json in = json::parse(line, nullptr, false);
    if (in.is_discarded() || !in.is_object()) return error_line("line is not a valid JSON object (UTF-8 JSON expected)");
    auto t = in.find("text");
    if (t == in.end() || !t->is_string()) return error_line("field 'text' must be a string");
    bool add_special = true;
    if (auto a = in.find("add_special_tokens"); a != in.end()) {
        if (!a->is_boolean()) return error_line("field 'add_special_tokens' must be true or false");
        add_special = a->get<bool>();
    }
    auto ids = tok.encode(t->get_ref<const std::string&>(), add_special);
    if (!ids.ok()) return error_line(ids.status().message());
    return json{{"ids", *ids}};
}

json detokenize_line(const Tokenizer& tok, const std::string& line) {
    json in = json::parse(line, nullptr, false);
    if (in.is_discarded() || !in.is_object()) return error_line("line is not a valid JSON object (UTF-8 JSON expected)");
    auto i = in.find("ids");
    if (i == in.end() || !i->is_array()) return error_line("field 'ids' must be an array of integers");
    std::vector<int32_t> ids;
    ids.reserve(i->size());
    for (const json& x : *i) {
        if (!x.is_number_integer() || x.get<int64_t>() < INT32_MIN || x.get<int64_t>() > INT32_MAX)
            return error_line("field 'ids' must be an array of integers");
        ids.push_back(x.get<int32_t>());
    }
    bool skip = false;
    if (auto s = in.find("skip_special_tokens"); s != in.end()) {
        if (!s->is_boolean()) return error_line("field 'skip_special_tokens' must be true or false");
        skip = s->get<bool>();
    }
    auto text = tok.decode(ids, skip);
    if (!text.ok()) return error_line(text.status().message());
    return json{{"text", *text}};
}

int run(const char* command, const char* usage, int argc, char** argv,
        json (*per_line)(const Tokenizer&, const std::string&)) {
    Flags flags(command, usage);
    flags.add("model", "PATH", "model folder, tokenizer.json or .gguf file", "TOKENIZER_PATH");
    flags.add_switch("jsonl", "read JSON lines on stdin, write one JSON line each (the only mode)");
    auto parsed = flags.parse(argc, argv);
    if (!parsed.ok()) return fail(command, parsed.status());
    if (!*parsed) return 0;
    const auto model = flags.get("model");
    if (!model) return fail(command, invalid_argument("--model PATH is required"));
    if (!flags.get_switch("jsonl")) return fail(command, invalid_argument("--jsonl is required (the only mode)"));
    // Folders and tokenizer.json files go to load_tokenizer_any; .gguf files (and folders holding
    // one) are built from GGUF metadata by the model module.
    auto tok = load_model_tokenizer(*model);
    if (!tok.ok()) return fail(command, tok.status());
    std::ios::sync_with_stdio(false);
    for (std::string line; std::getline(std::cin, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        emit(per_line(**tok, line));
    }
    return 0;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
    return run("tokenize", "--model PATH --jsonl  < {\"text\": ..., \"add_special_tokens\": true} lines", argc, argv,
               tokenize_line);
}

int cmd_detokenize(int argc, char** argv) {
    return run("detokenize", "--model PATH --jsonl  < {\"ids\": [...], \"skip_special_tokens\": false} lines", argc,
               argv, detokenize_line);
}

}  // namespace kite::cli
