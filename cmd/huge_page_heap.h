#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kpx {

// glibc's tunable that advises its heap to transparent huge pages as it grows (glibc 2.35 and
// later; older ones ignore it).
inline constexpr std::string_view kHugePageHeapTunable = "glibc.malloc.hugetlb";

// The GLIBC_TUNABLES value kpx runs with, given the one it was started with (null: unset), or
// nullopt when that one already names the huge-page tunable: the operator's choice, which
// includes `glibc.malloc.hugetlb=0` to opt out.
std::optional<std::string> TunablesWithHugePageHeap(const char* current);

// A first full sync at 10 000 Services faults in tens of MB of fresh heap in small objects; on a
// node whose THP setting is "madvise" (Ubuntu's and many VMs') each 4 KiB fault costs more than
// the work done on the page. glibc reads its tunables only when a program starts, so kpx starts
// itself again (same PID, same arguments) with the tunable added. Call first thing in main,
// before any thread or open file. Returns only when it does not re-execute: why, for the log.
std::string ReexecWithHugePageHeap(char** argv);

}  // namespace kpx
