#include "tests/support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>

#include "tests/support/command.h"

namespace kpx::testing {

namespace {

// What the signal handler undoes. It may only make syscalls, so paths are prepared when a
// namespace is made; slots are claimed and released by the test's own threads.
constexpr int kSlots = 32;
char g_paths[kSlots][128];
std::atomic<pid_t> g_pids[kSlots];

void EmergencyCleanup(int sig) {
  for (auto& p : g_pids) {
    const pid_t pid = p.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  for (auto& path : g_paths) {
    if (path[0] != '\0') {
      umount2(path, MNT_DETACH);
      unlink(path);
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallHandlers() {
  static const bool installed = [] {
    for (int sig : {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS}) signal(sig, EmergencyCleanup);
    return true;
  }();
  (void)installed;
}

void RememberPath(const std::string& name) {
  for (auto& path : g_paths) {
    if (path[0] == '\0') {
      std::snprintf(path, sizeof(path), "/run/netns/%s", name.c_str());
      return;
    }
  }
}

void ForgetPath(const std::string& name) {
  const std::string full = "/run/netns/" + name;
  for (auto& path : g_paths) {
    if (full == path) path[0] = '\0';
  }
}

void RememberPid(pid_t pid) {
  for (auto& p : g_pids) {
    pid_t free = 0;
    if (p.compare_exchange_strong(free, pid)) return;
  }
}

void ForgetPid(pid_t pid) {
  for (auto& p : g_pids) {
    pid_t mine = pid;
    p.compare_exchange_strong(mine, 0);
  }
}

}  // namespace

TestNetns::TestNetns(std::string prefix) {
  std::random_device rd;
  tag_ = std::move(prefix) + "-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
  InstallHandlers();
}

TestNetns::~TestNetns() {
  for (pid_t pid : pids_) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    ForgetPid(pid);
  }
  for (const std::string& n : created_) {
    (void)RunCommand({"ip", "netns", "del", n});
    ForgetPath(n);
  }
}

std::string TestNetns::Unavailable() {
  if (geteuid() != 0) return "needs root (network namespaces)";
  if (!RunCommand({"ip", "netns", "list"}).ok()) return "iproute2 'ip netns' unavailable";
  return "";
}

Status TestNetns::Add(const std::string& role) {
  const std::string name = tag_ + "-" + role;
  // Known before it exists, so a signal during `ip netns add` still removes it.
  RememberPath(name);
  names_[role] = name;
  if (Status s = RunCommand({"ip", "netns", "add", name}); !s.ok()) {
    ForgetPath(name);
    return s;
  }
  created_.push_back(name);
  return Ip(role, {"link", "set", "lo", "up"});
}

const std::string& TestNetns::Name(const std::string& role) const {
  auto it = names_.find(role);
  if (it == names_.end()) throw std::invalid_argument("no namespace for role " + role);
  return it->second;
}

Status TestNetns::Link(const std::string& a, const std::string& dev_a, const std::string& b,
                       const std::string& dev_b) {
  if (Status s = RunCommand({"ip", "link", "add", dev_a, "netns", Name(a), "type", "veth", "peer",
                             "name", dev_b, "netns", Name(b)});
      !s.ok()) {
    return s;
  }
  if (Status s = Ip(a, {"link", "set", dev_a, "up"}); !s.ok()) return s;
  return Ip(b, {"link", "set", dev_b, "up"});
}

Status TestNetns::Ip(const std::string& role, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip", "-n", Name(role)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

Status TestNetns::Exec(const std::string& role, const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"ip", "netns", "exec", Name(role)};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCommand(full);
}

pid_t TestNetns::Spawn(const std::string& role, const std::vector<std::string>& argv) {
  const std::string path = "/run/netns/" + Name(role);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: the parent may have threads.
    const int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(126);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execv(args[0], args.data());
    _exit(127);
  }
  pids_.push_back(pid);
  RememberPid(pid);
  return pid;
}

}  // namespace kpx::testing
