#include "k8s-watch/manifest/directory_watcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "tests/support/temp_dir.h"

namespace kpx {
namespace {

using Event = DirectoryWatcher::Event;

TEST(DirectoryWatcherTest, OpenFailsForMissingDirectory) {
  DirectoryWatcher w;
  Status s = w.Open("/nonexistent/kpx-manifests");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/kpx-manifests"), std::string::npos) << s.message();
}

TEST(DirectoryWatcherTest, ReportsChangesThenStops) {
  testing::TempDir dir;
  DirectoryWatcher w;
  ASSERT_TRUE(w.Open(dir.path()).ok());
  dir.Write("a.yaml", "x: 1\n");
  EXPECT_EQ(w.Wait(), Event::kChanged);
  dir.Rename("a.yaml", "b.yaml");
  EXPECT_EQ(w.Wait(), Event::kChanged);
  dir.Remove("b.yaml");
  EXPECT_EQ(w.Wait(), Event::kChanged);
  ASSERT_EQ(symlink("/dev/null", dir.File("c.yaml").c_str()), 0);
  EXPECT_EQ(w.Wait(), Event::kChanged);
  w.Interrupt();
  EXPECT_EQ(w.Wait(), Event::kStopped);
  EXPECT_EQ(w.Wait(), Event::kStopped);  // stays stopped
}

TEST(DirectoryWatcherTest, InterruptWakesABlockedWait) {
  testing::TempDir dir;
  DirectoryWatcher w;
  ASSERT_TRUE(w.Open(dir.path()).ok());
  auto waiting = std::async(std::launch::async, [&] { return w.Wait(); });
  w.Interrupt();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), Event::kStopped);
}

TEST(DirectoryWatcherTest, DirectoryRemoved) {
  auto dir = std::make_unique<testing::TempDir>();
  DirectoryWatcher w;
  ASSERT_TRUE(w.Open(dir->path()).ok());
  ASSERT_EQ(rmdir(dir->path().c_str()), 0);
  EXPECT_EQ(w.Wait(), Event::kGone);
}

}  // namespace
}  // namespace kpx
