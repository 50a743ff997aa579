// GgufFile's typed accessors: metadata getters with one-line type errors, the metadata as JSON,
// and tensors as kite Tensor views over the mapping.
#include <limits>

#include "io/gguf.h"

namespace kite {

namespace {

Status wrong_type(const GgufFile& f, const std::string& key, const GgufValue& v, const char* expected) {
    std::string got = gguf_type_name(v.type);
    if (v.is_array()) got = std::string("array of ") + gguf_type_name(v.elem_type);
    return invalid_argument(f.path() + ": metadata key '" + key + "' is " + got + ", expected " + expected);
}

Result<const GgufValue*> lookup(const GgufFile& f, const std::string& key) {
    const GgufValue* v = f.find(key);
    if (v == nullptr) return not_found(f.path() + ": metadata key '" + key + "' is missing");
    return v;
}

bool is_int_type(GgufType t) {
    return t != GgufType::kF32 && t != GgufType::kF64 && t != GgufType::kString && t != GgufType::kArray &&
           t != GgufType::kBool;
}

}  // namespace

Result<std::string> GgufFile::get_string(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (v->type != GgufType::kString) return wrong_type(*this, key, *v, "string");
    return v->str;
}

Result<int64_t> GgufFile::get_int(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (!v->is_int()) return wrong_type(*this, key, *v, "an integer");
    if (v->type == GgufType::kU64 && v->u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return invalid_argument(path_ + ": metadata key '" + key + "' is " + std::to_string(v->u64) +
                                ", too large");
    }
    return v->i64;
}

Result<double> GgufFile::get_float(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (v->is_float()) return v->f64;
    if (v->type == GgufType::kU64) return static_cast<double>(v->u64);
    if (v->is_int()) return static_cast<double>(v->i64);
    return wrong_type(*this, key, *v, "a number");
}

Result<bool> GgufFile::get_bool(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (v->type != GgufType::kBool) return wrong_type(*this, key, *v, "bool");
    return v->u64 != 0;
}

Result<const std::vector<std::string>*> GgufFile::get_strings(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (!v->is_array() || v->elem_type != GgufType::kString) return wrong_type(*this, key, *v, "array of string");
    return &v->strings;
}

Result<const std::vector<int64_t>*> GgufFile::get_ints(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (!v->is_array() || (!is_int_type(v->elem_type) && v->elem_type != GgufType::kBool)) {
        return wrong_type(*this, key, *v, "array of integers");
    }
    return &v->ints;
}

Result<const std::vector<double>*> GgufFile::get_floats(const std::string& key) const {
    KITE_ASSIGN_OR_RETURN(const GgufValue* v, lookup(*this, key));
    if (!v->is_array() || (v->elem_type != GgufType::kF32 && v->elem_type != GgufType::kF64)) {
        return wrong_type(*this, key, *v, "array of f32/f64");
    }
    return &v->floats;
}

const nlohmann::json& GgufFile::metadata_json() const {
    std::lock_guard<std::mutex> lock(*json_mu_);
    if (!json_) {
        auto j = std::make_shared<nlohmann::json>(nlohmann::json::object());
        for (const auto& [k, v] : kv_) (*j)[k] = v.to_json();
        json_ = std::move(j);
    }
    return *json_;
}

Result<Tensor> GgufFile::tensor(const std::string& name) const {
    const GgufTensorInfo* ti = find_tensor(name);
    if (ti == nullptr) return not_found(path_ + ": no tensor named '" + name + "'");
    auto dt = dtype_from_ggml(ti->ggml_type);
    if (!dt.ok()) return unimplemented(path_ + ": tensor '" + name + "': " + dt.status().message());
    // Tensor has no const view; the mapping is read-only (see open()), and weights are never written.
    return Tensor::view(const_cast<uint8_t*>(ti->data), *dt, ti->shape, owner_);
}

}  // namespace kite
