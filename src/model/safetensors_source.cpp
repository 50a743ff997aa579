// WeightSource over a Hugging Face folder: config.json, generation_config.json and either
// model.safetensors or model.safetensors.index.json with its shards (all memory-mapped).
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/weight_source.h"

namespace kite {

namespace {

namespace fs = std::filesystem;

class SafetensorsFolder final : public WeightSource {
public:
    bool has(const std::string& name) const override { return where_.count(name) > 0; }
    Result<Tensor> get(const std::string& name) const override {
        auto it = where_.find(name);
        if (it == where_.end()) return not_found("checkpoint has no tensor " + name);
        return it->second->get(name);
    }
    std::string location(const std::string& name) const override {
        auto it = where_.find(name);
        return it == where_.end() ? dir_ : fs::path(it->second->path()).filename().string();
    }
    const nlohmann::json& config_json() const override { return config_; }
    const nlohmann::json& generation_config_json() const override { return generation_; }

    std::string dir_;
    nlohmann::json config_, generation_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::shared_ptr<SafetensorsFile>> where_;
};

}  // namespace

Result<std::unique_ptr<WeightSource>> open_safetensors_folder(const std::string& dir) {
    auto src = std::make_unique<SafetensorsFolder>();
    src->dir_ = dir;
    const fs::path root(dir);
    if (!fs::is_directory(root)) return not_found(dir + ": not a model folder (expected a directory with config.json, or a .gguf file)");
    KITE_ASSIGN_OR_RETURN(src->config_, read_json_file((root / "config.json").string()));
    if (fs::exists(root / "generation_config.json")) {
        KITE_ASSIGN_OR_RETURN(src->generation_, read_json_file((root / "generation_config.json").string()));
    }
    std::vector<std::string> shard_names;
    const fs::path index = root / "model.safetensors.index.json";
    nlohmann::json weight_map;
    if (fs::exists(index)) {
        KITE_ASSIGN_OR_RETURN(nlohmann::json idx, read_json_file(index.string()));
        auto wm = idx.find("weight_map");
        if (wm == idx.end() || !wm->is_object())
            return invalid_argument(index.string() + ": missing \"weight_map\" object");
        weight_map = *wm;
        for (const auto& [tensor, file] : weight_map.items()) {
            if (!file.is_string()) return invalid_argument(index.string() + ": weight_map[" + tensor + "] is not a file name");
            const std::string f = file.get<std::string>();
            if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
                return invalid_argument(index.string() + ": shard name '" + f + "' must be a plain file name");
            if (std::find(shard_names.begin(), shard_names.end(), f) == shard_names.end()) shard_names.push_back(f);
        }
    } else if (fs::exists(root / "model.safetensors")) {
        shard_names.push_back("model.safetensors");
    } else {
        return not_found(dir + ": no model.safetensors or model.safetensors.index.json");
    }
    std::map<std::string, std::shared_ptr<SafetensorsFile>> by_name;
    for (const std::string& f : shard_names) {
        KITE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::open((root / f).string()));
        by_name[f] = file;
        src->files_.push_back(file);
        for (const auto& [tensor, entry] : file->entries()) src->where_[tensor] = file;
    }
    for (const auto& [tensor, file] : weight_map.items()) {
        if (!by_name[file.get<std::string>()]->has(tensor))
            return data_loss(file.get<std::string>() + ": index says it holds " + tensor + " but it does not");
    }
    return std::unique_ptr<WeightSource>(std::move(src));
}

}  // namespace kite
