#include "proxier/userspace/listen_socket.h"

#include <unistd.h>

namespace kpx {

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace kpx
