// Process lifecycle of the server: listen, load in the background, serve, drain on SIGTERM.
#include "server/server.h"

#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <sys/resource.h>

#include "engine/model_session.h"
#include "server/access_log.h"
#include "server/errors.h"
#include "server/router.h"

namespace kite::server {

namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return not_found("--chat-template: cannot open '" + path + "'");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Each connection holds a descriptor: ask for as many as the hard limit allows.
void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

Status load_everything(const ServeOptions& o, ServerState& st) {
    KITE_ASSIGN_OR_RETURN(ModelSession session, open_model_session(o.model_path, o.tokenizer_path, o.load));
    if (!session.tokenizer) return failed_precondition(session.tokenizer_error);
    const ModelConfig& cfg = session.model->config();
    if (!o.model_type.empty() && o.model_type != cfg.model_type)
        return invalid_argument("--model-type '" + o.model_type + "' does not match the checkpoint's model_type '" +
                                cfg.model_type + "'");
    KITE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::create(session.model, session.tokenizer, o.engine));
    st.limits = session.limits(engine->max_model_len());
    // The LoRA delta is a CPU op so far: refuse adapters up front rather than fail a GPU batch.
    st.loras.configure(o.max_loras, o.max_lora_rank,
                       o.load.device == Device::kCpu ? "" : "LoRA adapters run on the CPU only for now (--device cpu)");
    for (const auto& [name, path] : o.lora_modules)
        if (Status s = st.loras.load(name, path); !s.is_ok()) return Status(s.code(), "--lora-modules " + name + ": " + s.message());
    st.tokenizer = session.tokenizer;
    st.eos_ids.assign(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end());
    st.engine = std::shared_ptr<Engine>(std::move(engine));
    return Status::ok();
}

}  // namespace

int run_server(const ServeOptions& o) {
    ServerState st;
    st.config = o.config;
    st.config.created = unix_time();
    if (!o.chat_template_file.empty()) {
        auto t = read_file(o.chat_template_file);
        if (!t.ok()) {
            std::fprintf(stderr, "kite serve: %s\n", t.status().message().c_str());
            return 1;
        }
        st.config.chat_template = *t;
    }
    raise_fd_limit();
    HttpServerOptions http = o.http;
    http.make_error = [&st](int status, const std::string& msg) {
        st.metrics.count_http(status);
        return error_response(status, msg);
    };
    http.on_abandoned = [&st](const HttpRequest& req) {
        st.metrics.count_http(499);
        if (st.config.access_log) write_access_log({req.peer, req.method, req.path, "", 499, -1, -1, -1, 0.0});
    };
    st.metrics.set_model_name(st.config.served_model_name);
    auto server = HttpServer::create(http, [&st](const HttpRequest& req, std::shared_ptr<Exchange> ex) {
        dispatch(st, req, std::move(ex));
    });
    if (!server.ok()) {
        std::fprintf(stderr, "kite serve: %s\n", server.status().message().c_str());
        return 1;
    }
    HttpServer& srv = **server;
    st.num_connections = [&srv] { return srv.num_connections(); };
    std::fprintf(stderr, "kite serve: listening on %s:%d, loading %s\n", http.host.c_str(), srv.port(),
                 o.model_path.c_str());

    std::mutex mu;
    Status load_error;
    std::thread loader([&] {
        Status s = load_everything(o, st);
        if (!s.is_ok()) {
            std::lock_guard<std::mutex> lock(mu);
            load_error = s;
            srv.stop();
            return;
        }
        st.set_ready();
        std::fprintf(stderr, "kite serve: ready, serving '%s' (vocab %lld, context %d)\n",
                     st.config.served_model_name.c_str(), static_cast<long long>(st.limits.vocab_size),
                     st.limits.max_model_len);
    });

    const double drain_deadline_s = static_cast<double>(o.drain_timeout_s);
    std::function<void()> poll;
    double drain_start = 0;
    poll = [&] {
        const bool idle = st.in_flight() == 0 && srv.num_active_exchanges() == 0;
        if (idle || now_seconds() - drain_start > drain_deadline_s) {
            srv.stop();
            return;
        }
        srv.run_after(20, poll);
    };
    srv.on_signal([&](int sig) {
        if (st.draining()) {  // a second signal: stop now
            srv.stop();
            return;
        }
        std::fprintf(stderr, "kite serve: signal %d, finishing %d requests in flight\n", sig, st.in_flight());
        st.set_draining();
        srv.stop_accepting();
        drain_start = now_seconds();
        poll();
    });
    srv.run();
    loader.join();
    if (st.engine) st.engine->shutdown(/*drain=*/false);
    // The engine's callbacks hold executors of the I/O loop: drop them while the loop still exists.
    st.engine.reset();
    std::lock_guard<std::mutex> lock(mu);
    if (!load_error.is_ok()) {
        std::fprintf(stderr, "kite serve: %s\n", load_error.message().c_str());
        return 1;
    }
    std::fprintf(stderr, "kite serve: stopped\n");
    return 0;
}

}  // namespace kite::server
