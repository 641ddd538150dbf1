#pragma once

#include <atomic>
#include <cstdint>

namespace kpx {

// Counters a source (API watcher or manifest directory) bumps and the metrics endpoint reads.
// Shared by reference; every field is safe to touch from any thread.
struct SourceStats {
  std::atomic<uint64_t> objects_rejected{0};      // failed decoding or validation, skipped
  std::atomic<uint64_t> objects_skipped{0};       // ignored on purpose (FQDN slice, other proxy)
  std::atomic<uint64_t> watch_restarts{0};        // watch streams re-established (API source)
  std::atomic<uint64_t> relists{0};               // full relists after 410 Gone or errors
  std::atomic<uint64_t> events_received{0};       // add/update/delete events delivered to handlers
  std::atomic<uint64_t> watch_events_dropped{0};  // watch lines over the size limit (API source)
  std::atomic<uint64_t> list_items_too_large{0};  // list items over the size limit, skipped
  std::atomic<uint64_t> files_read{0};            // manifest files read (manifest source)
};

}  // namespace kpx
