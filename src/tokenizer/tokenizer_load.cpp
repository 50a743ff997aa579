// Building a Tokenizer: tokenizer.json (file, or JSON built in memory from GGUF metadata),
// tokenizer_config.json / special_tokens_map.json of a model folder, and load_tokenizer_any.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace kite {

namespace tok {

Status TokenizerImpl::load(const json& j) {
    if (!j.is_object()) return invalid_argument("tokenizer.json: top level must be an object");
    auto field = [&](const char* k) -> const json* {
        auto it = j.find(k);
        return it == j.end() || it->is_null() ? nullptr : &*it;
    };
    const json* model = field("model");
    if (!model) return invalid_argument("tokenizer.json: field 'model' is missing");
    KITE_ASSIGN_OR_RETURN(model_, make_model(*model));
    if (const json* n = field("normalizer")) { KITE_ASSIGN_OR_RETURN(normalizer_, make_normalizer(*n)); }
    if (const json* p = field("pre_tokenizer")) { KITE_ASSIGN_OR_RETURN(pre_tokenizer_, make_pre_tokenizer(*p)); }
    if (const json* p = field("post_processor")) { KITE_ASSIGN_OR_RETURN(post_processor_, make_post_processor(*p)); }
    if (const json* d = field("decoder")) { KITE_ASSIGN_OR_RETURN(decoder_, make_decoder(*d)); }

    vocab_size_ = model_->vocab_size();
    if (const json* at = field("added_tokens")) {
        if (!at->is_array()) return invalid_argument("tokenizer.json: 'added_tokens' must be an array");
        for (const json& t : *at) {
            const std::string where = "tokenizer.json: added_tokens[" + std::to_string(added_.size()) + "]";
            if (!t.is_object()) return invalid_argument(where + " must be an object");
            AddedToken a;
            KITE_ASSIGN_OR_RETURN(a.content, get_string(t, "content", where));
            if (a.content.empty()) return invalid_argument(where + ": content is empty");
            if (find_invalid_utf8(a.content) != std::string::npos) return invalid_argument(where + ": content is not UTF-8");
            a.special = get_bool_or(t, "special", false);
            a.lstrip = get_bool_or(t, "lstrip", false);
            a.rstrip = get_bool_or(t, "rstrip", false);
            a.single_word = get_bool_or(t, "single_word", false);
            a.normalized = get_bool_or(t, "normalized", !a.special);
            // As HF: a token the vocabulary already has keeps the vocabulary's id.
            if (auto mid = model_->token_to_id(a.content)) {
                a.id = *mid;
            } else if (auto prev = added_by_content_.find(a.content)) {
                a.id = *prev;
            } else {
                auto id = t.find("id");
                if (id == t.end() || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() >= kMaxVocabId)
                    return invalid_argument(where + ": field 'id' must be a non-negative integer");
                a.id = id->get<int32_t>();
            }
            added_by_content_.set(a.content, a.id);
            if (!model_->id_to_token(a.id) || *model_->id_to_token(a.id) != a.content) added_by_id_[a.id] = a.content;
            vocab_size_ = std::max<int64_t>(vocab_size_, int64_t{a.id} + 1);
            added_.push_back(std::move(a));
        }
    }
    special_.assign(static_cast<size_t>(vocab_size_), false);
    for (size_t k = 0; k < added_.size(); ++k) {
        const AddedToken& a = added_[k];
        if (a.special) special_[a.id] = true;
        if (!a.normalized) {
            raw_matcher_.add(a.content, k);
        } else {
            std::string n = a.content;
            if (normalizer_) normalizer_->normalize(n);
            normalized_matcher_.add(n, k);
        }
    }
    return Status::ok();
}

namespace {
// bos_token / eos_token: a string or {"content": "..."}.
std::string token_field(const json& c, const char* key) {
    auto it = c.find(key);
    if (it == c.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) return get_string_or(*it, "content", "");
    return {};
}
}  // namespace

Status TokenizerImpl::apply_config(const json& c) {
    if (!c.is_object()) return invalid_argument("tokenizer_config.json: top level must be an object");
    auto ct = c.find("chat_template");
    if (ct != c.end()) {
        if (ct->is_string()) {
            chat_template_ = ct->get<std::string>();
        } else if (ct->is_array()) {  // [{"name": ..., "template": ...}]: the default one, else the first
            for (const json& e : *ct) {
                if (!e.is_object()) continue;
                if (chat_template_.empty() || get_string_or(e, "name", "") == "default")
                    chat_template_ = get_string_or(e, "template", chat_template_);
            }
        }
    }
    bos_token_ = token_field(c, "bos_token");
    eos_token_ = token_field(c, "eos_token");
    bos_id_ = bos_token_.empty() ? -1 : token_to_id(bos_token_).value_or(-1);
    eos_id_ = eos_token_.empty() ? -1 : token_to_id(eos_token_).value_or(-1);
    // transformers' Llama/Gemma fast tokenizers rebuild the post-processor from add_bos_token /
    // add_eos_token when they load, whatever tokenizer.json says.
    const std::string cls = get_string_or(c, "tokenizer_class", "");
    const bool llama_like = cls.find("Llama") != std::string::npos || cls.find("Gemma") != std::string::npos;
    if (llama_like && (c.contains("add_bos_token") || c.contains("add_eos_token"))) {
        const bool add_bos = get_bool_or(c, "add_bos_token", true), add_eos = get_bool_or(c, "add_eos_token", false);
        if ((!add_bos || bos_id_ >= 0) && (!add_eos || eos_id_ >= 0)) {
            post_processor_ = make_bos_eos_processor(add_bos ? std::optional<int32_t>(bos_id_) : std::nullopt,
                                                     add_eos ? std::optional<int32_t>(eos_id_) : std::nullopt);
        }
    }
    return Status::ok();
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return not_found(path + ": cannot open file");
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) return data_loss(path + ": read error");
    return ss.str();
}

Result<json> read_json(const std::string& path) {
    KITE_ASSIGN_OR_RETURN(std::string text, read_file(path));
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        return invalid_argument(path + ": not valid JSON (" + e.what() + ")");
    }
}

}  // namespace tok

using tok::json;

Result<std::shared_ptr<Tokenizer>> Tokenizer::from_json(const json& tokenizer_json, const json* tokenizer_config) {
    auto t = std::make_shared<tok::TokenizerImpl>();
    try {
        KITE_RETURN_IF_ERROR(t->load(tokenizer_json));
        if (tokenizer_config && !tokenizer_config->is_null()) KITE_RETURN_IF_ERROR(t->apply_config(*tokenizer_config));
    } catch (const json::exception& e) {  // a field of an unexpected type that no check caught
        return invalid_argument(std::string("tokenizer.json: unexpected value (") + e.what() + ")");
    }
    return std::shared_ptr<Tokenizer>(std::move(t));
}

Result<std::shared_ptr<Tokenizer>> Tokenizer::from_file(const std::string& path) {
    KITE_ASSIGN_OR_RETURN(json j, tok::read_json(path));
    auto r = from_json(j, nullptr);
    if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
    return r;
}

// tokenizer_config.json with special_tokens_map.json (and chat_template.jinja) filling its gaps.
static Result<json> read_config(const std::filesystem::path& dir) {
    json cfg = json::object();
    if (std::filesystem::exists(dir / "tokenizer_config.json")) {
        KITE_ASSIGN_OR_RETURN(cfg, tok::read_json((dir / "tokenizer_config.json").string()));
        if (!cfg.is_object()) return invalid_argument((dir / "tokenizer_config.json").string() + ": must be an object");
    }
    if (std::filesystem::exists(dir / "special_tokens_map.json")) {
        KITE_ASSIGN_OR_RETURN(json m, tok::read_json((dir / "special_tokens_map.json").string()));
        if (m.is_object()) {
            for (const char* k : {"bos_token", "eos_token"})
                if ((!cfg.contains(k) || cfg[k].is_null()) && m.contains(k)) cfg[k] = m[k];
        }
    }
    // Newer transformers keep the template beside the config: chat_template.jinja or .json.
    if ((!cfg.contains("chat_template") || cfg["chat_template"].is_null()) &&
        std::filesystem::exists(dir / "chat_template.jinja")) {
        KITE_ASSIGN_OR_RETURN(std::string t, tok::read_file((dir / "chat_template.jinja").string()));
        cfg["chat_template"] = t;
    }
    if ((!cfg.contains("chat_template") || cfg["chat_template"].is_null()) &&
        std::filesystem::exists(dir / "chat_template.json")) {
        KITE_ASSIGN_OR_RETURN(json t, tok::read_json((dir / "chat_template.json").string()));
        if (t.is_object() && t.contains("chat_template")) cfg["chat_template"] = t["chat_template"];
    }
    return cfg;
}

Result<std::shared_ptr<Tokenizer>> Tokenizer::from_model_dir(const std::string& dir) {
    const std::filesystem::path d(dir);
    const std::string tj = (d / "tokenizer.json").string();
    if (!std::filesystem::exists(tj)) return not_found(dir + ": no tokenizer.json in this folder");
    KITE_ASSIGN_OR_RETURN(json j, tok::read_json(tj));
    KITE_ASSIGN_OR_RETURN(json cfg, read_config(d));
    auto r = from_json(j, &cfg);
    if (!r.ok()) return Status(r.status().code(), tj + ": " + r.status().message());
    return r;
}

Result<std::shared_ptr<Tokenizer>> load_tokenizer_any(const std::string& path) {
    std::error_code ec;
    const std::filesystem::path p(path);
    if (std::filesystem::is_directory(p, ec)) return Tokenizer::from_model_dir(path);
    if (!std::filesystem::exists(p, ec)) return not_found(path + ": no such file or folder");
    if (p.extension() == ".json") {
        KITE_ASSIGN_OR_RETURN(json j, tok::read_json(path));
        json cfg = json::object();
        if (p.filename() == "tokenizer.json" && p.has_parent_path()) {
            KITE_ASSIGN_OR_RETURN(cfg, read_config(p.parent_path()));
        }
        auto r = Tokenizer::from_json(j, &cfg);
        if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
        return r;
    }
    // TODO(#3): .gguf files are handled by the GGUF loader, which extends this function.
    return unimplemented(path + ": unsupported tokenizer source (expected a model folder or a tokenizer.json file)");
}

}  // namespace kite
