#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"

namespace kpx {

// A small HTTP/1.1 server for kpx's own endpoints (/healthz, /livez, /metrics, health-check node
// ports). Handlers run on cpprestsdk's thread pool and must be thread-safe. Only GET is served.
class HttpServer {
 public:
  struct Response {
    int code = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::map<std::string, std::string> headers;
  };
  using Handler = std::function<Response(const std::string& path)>;

  // `bind` is "IP:port" or "[IPv6]:port"; port 0 is not supported (callers choose ports).
  explicit HttpServer(std::string bind);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes an exact path; `fallback` (if set) answers every other path.
  void Route(const std::string& path, Handler handler);
  void Fallback(Handler handler);

  // Binds and starts serving. Fails (never throws) when the address is taken or invalid.
  Status Start();
  void Stop();
  const std::string& bind() const { return bind_; }

 private:
  struct Impl;
  std::string bind_;
  std::map<std::string, Handler> routes_;
  Handler fallback_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kpx
