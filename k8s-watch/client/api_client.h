#pragma once

#include <cpprest/http_client.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "k8s-watch/client/bearer_token_source.h"
#include "k8s-watch/client/client_config.h"

namespace kpx {

// The HTTP(S) transport to one API server, over cpprestsdk's http_client. Adds the headers every
// request needs (Accept: application/json, User-Agent, Authorization from a rotating token) and
// installs the configured trust anchors and client certificate into each new TLS connection.
// Thread-safe: reflectors share one client and run requests concurrently.
class ApiClient {
 public:
  static constexpr char kUserAgent[] = "kpx/0.1.0";

  struct Options {
    // Whole-request limit for GETs (lists).
    std::chrono::seconds request_timeout{60};
    // cpprestsdk re-arms its timer on every chunk read, so for streams this is an idle limit.
    // It must exceed the longest server-side watch timeout, which is what normally ends a watch.
    std::chrono::seconds stream_idle_timeout{15 * 60};
  };

  struct Response {
    int status = 0;
    // The whole body for Get; for Stream only the body of a non-200 answer.
    std::string body;
  };

  // Validates the TLS material (PEM parsing, key matching the certificate) up front, so bad
  // credentials fail at startup with a clear message instead of on every connection.
  static Result<std::unique_ptr<ApiClient>> Create(const ClientConfig& config, Options options);
  static Result<std::unique_ptr<ApiClient>> Create(const ClientConfig& config) {
    return Create(config, Options());
  }
  ~ApiClient();

  // GET `path_and_query` (already percent-encoded). HTTP error statuses are a Response; transport
  // failures (refused, TLS, timeout, cancelled) an error.
  Result<Response> Get(const std::string& path_and_query, const pplx::cancellation_token& cancel);

  // Returns false to abandon the stream (its connection is closed, not reused).
  using LineFn = std::function<bool(std::string_view line)>;
  // GET a streaming response (a watch) and hand each newline-terminated line to `on_line` as soon
  // as its bytes arrive, rather than after the body ends. Returns the status once the stream ends
  // cleanly or `on_line` stops it; a connection lost mid-stream is an error (lines delivered
  // before it stand; a trailing partial line is discarded).
  Result<Response> Stream(const std::string& path_and_query, const LineFn& on_line,
                          const pplx::cancellation_token& cancel);

  // Percent-encodes a query parameter value (label and field selectors contain '=' and '!').
  static std::string QueryEscape(std::string_view value);

 private:
  ApiClient(const ClientConfig& config, Options options);
  Result<web::http::http_request> NewRequest(const std::string& path_and_query);

  BearerTokenSource token_;
  std::unique_ptr<web::http::client::http_client> get_client_;
  std::unique_ptr<web::http::client::http_client> stream_client_;
};

}  // namespace kpx
