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

// Fair admission (fcfs and priority). A request's sequences (n, or num_beams) are its seats among
// max_num_seqs. One eighth of the seats is a reserve that only narrow requests (width <= reserve)
// may take, so a few wide requests cannot shut every small one out until they finish; and a narrow
// request may overtake a waiting wide one that does not fit, within the reserve (so that the
// overtakers cannot starve the wide one in turn). With fewer than 8 seats there is no reserve and
// admission is plain first-come-first-served.
struct Seats {
    int max_num_seqs = 0;
    int occupied = 0;         // seats of the running requests
    int occupied_narrow = 0;  // ... of those that are narrow
};
int fair_reserve(int max_num_seqs);
// Whether a waiting request of `width` seats may join now. `overtaking`: an earlier waiting request
// could not join (its width given as `blocked_width`).
bool fair_admits(const Seats& seats, int width, bool overtaking, int blocked_width);

}  // namespace kite
