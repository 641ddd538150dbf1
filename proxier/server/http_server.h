#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"

namespace kpx {

// A small HTTP/1.1 server for kpx's own endpoints (/healthz, /livez, /metrics, health-check node
// ports), which face unauthenticated clients: every resource a client can make it hold is bounded
// (see Options). Built on libmicrohttpd; kpx accepts connections itself so that it owns the
// listening socket (clear bind errors, IPv6, close-on-exec) and backs off when accept() runs out
// of file descriptors. Handlers run on the server's own thread, one request at a time, and must
// be thread-safe with respect to the rest of kpx. Only GET and HEAD are served; request bodies
// are never read (the connection is closed after the answer).
class HttpServer {
 public:
  struct Response {
    int code = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::map<std::string, std::string> headers;
  };
  using Handler = std::function<Response(const std::string& path)>;

  // Counters readable from any thread (exported as metrics by the owner); all monotonic but
  // `connections`. Several servers may share one (the health-check node ports do).
  struct Stats {
    std::atomic<uint64_t> connections{0};          // open now
    std::atomic<uint64_t> connections_refused{0};  // over max_connections(_per_client)
    std::atomic<uint64_t> requests_refused{0};     // malformed, too large, idle
    std::atomic<uint64_t> requests_timed_out{0};   // not complete within request_deadline
    std::atomic<uint64_t> accept_failures{0};      // accept() errors such as EMFILE
  };

  struct Options {
    // Open connections at once; further ones are accepted and closed at once.
    unsigned max_connections = 256;
    // Open connections from one client address, so one client cannot take them all.
    unsigned max_connections_per_client = 32;
    // Request line plus headers (and the answer's headers). Larger requests get 431.
    size_t max_request_bytes = 64 * 1024;
    // A connection that sends or reads nothing for this long is closed.
    std::chrono::seconds idle_timeout{10};
    // A request line and headers must be complete this long after the connection was accepted
    // (or its previous request answered), however steadily they trickle in; else the connection
    // is closed. Go's ReadHeaderTimeout, which kube-proxy's servers have.
    std::chrono::milliseconds request_deadline{10000};
    // Where to count; a fresh Stats of the server's own when null.
    std::shared_ptr<Stats> stats;
  };

  // `bind` is "IP:port" or "[IPv6]:port"; port 0 takes a free port (see port()). "[::]" accepts
  // IPv4 connections too, as Go's listeners do.
  explicit HttpServer(std::string bind) : HttpServer(std::move(bind), Options()) {}
  HttpServer(std::string bind, Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes an exact path (the query is not part of it); `fallback` (if set) answers every other
  // path. May be called while serving.
  void Route(const std::string& path, Handler handler);
  void Fallback(Handler handler);

  // Binds and starts serving. Fails (never throws) when the address is malformed or cannot be
  // bound, with the reason (e.g. "Address already in use").
  Status Start();
  void Stop();
  const std::string& bind() const { return bind_; }
  // The bound port once started (the chosen one when asked for port 0), else 0.
  int port() const { return port_; }
  const Stats& stats() const { return *stats_; }

 private:
  struct Impl;
  Response Answer(const std::string& method, const std::string& path);

  std::string bind_;
  Options options_;
  int port_ = 0;
  std::shared_ptr<Stats> stats_;
  std::mutex handlers_mu_;
  std::map<std::string, Handler> routes_;
  Handler fallback_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kpx
