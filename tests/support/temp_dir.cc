#include "tests/support/temp_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <vector>

namespace kpx::testing {

TempDir::TempDir() {
  std::string pattern = ::testing::TempDir() + "kpx-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  const char* made = mkdtemp(buf.data());
  EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
  if (made != nullptr) path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  const std::string full = File(name);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(full).parent_path(), ec);
  EXPECT_FALSE(ec) << "creating the directory of " << full << ": " << ec.message();
  const int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EXPECT_GE(fd, 0) << "opening " << full;
  if (fd < 0) return full;
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()))
      << "writing " << full;
  close(fd);
  return full;
}

void TempDir::WriteAtomically(const std::string& name, const std::string& content) const {
  const std::string tmp = "." + name + ".tmp";
  Write(tmp, content);
  Rename(tmp, name);
}

void TempDir::Remove(const std::string& name) const {
  EXPECT_EQ(std::remove(File(name).c_str()), 0) << name;
}

void TempDir::Rename(const std::string& from, const std::string& to) const {
  EXPECT_EQ(std::rename(File(from).c_str(), File(to).c_str()), 0) << from << " -> " << to;
}

}  // namespace kpx::testing
