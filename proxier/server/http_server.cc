#include "proxier/server/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glog/logging.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>
#include <unordered_map>

namespace kpx {

namespace {

// Parses "IP:port" / "[IPv6]:port" strictly (no names: kpx never resolves its own bind address).
// "ip:port" of a client, for log lines.
std::string PeerName(const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return std::string(ip) + ":" + std::to_string(port);
}

bool ParseBind(const std::string& bind, sockaddr_storage* out, socklen_t* len) {
  std::string host;
  std::string port;
  bool v6 = false;
  if (!bind.empty() && bind.front() == '[') {
    const size_t close = bind.find("]:");
    if (close == std::string::npos) return false;
    host = bind.substr(1, close - 1);
    port = bind.substr(close + 2);
    v6 = true;
  } else {
    const size_t colon = bind.rfind(':');
    if (colon == std::string::npos) return false;
    host = bind.substr(0, colon);
    port = bind.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const int port_number = std::stoi(port);
  if (port_number > 65535) return false;
  *out = {};
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(out);
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return false;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port_number));
    *len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return false;
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port_number));
    *len = sizeof(*a);
  }
  return true;
}

// At most one line per second per server: a client that provokes errors must not flood the log.
class LogLimiter {
 public:
  // True when a line may be written now; `suppressed` gets how many were dropped since the last.
  bool Allow(uint64_t* suppressed) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_ms_.load();
    if (now - last < 1000 || !last_ms_.compare_exchange_strong(last, now)) {
      dropped_.fetch_add(1);
      return false;
    }
    *suppressed = dropped_.exchange(0);
    return true;
  }

 private:
  std::atomic<int64_t> last_ms_{-1000000};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace

struct HttpServer::Impl {
  HttpServer* server = nullptr;
  int listen_fd = -1;
  int stop_fd = -1;
  MHD_Daemon* daemon = nullptr;
  std::thread acceptor;
  LogLimiter log_limiter;

  ~Impl() {
    if (acceptor.joinable()) {
      const uint64_t one = 1;
      (void)!write(stop_fd, &one, sizeof(one));
      acceptor.join();
    }
    if (daemon) MHD_stop_daemon(daemon);
    if (listen_fd >= 0) close(listen_fd);
    if (stop_fd >= 0) close(stop_fd);
  }

  void Warn(const std::string& what) {
    uint64_t suppressed = 0;
    if (!log_limiter.Allow(&suppressed)) return;
    LOG(WARNING) << "HTTP server on " << server->bind_ << ": " << what
                 << (suppressed ? " (" + std::to_string(suppressed) + " more lines suppressed)"
                                : "");
  }

  // Accepts connections and hands them to libmicrohttpd, and enforces the request deadline
  // between accepts. Out of descriptors (EMFILE, ENFILE) or memory, accept() fails while the
  // connection stays queued, so retrying at once would spin a core; back off from 5 ms doubling
  // to 1 s instead, as Go's net/http does.
  void AcceptLoop() {
    using Clock = std::chrono::steady_clock;
    std::chrono::milliseconds backoff{0};
    Clock::time_point retry_at{};
    for (;;) {
      const Clock::time_point now = Clock::now();
      std::chrono::milliseconds wait = CloseOverdue(now);
      const bool backing_off = now < retry_at;
      if (backing_off) {
        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(retry_at - now));
      }
      // While backing off only the stop signal is watched: the listening socket stays readable.
      pollfd fds[2] = {{stop_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}};
      const int n = poll(fds, backing_off ? 1 : 2, static_cast<int>(wait.count()));
      if (n < 0 && errno != EINTR) {
        Warn(std::string("poll: ") + std::strerror(errno));
        return;
      }
      if (fds[0].revents != 0) return;
      if (backing_off ? Clock::now() < retry_at : fds[1].revents == 0) continue;
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof(peer);
      const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED ||
            err == EPROTO) {
          backoff = std::chrono::milliseconds(0);
          continue;
        }
        server->stats_->accept_failures.fetch_add(1);
        backoff = backoff.count() == 0 ? std::chrono::milliseconds(5)
                                       : std::min(backoff * 2, std::chrono::milliseconds(1000));
        retry_at = Clock::now() + backoff;
        Warn(std::string("accept: ") + std::strerror(err) + "; retrying in " +
             std::to_string(backoff.count()) + " ms");
        continue;
      }
      backoff = std::chrono::milliseconds(0);
      // libmicrohttpd enforces the connection limits here and closes the socket when over them.
      if (MHD_add_connection(daemon, fd, reinterpret_cast<sockaddr*>(&peer), peer_len) != MHD_YES) {
        server->stats_->connections_refused.fetch_add(1);
        Warn(std::string("refused a connection: ") + std::strerror(errno));
      }
    }
  }

  // libmicrohttpd only has an inactivity timeout, which a client sending a byte now and then
  // never trips. So every connection is timestamped when libmicrohttpd takes it, and one whose
  // request is not complete by its deadline is shut down here: libmicrohttpd then reads EOF and
  // closes and forgets it itself, freeing its slot. Returns the time until the next deadline.
  std::chrono::milliseconds CloseOverdue(std::chrono::steady_clock::time_point now) {
    std::chrono::milliseconds next = server->options_.request_deadline;
    std::lock_guard lock(pending_mu);
    for (auto& [connection, p] : pending) {
      if (!p.armed) continue;
      if (p.deadline > now) {
        next = std::min(next, std::chrono::ceil<std::chrono::milliseconds>(p.deadline - now));
        continue;
      }
      p.armed = false;
      // Counted before the client can see its connection end: a reader of the count who saw
      // the close (a test, a scrape after it) finds it there.
      server->stats_->requests_timed_out.fetch_add(1);
      // The descriptor is libmicrohttpd's and stays open until it reports the connection closed,
      // which waits for this lock; the inode check is a second guard against ever shutting down
      // a socket that reused the number.
      struct stat st {};
      if (fstat(p.fd, &st) == 0 && st.st_ino == p.inode) shutdown(p.fd, SHUT_RDWR);
      Warn("closed a connection from " + p.peer + " that sent no complete request within " +
           std::to_string(server->options_.request_deadline.count()) + " ms");
    }
    return std::max(next, std::chrono::milliseconds(1));
  }

  // The request deadline's bookkeeping, from libmicrohttpd's callbacks (its thread) and the
  // accept loop.
  struct Pending {
    int fd = -1;
    ino_t inode = 0;
    std::string peer;
    std::chrono::steady_clock::time_point deadline;
    bool armed = false;  // a request is being read
  };
  std::mutex pending_mu;
  std::unordered_map<MHD_Connection*, Pending> pending;

  void Arm(MHD_Connection* connection) {
    std::lock_guard lock(pending_mu);
    if (auto it = pending.find(connection); it != pending.end()) {
      it->second.armed = true;
      it->second.deadline = std::chrono::steady_clock::now() + server->options_.request_deadline;
    }
  }
  void Disarm(MHD_Connection* connection) {
    std::lock_guard lock(pending_mu);
    if (auto it = pending.find(connection); it != pending.end()) it->second.armed = false;
  }

  static void OnLog(void* cls, const char* format, va_list ap) {
    auto* impl = static_cast<Impl*>(cls);
    char line[512];
    std::vsnprintf(line, sizeof(line), format, ap);
    std::string text(line);
    // Its 431 message quotes a whole HTML page.
    if (const size_t html = text.find(" ('<"); html != std::string::npos) text.resize(html);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    // libmicrohttpd logs what it refuses on its own: requests too large or malformed.
    if (text.find("Error processing request") != std::string::npos) {
      impl->server->stats_->requests_refused.fetch_add(1);
    }
    impl->Warn(text);
  }

  static void OnConnection(void* cls, MHD_Connection* connection, void**,
                           MHD_ConnectionNotificationCode code) {
    auto* impl = static_cast<Impl*>(cls);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      impl->server->stats_->connections.fetch_add(1);
      Pending p;
      if (const MHD_ConnectionInfo* info =
              MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD)) {
        p.fd = info->connect_fd;
        struct stat st {};
        if (fstat(p.fd, &st) == 0) p.inode = st.st_ino;
      }
      if (const MHD_ConnectionInfo* info =
              MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) {
        p.peer = PeerName(info->client_addr);
      }
      p.armed = p.fd >= 0;
      p.deadline = std::chrono::steady_clock::now() + impl->server->options_.request_deadline;
      std::lock_guard lock(impl->pending_mu);
      impl->pending[connection] = std::move(p);
    }
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
      impl->server->stats_->connections.fetch_sub(1);
      std::lock_guard lock(impl->pending_mu);
      impl->pending.erase(connection);
    }
  }

  static void OnCompleted(void* cls, MHD_Connection* connection, void**,
                          MHD_RequestTerminationCode code) {
    auto* impl = static_cast<Impl*>(cls);
    // A kept-alive connection's next request gets a deadline of its own.
    if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK) impl->Arm(connection);
    if (code == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) {
      impl->server->stats_->requests_refused.fetch_add(1);
      impl->Warn("closed a connection idle for " +
                 std::to_string(impl->server->options_.idle_timeout.count()) + " s");
    }
  }

  static MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char*, const char*, size_t*, void**) {
    auto* impl = static_cast<Impl*>(cls);
    impl->Disarm(connection);  // the request line and headers are complete
    // Answered on the first call, before any body is read: libmicrohttpd then closes the
    // connection instead of reading the body.
    const Response r = impl->server->Answer(method, url);
    MHD_Response* response = MHD_create_response_from_buffer(
        r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    for (const auto& [name, value] : r.headers) {
      MHD_add_response_header(response, name.c_str(), value.c_str());
    }
    const MHD_Result result =
        MHD_queue_response(connection, static_cast<unsigned>(r.code), response);
    MHD_destroy_response(response);
    return result;
  }
};

HttpServer::HttpServer(std::string bind, Options options)
    : bind_(std::move(bind)),
      options_(options),
      stats_(options.stats ? options.stats : std::make_shared<Stats>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(const std::string& path, Handler handler) {
  std::lock_guard lock(handlers_mu_);
  routes_[path] = std::move(handler);
}

void HttpServer::Fallback(Handler handler) {
  std::lock_guard lock(handlers_mu_);
  fallback_ = std::move(handler);
}

HttpServer::Response HttpServer::Answer(const std::string& method, const std::string& path) {
  if (method != "GET" && method != "HEAD") {
    return Response{
        405, "text/plain; charset=utf-8", "405 method not allowed\n", {{"Allow", "GET, HEAD"}}};
  }
  Handler handler;
  {
    std::lock_guard lock(handlers_mu_);
    if (auto it = routes_.find(path); it != routes_.end()) {
      handler = it->second;
    } else {
      handler = fallback_;
    }
  }
  if (!handler) return Response{404, "text/plain; charset=utf-8", "404 page not found\n", {}};
  return handler(path);
}

Status HttpServer::Start() {
  if (impl_) return Status::Ok();
  const std::string what = "cannot serve HTTP on " + bind_ + ": ";
  sockaddr_storage address;
  socklen_t address_len = 0;
  if (!ParseBind(bind_, &address, &address_len)) {
    return Status::Error(what + "not an address of the form IP:port or [IPv6]:port");
  }
  auto impl = std::make_unique<Impl>();
  impl->server = this;
  impl->listen_fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (impl->listen_fd < 0) return Status::Error(what + "socket: " + std::strerror(errno));
  const int on = 1;
  const int off = 0;
  setsockopt(impl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (address.ss_family == AF_INET6) {
    // "[::]" serves both families, like Go's listeners (and so kube-proxy's); for any other IPv6
    // address the option makes no difference.
    setsockopt(impl->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  if (::bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&address), address_len) != 0 ||
      listen(impl->listen_fd, 128) != 0) {
    return Status::Error(what + std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  impl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0) return Status::Error(what + "eventfd: " + std::strerror(errno));

  Impl* raw = impl.get();
  impl->daemon =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
                           MHD_USE_ITC | MHD_USE_ERROR_LOG,
                       0, nullptr, nullptr, &Impl::OnRequest, raw,
                       // First, so that libmicrohttpd's own start-up messages reach glog too.
                       MHD_OPTION_EXTERNAL_LOGGER, &Impl::OnLog, raw, MHD_OPTION_CONNECTION_LIMIT,
                       options_.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                       options_.max_connections_per_client, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                       options_.max_request_bytes, MHD_OPTION_CONNECTION_TIMEOUT,
                       static_cast<unsigned>(options_.idle_timeout.count()),
                       MHD_OPTION_NOTIFY_CONNECTION, &Impl::OnConnection, raw,
                       MHD_OPTION_NOTIFY_COMPLETED, &Impl::OnCompleted, raw, MHD_OPTION_END);
  if (impl->daemon == nullptr) return Status::Error(what + "libmicrohttpd failed to start");
  impl->acceptor = std::thread([raw] { raw->AcceptLoop(); });
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  impl_ = std::move(impl);
  return Status::Ok();
}

void HttpServer::Stop() {
  impl_.reset();
  port_ = 0;
}

}  // namespace kpx
