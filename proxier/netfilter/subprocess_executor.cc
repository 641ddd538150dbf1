#include "proxier/netfilter/subprocess_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

extern char** environ;

namespace kpx {

namespace {

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

Status Errno(const std::string& what) { return Status::Error(what + ": " + std::strerror(errno)); }

}  // namespace

Result<CommandOutput> SubprocessExecutor::Run(const std::vector<std::string>& argv,
                                              std::string_view stdin_data) {
  if (argv.empty()) return Status::Error("empty argv");
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Errno("pipe");
  Fd in_r{in[0]}, in_w{in[1]};
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
  Fd out_r{out[0]}, out_w{out[1]};
  if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe");
  Fd err_r{err[0]}, err_w{err[1]};

  // posix_spawn, not fork: glibc starts the child with clone(CLONE_VM | CLONE_VFORK), so a kpx
  // holding hundreds of MiB (10 000 services) does not copy its page tables, nor risk ENOMEM
  // under strict overcommit, for every iptables-restore.
  posix_spawn_file_actions_t actions;
  if (int e = posix_spawn_file_actions_init(&actions); e != 0) {
    return Status::Error(std::string("posix_spawn_file_actions_init: ") + std::strerror(e));
  }
  posix_spawnattr_t attr;
  if (int e = posix_spawnattr_init(&attr); e != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return Status::Error(std::string("posix_spawnattr_init: ") + std::strerror(e));
  }
  sigset_t all_signals, no_signals;
  // Every bit, not sigfillset: that leaves out glibc's internal signals (32, 33), which the
  // spawned child would then get as SIG_IGN and keep across exec.
  std::memset(&all_signals, 0xff, sizeof(all_signals));
  sigemptyset(&no_signals);
  // The pipes' ends are close-on-exec; dup2 gives the child copies without the flag. Nothing
  // else passes to the child: not kpx's sockets, nor descriptors a library opened without
  // close-on-exec (they would outlive kpx in a hung iptables-restore, for instance). kpx ignores
  // SIGPIPE and blocks SIGTERM in its threads; a child inherits neither.
  int e = posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
  if (e == 0) e = posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  if (e == 0) e = posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  if (e == 0) e = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (e == 0) e = posix_spawnattr_setsigdefault(&attr, &all_signals);
  if (e == 0) e = posix_spawnattr_setsigmask(&attr, &no_signals);
  if (e == 0) e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  if (e == 0) e = posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  // glibc reports a failed exec here (ENOENT, EACCES), not as exit status 127.
  if (e != 0) return Status::Error("cannot execute " + argv[0] + ": " + std::strerror(e));
  in_r.Close();
  out_w.Close();
  err_w.Close();

  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

  CommandOutput result;
  size_t written = 0;
  if (stdin_data.empty()) in_w.Close();
  fcntl(in_w.fd, F_SETFL, O_NONBLOCK);
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_w.fd >= 0) fds[n++] = {in_w.fd, POLLOUT, 0};
    if (out_r.fd >= 0) fds[n++] = {out_r.fd, POLLIN, 0};
    if (err_r.fd >= 0) fds[n++] = {err_r.fd, POLLIN, 0};
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_w.fd) {
        const ssize_t w = write(in_w.fd, stdin_data.data() + written, stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = stdin_data.size();
        if (written >= stdin_data.size()) in_w.Close();
        continue;
      }
      Fd& fd = fds[i].fd == out_r.fd ? out_r : err_r;
      std::string& sink = fds[i].fd == out_r.fd ? result.out : result.err;
      char buf[16384];
      const ssize_t r = read(fd.fd, buf, sizeof(buf));
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        fd.Close();
      }
    }
  }
  in_w.Close();
  // Swallow a SIGPIPE raised while the signal was blocked, then restore the mask.
  timespec zero{0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Errno("waitpid");
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 127 && result.out.empty() && result.err.empty()) {
      return Status::Error("cannot execute " + argv[0]);
    }
  } else {
    result.exit_code = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return result;
}

}  // namespace kpx
