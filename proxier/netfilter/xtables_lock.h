#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "base/status.h"

namespace kpx {

// The xtables lock that every iptables-legacy and iptables-legacy-restore process takes before it
// reads or replaces an x_tables table: flock(LOCK_EX) on one file, /run/xtables.lock unless
// XTABLES_LOCKFILE names another. kpx's in-process legacy runner edits tables itself, so it must
// take the same lock or its replace can interleave with theirs.
//
// iptables opens the file anew on every run. That open is what OthersMayHaveWrittenSinceLastCall
// observes (inotify), so kpx keeps one descriptor for the object's lifetime: its own lock and
// unlock calls must not look like somebody else's run.
//
// Behaviour of the other side worth knowing (iptables 1.8.9 as shipped here): with `-w N` it waits
// up to N seconds and then exits 4 ("Another app is currently holding the xtables lock"); without
// -w, 1.8.9 does not fail fast as its manual says but waits without limit. So holding this lock
// for long stalls the host's plain `iptables` commands rather than making them fail.
//
// Thread-safety: every method may be called from any thread. In-process callers are serialized
// too (flock alone would not do it: a second LOCK_EX on the descriptor that holds the lock
// succeeds at once). A Guard may be released on another thread than the one that acquired it, but
// must not outlive the XtablesLock.
class XtablesLock {
 public:
  // Holds the lock until destroyed or Release()d. Move-only.
  class Guard {
   public:
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();

    // Unlocks now; a no-op on a guard released or moved from.
    void Release();
    bool held() const { return owner_ != nullptr; }

   private:
    friend class XtablesLock;
    Guard(XtablesLock* owner, int fd) : owner_(owner), fd_(fd) {}

    XtablesLock* owner_ = nullptr;
    // A dup of the owner's descriptor (same open file description, so the same flock): the owner
    // may reopen the file while this guard holds the old one, and must not close it under us.
    int fd_ = -1;
  };

  // XTABLES_LOCKFILE when set and not empty, else /run/xtables.lock: the file iptables 1.8.9
  // itself would lock in this environment.
  static std::string DefaultPath();

  // Opens (creating it, 0600, as iptables does) and watches `path`. Never fails: an unusable path
  // surfaces as Acquire's error, and as a signal that always answers true.
  explicit XtablesLock(std::string path);
  XtablesLock(const XtablesLock&) = delete;
  XtablesLock& operator=(const XtablesLock&) = delete;
  ~XtablesLock();

  const std::string& path() const { return path_; }

  // Takes the lock, trying until `wait` has passed (zero: one try). Errors name the path and
  // either the errno of what failed (open, flock) or how long it waited for the other holder.
  // Uncontended it costs a few syscalls (flock, fstat and stat to be sure the file was not
  // replaced, dup). Never run iptables with the same lock file while holding the Guard: it would
  // wait for us, and we for it.
  Result<Guard> Acquire(std::chrono::milliseconds wait);

  // Whether the file can be opened now (trying again if it could not be before). False tells a
  // caller that nobody on this mount can lock it either, unlike a lock held by someone.
  bool Openable();

  // Whether another process may have written x_tables since the previous call: true if anyone
  // else opened or closed the lock file since then, or the file was replaced, moved, deleted or
  // had its attributes changed, or the watch could not be kept (no inotify, events overflowed,
  // the file cannot be opened, or it was deleted where the path cannot follow: a single-file
  // bind mount, as in the DaemonSet, keeps leading to the deleted file while the host's iptables
  // create and lock a new one; that answers true for good). Clears on read.
  //
  // The answer errs on the side of true, because the caller uses false to skip re-reading a
  // table it has cached: a false true costs one read, a false false makes kpx replace a table
  // with a stale copy and drop someone else's rules. For the same reason the first call after
  // construction answers true: nobody can say what happened before the watch existed.
  //
  // Ask while holding the Guard. Every writer that releases the lock by closing the file (all of
  // iptables, which exits or closes after COMMIT) makes the kernel queue the close event before it
  // drops the lock, so once the Guard is held, every earlier write is already reported, including
  // writes by processes that opened the file before the watch was (re)armed.
  //
  // Costs one read(2) when nothing happened.
  //
  // Blind spots: a process that, like kpx, keeps the file open and only flocks and unlocks it
  // is seen once, at its open, and never again; and whatever writes x_tables without taking this
  // lock at all (iptables-legacy-save only reads; libiptc users need not lock) is never seen.
  // XtTableSocket's entry-count check still refuses a replace over a table changed since read.
  bool OthersMayHaveWrittenSinceLastCall();

 private:
  // All below run with mu_ held.
  // Reads every queued inotify event into others_ / rearm_.
  void DrainEvents();
  // Makes fd_ the file now at path_ (opening it when replaced or missing) and the watch watch
  // that file, when rearm_ or either is missing. Sets others_ whenever it could not be sure.
  void Rearm();
  // fd_ and path_ name the same file.
  bool FdMatchesPath() const;
  void CloseWatch();

  // A Guard let go (takes mu_).
  void ReleaseHeld();

  const std::string path_;
  std::mutex mu_;
  std::condition_variable released_;
  bool held_ = false;      // a Guard of this object holds the lock
  int fd_ = -1;            // the lock file, opened O_RDONLY like iptables does
  int open_errno_ = 0;     // why fd_ is -1
  int inotify_fd_ = -1;    // non-blocking
  int watch_ = -1;         // inotify watch descriptor on fd_'s file
  bool others_ = true;     // what the next OthersMayHaveWrittenSinceLastCall answers
  bool rearm_ = false;     // an event said the file may have been replaced
  bool warned_ = false;    // inotify trouble is logged once
  bool orphaned_ = false;  // fd_'s file is deleted but still at path_ (bind mount): always true
};

}  // namespace kpx
