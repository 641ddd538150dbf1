#pragma once

#include <string>

#include "base/status.h"

namespace kpx {

// Blocks until the entries of one directory change, using inotify; an eventfd lets another thread
// interrupt the wait at once. Reports that something changed, not what: the caller rescans.
//
// Thread-safety: Open and Wait from one thread; Interrupt from any thread, any time after Open.
class DirectoryWatcher {
 public:
  enum class Event {
    kChanged,  // a file was written, moved in or out, deleted, or a symlink was created
    kStopped,  // Interrupt() was called
    kGone,     // the directory itself was deleted or moved away
    kError,    // poll/read failed; logged
  };

  DirectoryWatcher() = default;
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;
  ~DirectoryWatcher();

  // Starts watching `directory`. Events that happen after Open returns are not lost, so a caller
  // can Open, scan, then Wait without a gap.
  Status Open(const std::string& directory);

  // Waits for the next batch of events and drains it. Once Interrupt was called, returns kStopped
  // (also on every later call).
  Event Wait();

  void Interrupt();

 private:
  // Reads every queued inotify event; sets *changed/*gone from what it saw.
  bool Drain(bool* changed, bool* gone);

  std::string directory_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
};

}  // namespace kpx
