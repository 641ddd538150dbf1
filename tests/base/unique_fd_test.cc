#include "base/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace kpx {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(UniqueFdTest, ClosesWhatItOwnsOnceWhereverOwnershipWent) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    UniqueFd read_end(fds[0]);
    EXPECT_TRUE(read_end.valid());
    EXPECT_EQ(read_end.get(), fds[0]);
    UniqueFd moved(std::move(read_end));
    EXPECT_FALSE(read_end.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(moved.get(), fds[0]);
    EXPECT_TRUE(IsOpen(fds[0]));
    UniqueFd write_end(fds[1]);
    write_end = std::move(moved);  // closes the write end, takes the read end
    EXPECT_FALSE(IsOpen(fds[1]));
    EXPECT_TRUE(IsOpen(fds[0]));
  }
  EXPECT_FALSE(IsOpen(fds[0]));
  UniqueFd none;
  EXPECT_FALSE(none.valid());
  EXPECT_FALSE(UniqueFd(-1).valid());
}

}  // namespace
}  // namespace kpx
