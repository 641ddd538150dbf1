#include "proxier/userspace/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace kpx {

PipePool::~PipePool() {
  for (auto& p : pool_) {
    close(p.read_fd);
    close(p.write_fd);
  }
}

SplicePipe PipePool::Get() {
  if (!pool_.empty()) {
    SplicePipe p = pool_.back();
    pool_.pop_back();
    return p;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return SplicePipe{};
  // Best effort: past the per-user pipe budget the kernel keeps the default size, which still
  // works, just with more syscalls per byte.
  if (pipe_size_ > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size_));
  return SplicePipe{fds[0], fds[1], 0};
}

void PipePool::Put(SplicePipe& pipe) {
  if (!pipe.valid()) return;
  if (pipe.bytes == 0 && pool_.size() < max_pooled_) {
    pool_.push_back(pipe);
  } else {
    close(pipe.read_fd);
    close(pipe.write_fd);
  }
  pipe = SplicePipe{};
}

}  // namespace kpx
