#pragma once

#include <cstddef>
#include <vector>

namespace kpx {

// A kernel pipe used as a splice buffer between two sockets.
struct SplicePipe {
  int read_fd = -1;
  int write_fd = -1;
  size_t bytes = 0;  // payload currently held, as counted from splice results
  bool valid() const { return read_fd >= 0; }
};

// Reuses empty pipes across connections of one worker, so a short connection costs no pipe2 and
// fcntl calls: creating and sizing two pipes per connection would dominate its syscalls. Not
// thread-safe: one per worker.
class PipePool {
 public:
  PipePool(size_t pipe_size, size_t max_pooled) : pipe_size_(pipe_size), max_pooled_(max_pooled) {}
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // An empty non-blocking pipe, or an invalid one if the kernel refused (fd or memory limits).
  SplicePipe Get();
  // Takes a pipe back: kept if it is empty and the pool has room, closed otherwise.
  void Put(SplicePipe& pipe);
  size_t pooled() const { return pool_.size(); }

 private:
  const size_t pipe_size_;
  const size_t max_pooled_;
  std::vector<SplicePipe> pool_;
};

}  // namespace kpx
