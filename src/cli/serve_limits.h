// `kite serve`'s limits against hostile clients (connections, buffered bodies, request head, receive
// timeout, JSON depth, prompt bytes, waiting queue, worker threads): declared and read in one place,
// documented in docs/server.md ("Limits").
#pragma once

#include "cli/flags.h"
#include "core/status.h"
#include "server/server.h"

namespace kite::cli {

void declare_limit_flags(Flags& f);
Status read_limit_flags(const Flags& f, server::ServeOptions& o);

}  // namespace kite::cli
