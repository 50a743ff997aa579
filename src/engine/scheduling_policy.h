// Scheduling policies: the order in which requests are served and preempted. FCFS serves by
// arrival; priority by (priority, arrival), smaller first; static admits a whole batch only when
// nothing runs, and nothing joins it until every member has finished (the baseline that the
// continuous policies are measured against).
#pragma once

#include "engine/engine.h"
#include "engine/sequence.h"

namespace kite {

// True when `a` should be served before `b` (and so be preempted after it).
bool serves_before(SchedulingPolicy policy, const Request& a, const Request& b);

// Whether new requests may join the running set now.
bool may_admit(SchedulingPolicy policy, int num_running, int num_swapped);

const char* policy_name(SchedulingPolicy policy);  // "fcfs", "priority", "static"

}  // namespace kite
