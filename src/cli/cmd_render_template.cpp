// `kite render-template --jsonl`: one JSON request per stdin line -> {"output"} or {"error"} per line.
// A bad line gets its error and the rest go on. The clock for strftime_now can be pinned with
// --fixed-time / KITE_FIXED_TIME or a per-line "fixed_time" field.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "template/chat_template.h"

namespace kite::cli {
namespace {

using ojson = nlohmann::ordered_json;

Result<std::string> render_line(const std::string& line, const RenderOptions& base) {
    ojson req;
    try {
        req = ojson::parse(line);
    } catch (const std::exception& e) {
        return invalid_argument(std::string("bad JSON line: ") + e.what());
    }
    if (!req.is_object()) return invalid_argument("each line must be a JSON object {\"template\", \"messages\", ...}");
    if (json_nesting_depth(req) > kMaxChatJsonDepth)
        return invalid_argument("request nested more than " + std::to_string(kMaxChatJsonDepth) + " levels deep");
    auto tmpl = req.find("template");
    if (tmpl == req.end() || !tmpl->is_string()) return invalid_argument("field \"template\" must be a string");
    ojson messages = req.value("messages", ojson::array());
    ojson variables = req.value("variables", ojson::object());
    if (variables.is_null()) variables = ojson::object();
    bool add_generation_prompt = false;
    if (auto it = req.find("add_generation_prompt"); it != req.end() && !it->is_null()) {
        if (!it->is_boolean()) return invalid_argument("field \"add_generation_prompt\" must be true or false");
        add_generation_prompt = it->get<bool>();
    }
    RenderOptions opts = base;
    if (auto it = req.find("fixed_time"); it != req.end() && !it->is_null()) {
        Result<int64_t> t = it->is_number_integer() ? Result<int64_t>(it->get<int64_t>())
                            : it->is_string()       ? parse_fixed_time(it->get<std::string>())
                                                    : Result<int64_t>(invalid_argument("field \"fixed_time\" must be a string or integer"));
        if (!t.ok()) return t.status();
        opts.fixed_time = *t;
    }
    return render_chat_template(tmpl->get<std::string>(), messages, add_generation_prompt, variables, opts);
}

}  // namespace

int cmd_render_template(int argc, char** argv) {
    Flags flags("render-template", "--jsonl < requests.jsonl");
    flags.add_switch("jsonl", "read JSON lines {template, messages, add_generation_prompt, variables[, fixed_time]} from stdin");
    flags.add("fixed-time", "TIME", "pin strftime_now's clock, e.g. 2024-07-26T00:00:00 (default: the real clock)", "KITE_FIXED_TIME");
    flags.add("max-output-bytes", "N", "refuse renders larger than this", "");
    Result<bool> parsed = flags.parse(argc, argv);
    if (!parsed.ok()) return fail("render-template", parsed.status());
    if (!*parsed) return 0;
    if (!flags.get_switch("jsonl")) return fail("render-template", invalid_argument("--jsonl is required (requests are read as JSON lines from stdin)"));
    RenderOptions base;
    if (auto t = flags.get("fixed-time")) {
        Result<int64_t> v = parse_fixed_time(*t);
        if (!v.ok()) return fail("render-template", invalid_argument("--fixed-time: " + v.status().message()));
        base.fixed_time = *v;
    }
    Result<int64_t> max_out = flags.get_int("max-output-bytes", static_cast<int64_t>(base.max_output_bytes), 1, int64_t{1} << 34);
    if (!max_out.ok()) return fail("render-template", max_out.status());
    base.max_output_bytes = static_cast<size_t>(*max_out);

    std::string line;
    while (std::getline(std::cin, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        Result<std::string> r = render_line(line, base);
        ojson out = r.ok() ? ojson{{"output", *r}} : ojson{{"error", r.status().message()}};
        std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace kite::cli
