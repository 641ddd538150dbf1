#pragma once

#include <cstdint>

namespace kpx {

// A snapshot of the userspace mode's figures, for the metrics layer. Monotonic counters except
// where noted.
struct UserspaceCounters {
  // Relay.
  uint64_t accepted = 0;             // TCP connections accepted
  uint64_t active = 0;               // gauge: TCP connections being relayed or connecting
  uint64_t failed_connects = 0;      // backend connects that failed or timed out
  uint64_t retries = 0;              // connects to a further endpoint after a failure
  uint64_t limit_hits = 0;           // connections and sessions refused by the per-service limit
  uint64_t no_endpoint_rejects = 0;  // connections reset (datagrams dropped) for lack of endpoints
  uint64_t idle_timeouts = 0;        // TCP connections closed for inactivity
  uint64_t resets = 0;               // TCP connections ended by a reset or error on either side
  uint64_t bytes_spliced = 0;        // TCP payload moved, both directions
  uint64_t udp_sessions = 0;         // UDP sessions created
  uint64_t udp_active_sessions = 0;  // gauge
  uint64_t udp_datagrams = 0;        // datagrams relayed, both directions
  uint64_t listeners = 0;            // gauge: listeners, summed over workers (a TCP socket is
                                     // served by every worker, so it counts once per worker)
  uint64_t accept_failures = 0;      // accept() errors such as EMFILE (the listener pauses)
  uint64_t direct_rejects = 0;       // TCP connections made to a listener port, not via a portal
  // Dataplane.
  uint64_t syncs = 0;
  uint64_t restore_failures = 0;
  uint64_t open_failures = 0;  // frontends whose listeners could not be opened
  uint64_t fd_shortages = 0;   // syncs that left frontends without a listener for lack of
                               // file descriptors (see RelayEngine::Budget)
  uint64_t unopened = 0;       // gauge: frontends the last sync wanted but could not open
  uint64_t sctp_skipped = 0;   // gauge: SCTP service ports in the last state, not proxied
  uint64_t frontends = 0;      // gauge
  // Service ports planned: every one on a full sync, only the changed ones otherwise.
  uint64_t ports_planned = 0;
};

}  // namespace kpx
