#include "k8s-watch/client/api_client.h"

#include <glog/logging.h>

#include <algorithm>
#include <exception>
#include <vector>

#include "k8s-watch/client/line_splitter.h"
#include "k8s-watch/client/tls_material.h"

namespace kpx {

namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::client::http_client;
using web::http::client::http_client_config;

http_client_config MakeConfig(const ClientConfig& config, const TlsMaterial& tls,
                              std::chrono::seconds timeout) {
  http_client_config c;
  c.set_timeout(timeout);
  c.set_validate_certificates(!config.insecure_skip_tls_verify);
  c.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { tls.Install(ctx); });
  return c;
}

// The message of whatever a pplx task threw, for log lines and Status.
std::string CurrentExceptionMessage() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

Result<std::unique_ptr<ApiClient>> ApiClient::Create(const ClientConfig& config, Options options) {
  if (config.server.empty()) return Status::Error(config.origin + ": no server address");
  Result<TlsMaterial> tls = TlsMaterial::FromConfig(config);
  if (!tls.ok()) return tls.status();
  std::unique_ptr<ApiClient> client(new ApiClient(config, options));
  try {
    const web::uri base(config.server);
    client->get_client_ =
        std::make_unique<http_client>(base, MakeConfig(config, *tls, options.request_timeout));
    client->stream_client_ =
        std::make_unique<http_client>(base, MakeConfig(config, *tls, options.stream_idle_timeout));
  } catch (...) {
    return Status::Error(config.origin + ": server \"" + config.server +
                         "\": " + CurrentExceptionMessage());
  }
  return client;
}

ApiClient::ApiClient(const ClientConfig& config, Options options)
    : token_(config.token, config.token_file) {}

ApiClient::~ApiClient() = default;

Result<http_request> ApiClient::NewRequest(const std::string& path_and_query) {
  http_request request(web::http::methods::GET);
  request.set_request_uri(web::uri(path_and_query));
  request.headers().add("Accept", "application/json");
  request.headers().add("User-Agent", kUserAgent);
  // Read per request so a rotated token file takes effect on the next list or watch.
  Result<std::string> token = token_.Get();
  if (!token.ok()) return token.status();
  if (!token->empty()) request.headers().add("Authorization", "Bearer " + *token);
  return request;
}

Result<ApiClient::Response> ApiClient::Get(const std::string& path_and_query,
                                           const pplx::cancellation_token& cancel) {
  try {
    Result<http_request> request = NewRequest(path_and_query);
    if (!request.ok()) return request.status();
    http_response response = get_client_->request(request.value(), cancel).get();
    Response out;
    out.status = response.status_code();
    out.body = response.extract_utf8string(/*ignore_content_type=*/true).get();
    return out;
  } catch (...) {
    return Status::Error("GET " + path_and_query + ": " + CurrentExceptionMessage());
  }
}

Result<ApiClient::Response> ApiClient::Stream(const std::string& path_and_query,
                                              const LineFn& on_line,
                                              const pplx::cancellation_token& cancel) {
  // A source of our own, linked to the caller's, so that abandoning this one stream closes its
  // connection without cancelling anything else.
  pplx::cancellation_token parent = cancel;  // the pplx API wants a mutable reference
  pplx::cancellation_token_source stream_cancel =
      pplx::cancellation_token_source::create_linked_source(parent);
  try {
    Result<http_request> request = NewRequest(path_and_query);
    if (!request.ok()) return request.status();
    // Completes when the headers are in; the body keeps arriving in the background.
    http_response response =
        stream_client_->request(request.value(), stream_cancel.get_token()).get();
    Response out;
    out.status = response.status_code();
    if (out.status != web::http::status_codes::OK) {
      out.body = response.extract_utf8string(true).get();
      return out;
    }
    // The body is a producer/consumer buffer fed chunk by chunk. Its getn(n) waits until n bytes
    // are there, so ask for what is already buffered (or for one byte when nothing is, which
    // blocks until the next chunk arrives): events are handled as they come, not at stream end.
    // in_avail() only grows while we are the sole reader, so the count asked for is never more
    // than what getn finds (the buffer reads its counter without a lock; a stale, smaller value
    // only means a shorter read).
    concurrency::streams::streambuf<uint8_t> body = response.body().streambuf();
    LineSplitter splitter;
    std::vector<uint8_t> buffer(64 * 1024);
    bool stopped = false;
    while (!stopped) {
      const size_t available = static_cast<size_t>(std::max<std::streamsize>(body.in_avail(), 1));
      const size_t n = body.getn(buffer.data(), std::min(available, buffer.size())).get();
      if (n == 0) break;  // the write side closed: stream ended, or failed (checked below)
      stopped = !splitter.Feed(std::string_view(reinterpret_cast<const char*>(buffer.data()), n),
                               on_line);
    }
    if (stopped) {
      stream_cancel.cancel();
      return out;
    }
    // A clean end (final zero-length chunk) completes the response; a dropped connection or our
    // cancellation fails it. Reading alone cannot tell the two apart.
    response.content_ready().get();
    if (!splitter.pending().empty()) on_line(splitter.pending());
    return out;
  } catch (...) {
    stream_cancel.cancel();
    return Status::Error("watch " + path_and_query + ": " + CurrentExceptionMessage());
  }
}

std::string ApiClient::QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace kpx
