#pragma once

#include <string>

namespace kpx::testing {

// A fresh directory under the test temp dir (TEST_TMPDIR, TMPDIR or /tmp), removed with its
// content on destruction. Failures to create or write are test failures, not crashes.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  // Writes in place (open with O_TRUNC, write, close), so an inotify watcher sees one
  // IN_CLOSE_WRITE; creates missing parent directories of `name`. Returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;
  // Writes a hidden temporary file and renames it over `name`, as editors do: one IN_MOVED_TO.
  void WriteAtomically(const std::string& name, const std::string& content) const;
  void Remove(const std::string& name) const;
  void Rename(const std::string& from, const std::string& to) const;

 private:
  std::string path_;
};

}  // namespace kpx::testing
