#include "cmd/oom_score.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace kpx {
namespace {

TEST(OomScoreTest, WritesTheValueToTheFile) {
  testing::TempDir dir;
  const std::string path = dir.Write("oom_score_adj", "");
  ASSERT_TRUE(ApplyOomScoreAdj(-999, path).ok());
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "-999");
  EXPECT_FALSE(ApplyOomScoreAdj(-999, "/nonexistent/dir/oom_score_adj").ok());
}

// The real file, for this process: raising the score needs no privilege, so it works anywhere.
TEST(OomScoreTest, RaisesThisProcesssScore) {
  std::ifstream before("/proc/self/oom_score_adj");
  int old_value = 0;
  before >> old_value;
  const int want = std::min(1000, old_value + 1);
  ASSERT_TRUE(ApplyOomScoreAdj(want).ok());
  std::ifstream after("/proc/self/oom_score_adj");
  int now = 0;
  after >> now;
  EXPECT_EQ(now, want);
}

}  // namespace
}  // namespace kpx
