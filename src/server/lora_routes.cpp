// LoRA adapters over HTTP: the registry, adapter selection for generation requests, and vLLM's
// POST /v1/load_lora_adapter {"lora_name", "lora_path"} / /v1/unload_lora_adapter {"lora_name"}.
#include "server/api_common.h"
#include "server/json_fields.h"
#include "server/lora_registry.h"
#include "server/structured_output.h"

namespace kite::server {

Status LoraRegistry::load(const std::string& name, const std::string& path) {
    if (!unavailable_.empty()) return unimplemented(unavailable_);
    KITE_ASSIGN_OR_RETURN(auto adapter, LoraAdapter::load(path, name));
    if (adapter->max_rank() > max_rank_)
        return invalid_argument("lora_path: the adapter's rank " + std::to_string(adapter->max_rank()) +
                                " exceeds --max-lora-rank " + std::to_string(max_rank_));
    std::lock_guard<std::mutex> lock(mu_);
    if (slots_.count(name)) return invalid_argument("lora_name: an adapter named '" + name + "' is already loaded");
    while (max_loras_ > 0 && static_cast<int>(slots_.size()) >= max_loras_) {  // evict the least recently used
        auto lru = slots_.begin();
        for (auto it = slots_.begin(); it != slots_.end(); ++it)
            if (it->second.last_used < lru->second.last_used) lru = it;
        slots_.erase(lru);
    }
    slots_[name] = Slot{adapter, path, ++clock_};
    return Status::ok();
}

Status LoraRegistry::unload(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!slots_.erase(name)) return not_found("lora_name: no adapter named '" + name + "' is loaded");
    return Status::ok();
}

std::shared_ptr<const LoraAdapter> LoraRegistry::get(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(name);
    if (it == slots_.end()) return nullptr;
    it->second.last_used = ++clock_;
    return it->second.adapter;
}

std::vector<LoraRegistry::Entry> LoraRegistry::list() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Entry> out;
    for (const auto& [name, slot] : slots_) out.push_back({name, slot.path});
    return out;
}

Status select_lora(ServerState& st, const nlohmann::json& body, GenerationRequest& request) {
    std::string name;
    const char* field = "model";
    if (auto it = body.find("adapter_name"); it != body.end() && it->is_string()) {
        name = it->get<std::string>();
        field = "adapter_name";
    } else if (auto gc = body.find("generate_config"); gc != body.end() && gc->is_object() && gc->contains("adapter_name") &&
                                                       (*gc)["adapter_name"].is_string()) {
        name = (*gc)["adapter_name"].get<std::string>();
        field = "adapter_name";
    } else if (auto m = body.find("model"); m != body.end() && m->is_string()) {
        name = m->get<std::string>();
    }
    if (name.empty() || name == st.config.served_model_name) return Status::ok();
    auto adapter = st.loras.get(name);
    if (!adapter) return not_found(std::string(field) + ": '" + name + "' is neither the served model nor a loaded LoRA adapter");
    request.lora = std::move(adapter);
    return Status::ok();
}

namespace {

Result<std::string> required_string(const nlohmann::json& body, const char* field) {
    KITE_ASSIGN_OR_RETURN(auto v, get_string(body, field));
    if (!v || v->empty()) return invalid_argument(std::string(field) + ": is required (a string)");
    return *v;
}

}  // namespace

void handle_load_lora(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    auto name = required_string(*body, "lora_name");
    if (!name.ok()) return respond_error(st, req, *ex, name.status());
    auto path = required_string(*body, "lora_path");
    if (!path.ok()) return respond_error(st, req, *ex, path.status());
    if (*name == st.config.served_model_name)
        return respond_error(st, req, *ex, invalid_argument("lora_name: '" + *name + "' is the base model's name"));
    Status s = st.loras.load(*name, *path);
    if (!s.is_ok()) {
        // A file problem is the client's path: 400 naming lora_path.
        if (s.code() == StatusCode::kNotFound || s.code() == StatusCode::kUnimplemented || s.code() == StatusCode::kDataLoss)
            s = invalid_argument("lora_path: " + s.message());
        return respond_error(st, req, *ex, s);
    }
    respond_json(st, req, *ex, {{"status", "ok"}, {"lora_name", *name}});
}

void handle_unload_lora(ServerState& st, const HttpRequest& req, std::shared_ptr<Exchange> ex, const std::string&) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return respond_error(st, req, *ex, body.status());
    auto name = required_string(*body, "lora_name");
    if (!name.ok()) return respond_error(st, req, *ex, name.status());
    if (Status s = st.loras.unload(*name); !s.is_ok()) return respond_error(st, req, *ex, s);
    respond_json(st, req, *ex, {{"status", "ok"}, {"lora_name", *name}});
}

}  // namespace kite::server
