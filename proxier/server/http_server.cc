#include "proxier/server/http_server.h"

#include <cpprest/http_listener.h>
#include <glog/logging.h>

#include <mutex>
#include <set>

namespace kpx {

using web::http::http_request;
using web::http::methods;
using web::http::experimental::listener::http_listener;

namespace {

// cpprestsdk shares one acceptor per host:port inside a process, and a second listener's failed
// open unregisters the first. Refuse in-process duplicates before cpprestsdk sees them.
std::mutex& BoundMutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& Bound() {
  static auto* bound = new std::set<std::string>();
  return *bound;
}

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<http_listener> listener;
};

HttpServer::HttpServer(std::string bind) : bind_(std::move(bind)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(const std::string& path, Handler handler) {
  routes_[path] = std::move(handler);
}

void HttpServer::Fallback(Handler handler) { fallback_ = std::move(handler); }

Status HttpServer::Start() {
  if (impl_) return Status::Ok();
  {
    std::lock_guard lock(BoundMutex());
    if (!Bound().insert(bind_).second) {
      return Status::Error("cannot serve HTTP on " + bind_ + ": already served by kpx");
    }
  }
  auto impl = std::make_unique<Impl>();
  try {
    impl->listener = std::make_unique<http_listener>(web::uri("http://" + bind_ + "/"));
    impl->listener->support([this](http_request request) {
      web::http::http_response response;
      if (request.method() != methods::GET && request.method() != methods::HEAD) {
        response.set_status_code(405);
        response.headers().add("Allow", "GET, HEAD");
        request.reply(response).wait();
        return;
      }
      const std::string path = request.relative_uri().path();
      Response r;
      if (auto it = routes_.find(path); it != routes_.end()) {
        r = it->second(path);
      } else if (fallback_) {
        r = fallback_(path);
      } else {
        r = {404, "text/plain; charset=utf-8", "404 page not found\n", {}};
      }
      response.set_status_code(static_cast<web::http::status_code>(r.code));
      for (const auto& [k, v] : r.headers) response.headers().add(k, v);
      response.set_body(std::move(r.body), r.content_type);
      request.reply(response).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (const std::exception& e) {
          VLOG(2) << "reply failed: " << e.what();  // the client went away
        }
      });
    });
    impl->listener->open().wait();
  } catch (const std::exception& e) {
    std::lock_guard lock(BoundMutex());
    Bound().erase(bind_);
    return Status::Error("cannot serve HTTP on " + bind_ + ": " + e.what());
  }
  impl_ = std::move(impl);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    LOG(WARNING) << "closing HTTP server on " << bind_ << ": " << e.what();
  }
  impl_.reset();
  std::lock_guard lock(BoundMutex());
  Bound().erase(bind_);
}

}  // namespace kpx
