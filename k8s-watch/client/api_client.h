#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "base/status.h"
#include "k8s-watch/client/bearer_token_source.h"
#include "k8s-watch/client/client_config.h"
#include "k8s-watch/client/tls_material.h"

namespace kpx {

// The HTTP(S) transport to one API server, over libcurl (cpprestsdk's client cannot reach an IPv6
// literal such as https://[fd00::1]:6443, and checks server names against the Common Name).
// Adds the headers every request needs (Accept: application/json, User-Agent, Authorization from
// a rotating token) and installs the configured trust anchors and client certificate into each
// new TLS connection. The server certificate must name the server (or tls-server-name) in a
// subjectAltName, IP SANs for IP hosts, as Go checks it since 1.15; the Common Name never counts.
// TCP keepalive (and TCP_USER_TIMEOUT) notice a server host that vanished within about 30 s.
// Every socket is close-on-exec. Thread-safe: reflectors share one client and run requests
// concurrently, each on a connection of its own.
class ApiClient {
 public:
  static constexpr char kUserAgent[] = "kpx/0.1.0";

  struct Options {
    // Whole-request limit for GETs (lists).
    std::chrono::seconds request_timeout{60};
    // For streams an idle limit: a watch that delivers nothing for this long is ended. It must
    // exceed the longest server-side watch timeout, which is what normally ends a watch.
    std::chrono::seconds stream_idle_timeout{15 * 60};
    // Dead peers: keepalive probes start after this much silence, every `keepalive_interval`,
    // and the connection is dropped after three unanswered ones (or when sent data stays
    // unacknowledged for idle + 3 intervals).
    std::chrono::seconds keepalive_idle{15};
    std::chrono::seconds keepalive_interval{5};
    // A watch event (one line) longer than this is dropped whole, reported to Stream's
    // on_dropped; kube-apiserver's own limit on an object is far below it.
    size_t max_watch_line = size_t{64} << 20;
    // A Get whose body is larger is abandoned (Response::too_large) instead of growing memory
    // without bound. Lists do not buffer their body (GetStreamed), so this bounds only Get.
    size_t max_response_bytes = size_t{32} << 20;
  };

  struct Response {
    int status = 0;
    // The whole body for Get; for Stream only the body of a non-200 answer.
    std::string body;
    // Get only: the body exceeded Options::max_response_bytes and was abandoned (body empty).
    bool too_large = false;
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
  Result<Response> Get(const std::string& path_and_query, std::stop_token cancel);

  // Returns false to abandon the transfer (its connection is closed, not reused).
  using BodyFn = std::function<bool(std::string_view bytes)>;
  // GET `path_and_query` and hand the body of a 200 answer to `on_body` piece by piece as it
  // arrives; nothing of it is buffered here, so a list of any size costs only what the caller
  // keeps. Other answers' bodies (their start) are in Response::body. The whole request has
  // Options::request_timeout, as Get. Returns once the body ended or `on_body` stopped it.
  Result<Response> GetStreamed(const std::string& path_and_query, const BodyFn& on_body,
                               std::stop_token cancel);

  // Returns false to abandon the stream (its connection is closed, not reused).
  using LineFn = std::function<bool(std::string_view line)>;
  // GET a streaming response (a watch) and hand each newline-terminated line to `on_line` as soon
  // as its bytes arrive, rather than after the body ends. Returns the status once the stream ends
  // cleanly or `on_line` stops it; a connection lost mid-stream is an error (lines delivered
  // before it stand; a trailing partial line is discarded).
  // `on_dropped` (if set) is told the size of every line dropped for exceeding max_watch_line;
  // `on_open` (if set) is called once the server has answered 200 (the stream is open).
  Result<Response> Stream(const std::string& path_and_query, const LineFn& on_line,
                          std::stop_token cancel,
                          const std::function<void(size_t bytes)>& on_dropped = nullptr,
                          const std::function<void()>& on_open = nullptr);

  // Percent-encodes a query parameter value (label and field selectors contain '=' and '!').
  static std::string QueryEscape(std::string_view value);

 private:
  struct Transfer;
  ApiClient(const ClientConfig& config, TlsMaterial tls, Options options);
  // Runs one GET to completion, cancellation, or until the transfer's sink stops it.
  Status Perform(const std::string& path_and_query, bool stream, Transfer& transfer,
                 std::stop_token cancel);

  ClientConfig config_;
  TlsMaterial tls_;
  Options options_;
  BearerTokenSource token_;
  // scheme://host:port that requests go to, and (with tls-server-name) curl's connect-to entry
  // that sends them to the configured address.
  std::string base_url_;
  std::string connect_to_;
  std::string verify_host_;  // what the certificate must name, without brackets
};

}  // namespace kpx
