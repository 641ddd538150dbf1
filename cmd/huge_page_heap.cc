#include "cmd/huge_page_heap.h"

#include <sys/auxv.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kpx {

namespace {

// Set for the re-executed image only, and removed by it at once: should a libc drop
// GLIBC_TUNABLES from the environment, kpx must still not start itself over and over.
constexpr const char* kReexecMarker = "KPX_HUGE_PAGE_HEAP_REEXEC";

}  // namespace

std::optional<std::string> TunablesWithHugePageHeap(const char* current) {
  const std::string_view all = current == nullptr ? std::string_view() : current;
  // name=value pairs separated by colons.
  for (size_t start = 0; start <= all.size();) {
    size_t end = all.find(':', start);
    if (end == std::string_view::npos) end = all.size();
    const std::string_view entry = all.substr(start, end - start);
    if (entry.substr(0, entry.find('=')) == kHugePageHeapTunable) return std::nullopt;
    start = end + 1;
  }
  std::string out(all);
  if (!out.empty()) out += ':';
  out += kHugePageHeapTunable;
  out += "=1";
  return out;
}

std::string ReexecWithHugePageHeap(char** argv) {
  if (std::getenv(kReexecMarker) != nullptr) {
    unsetenv(kReexecMarker);
    return "";
  }
  // A set-user-ID start ignores tunables (glibc may also drop them from the environment).
  if (getauxval(AT_SECURE) != 0) return "started set-user-ID: glibc ignores its tunables";
  const char* given = std::getenv("GLIBC_TUNABLES");
  const std::optional<std::string> tunables = TunablesWithHugePageHeap(given);
  if (!tunables) return "";
  if (argv == nullptr || argv[0] == nullptr) return "no argument vector to start again with";
  const std::optional<std::string> saved =
      given == nullptr ? std::nullopt : std::optional<std::string>(given);
  if (setenv("GLIBC_TUNABLES", tunables->c_str(), 1) != 0 || setenv(kReexecMarker, "1", 1) != 0) {
    return std::string("cannot set the environment: ") + std::strerror(errno);
  }
  execv("/proc/self/exe", argv);
  const int err = errno;
  // Not re-executed: the environment goes back to what the operator gave, children included.
  unsetenv(kReexecMarker);
  if (saved) {
    setenv("GLIBC_TUNABLES", saved->c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
  return std::string("cannot start /proc/self/exe again: ") + std::strerror(err);
}

}  // namespace kpx
