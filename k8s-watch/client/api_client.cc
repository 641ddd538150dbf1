#include "k8s-watch/client/api_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "k8s-watch/client/line_splitter.h"

namespace kpx {

namespace {

// A non-200 answer's body is only for the log line: keep its start.
constexpr size_t kMaxErrorBody = 64 * 1024;

struct EasyFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct MultiFree {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlFree {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string UrlPart(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr buf;
  return inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

// Sockets are close-on-exec so that child processes (iptables-restore, ipset, ...) never inherit
// a connection to the API server.
curl_socket_t OpenSocket(void*, curlsocktype, curl_sockaddr* address) {
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

}  // namespace

// The state of one transfer, shared with curl's callbacks.
struct ApiClient::Transfer {
  const ApiClient* client = nullptr;
  CURL* easy = nullptr;
  // Stream: lines go to on_line while the status is 200; otherwise (and for Get) the body is
  // collected.
  const LineFn* on_line = nullptr;
  // GetStreamed: the body of a 200 answer goes to on_body.
  const BodyFn* on_body = nullptr;
  const std::function<void(size_t)>* on_dropped = nullptr;
  const std::function<void()>* on_open = nullptr;

  // The empty line that ends the headers: a 200 stream is open.
  static size_t OnHeader(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const size_t n = size * count;
    if (t->on_open != nullptr && *t->on_open && (n == 2 || n == 1) &&
        (data[0] == '\r' || data[0] == '\n')) {
      long code = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
      if (code == 200) (*t->on_open)();
    }
    return n;
  }
  std::unique_ptr<LineSplitter> splitter;
  bool stopped = false;
  Response response;

  static size_t OnData(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const size_t n = size * count;
    if (t->response.status == 0) {
      long code = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
      t->response.status = static_cast<int>(code);
    }
    if (t->on_line != nullptr && t->response.status == 200) {
      const size_t dropped = t->splitter->dropped_lines();
      const bool go_on = t->splitter->Feed(std::string_view(data, n), *t->on_line);
      if (t->splitter->dropped_lines() != dropped && t->on_dropped != nullptr && *t->on_dropped) {
        (*t->on_dropped)(t->client->options_.max_watch_line);
      }
      if (!go_on) {
        t->stopped = true;
        return 0;  // ends the transfer (CURLE_WRITE_ERROR)
      }
      return n;
    }
    if (t->on_body != nullptr && t->response.status == 200) {
      if (!(*t->on_body)(std::string_view(data, n))) {
        t->stopped = true;
        return 0;  // ends the transfer (CURLE_WRITE_ERROR)
      }
      return n;
    }
    if (t->on_line != nullptr || t->on_body != nullptr) {
      t->response.body.append(
          data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, t->response.body.size())));
      return n;
    }
    if (t->response.body.size() + n > t->client->options_.max_response_bytes) {
      t->response.too_large = true;
      t->response.body.clear();
      t->response.body.shrink_to_fit();
      return 0;
    }
    t->response.body.append(data, n);
    return n;
  }

  // Verification of the server's name by OpenSSL, SANs only (Go's rule since 1.15): curl's own
  // check falls back to the Common Name for certificates without SANs.
  static CURLcode OnSslContext(CURL*, void* ssl_ctx, void* self) {
    auto* t = static_cast<Transfer*>(self);
    auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
    if (!t->client->tls_.Install(ctx)) return CURLE_SSL_CERTPROBLEM;
    if (t->client->config_.insecure_skip_tls_verify) return CURLE_OK;
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(
        param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const std::string& host = t->client->verify_host_;
    const int ok = IsIpLiteral(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                                     : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    return ok == 1 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
  }

  static int OnSocket(void* self, curl_socket_t fd, curlsocktype) {
    auto* t = static_cast<Transfer*>(self);
    const ApiClient::Options& o = t->client->options_;
    // Three unanswered keepalive probes end the connection; data left unacknowledged for as long
    // does too (keepalive does not run while data is in flight).
    const int count = 3;
    const unsigned user_timeout_ms =
        static_cast<unsigned>((o.keepalive_idle + count * o.keepalive_interval).count() * 1000);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
    return CURL_SOCKOPT_OK;
  }
};

Result<std::unique_ptr<ApiClient>> ApiClient::Create(const ClientConfig& config, Options options) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (config.server.empty()) return Status::Error(config.origin + ": no server address");
  Result<TlsMaterial> tls = TlsMaterial::FromConfig(config);
  if (!tls.ok()) return tls.status();
  std::unique_ptr<CURLU, UrlFree> url(curl_url());
  if (curl_url_set(url.get(), CURLUPART_URL, config.server.c_str(), 0) != CURLUE_OK) {
    return Status::Error(config.origin + ": server \"" + config.server + "\" is not a URL");
  }
  const std::string scheme = UrlPart(url.get(), CURLUPART_SCHEME);
  if (scheme != "https" && scheme != "http") {
    return Status::Error(config.origin + ": server \"" + config.server +
                         "\": scheme must be https or http");
  }
  const std::string host = UrlPart(url.get(), CURLUPART_HOST);  // IPv6 in brackets
  const std::string port = UrlPart(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  std::unique_ptr<ApiClient> client(new ApiClient(config, std::move(*tls), options));
  std::string bare_host = host;
  if (bare_host.size() > 2 && bare_host.front() == '[') {
    bare_host = bare_host.substr(1, bare_host.size() - 2);
    if (const size_t zone = bare_host.find('%'); zone != std::string::npos) bare_host.resize(zone);
  }
  client->verify_host_ = bare_host;
  client->base_url_ = scheme + "://" + host + ":" + port;
  if (!config.tls_server_name.empty()) {
    // Requests are addressed to the name (so curl sends it as SNI and checks it), and connect-to
    // sends them to the configured address.
    if (config.tls_server_name.find_first_of(":/[]@ ") != std::string::npos) {
      return Status::Error(config.origin + ": tls-server-name \"" + config.tls_server_name +
                           "\" is not a host name");
    }
    client->verify_host_ = config.tls_server_name;
    client->base_url_ = scheme + "://" + config.tls_server_name + ":" + port;
    client->connect_to_ = config.tls_server_name + ":" + port + ":" + host + ":" + port;
  }
  return client;
}

ApiClient::ApiClient(const ClientConfig& config, TlsMaterial tls, Options options)
    : config_(config),
      tls_(std::move(tls)),
      options_(options),
      token_(config.token, config.token_file) {}

ApiClient::~ApiClient() = default;

Status ApiClient::Perform(const std::string& path_and_query, bool stream, Transfer& transfer,
                          std::stop_token cancel) {
  // Read per request so a rotated token file takes effect on the next list or watch.
  Result<std::string> token = token_.Get();
  if (!token.ok()) return token.status();
  std::unique_ptr<CURL, EasyFree> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiFree> multi(curl_multi_init());
  if (!easy || !multi) return Status::Error("libcurl: out of memory");
  CURL* e = easy.get();
  transfer.client = this;
  transfer.easy = e;

  curl_slist* raw_headers = curl_slist_append(nullptr, "Accept: application/json");
  raw_headers = curl_slist_append(raw_headers, (std::string("User-Agent: ") + kUserAgent).c_str());
  if (!token->empty()) {
    raw_headers = curl_slist_append(raw_headers, ("Authorization: Bearer " + *token).c_str());
  }
  std::unique_ptr<curl_slist, SlistFree> headers(raw_headers);
  std::unique_ptr<curl_slist, SlistFree> connect_to(
      connect_to_.empty() ? nullptr : curl_slist_append(nullptr, connect_to_.c_str()));

  char error[CURL_ERROR_SIZE] = "";
  const std::string url = base_url_ + path_and_query;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnData);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
  curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, &Transfer::OnSocket);
  curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, static_cast<long>(options_.keepalive_idle.count()));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL,
                   static_cast<long>(options_.keepalive_interval.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
                   static_cast<long>(std::min<int64_t>(30, options_.request_timeout.count())));
  if (stream) {
    // Less than one byte a second for the whole idle limit: the watch is dead.
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.stream_idle_timeout.count()));
  } else {
    curl_easy_setopt(e, CURLOPT_TIMEOUT, static_cast<long>(options_.request_timeout.count()));
  }
  if (connect_to) curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to.get());
  if (!config_.proxy_url.empty()) curl_easy_setopt(e, CURLOPT_PROXY, config_.proxy_url.c_str());
  const long verify = config_.insecure_skip_tls_verify ? 0L : 1L;
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify * 2);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, &Transfer::OnSslContext);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, &transfer);

  // The multi interface so that a stop request interrupts the wait at once (a watch may be idle
  // for minutes): the callback wakes curl_multi_poll, which then sees the request.
  curl_multi_add_handle(multi.get(), e);
  std::stop_callback wake(cancel, [m = multi.get()] { curl_multi_wakeup(m); });
  int running = 1;
  bool cancelled = false;
  while (running > 0) {
    if (const CURLMcode mc = curl_multi_perform(multi.get(), &running); mc != CURLM_OK) {
      curl_multi_remove_handle(multi.get(), e);
      return Status::Error(curl_multi_strerror(mc));
    }
    if (running == 0) break;
    if (cancel.stop_requested()) {
      cancelled = true;
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, 1000, nullptr);
  }
  CURLcode result = CURLE_OK;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == e) result = msg->data.result;
  }
  curl_multi_remove_handle(multi.get(), e);
  if (cancelled) return Status::Error("cancelled");
  if (transfer.stopped) return Status::Ok();
  if (transfer.response.too_large) return Status::Ok();
  if (result != CURLE_OK) {
    std::string cause = error[0] != '\0' ? error : curl_easy_strerror(result);
    // OpenSSL's own reason (e.g. "hostname mismatch") says more than curl's summary.
    long verify_result = 0;
    if (curl_easy_getinfo(e, CURLINFO_SSL_VERIFYRESULT, &verify_result) == CURLE_OK &&
        verify_result != X509_V_OK && cause.find("certificate") == std::string::npos) {
      cause += std::string(" (certificate: ") + X509_verify_cert_error_string(verify_result) + ")";
    }
    return Status::Error(cause);
  }
  if (transfer.response.status == 0) {
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    transfer.response.status = static_cast<int>(code);
  }
  return Status::Ok();
}

Result<ApiClient::Response> ApiClient::Get(const std::string& path_and_query,
                                           std::stop_token cancel) {
  Transfer transfer;
  if (Status st = Perform(path_and_query, false, transfer, cancel); !st.ok()) {
    return Status::Error("GET " + path_and_query + ": " + st.message());
  }
  return std::move(transfer.response);
}

Result<ApiClient::Response> ApiClient::GetStreamed(const std::string& path_and_query,
                                                   const BodyFn& on_body, std::stop_token cancel) {
  Transfer transfer;
  transfer.on_body = &on_body;
  if (Status st = Perform(path_and_query, false, transfer, cancel); !st.ok()) {
    return Status::Error("GET " + path_and_query + ": " + st.message());
  }
  return std::move(transfer.response);
}

Result<ApiClient::Response> ApiClient::Stream(const std::string& path_and_query,
                                              const LineFn& on_line, std::stop_token cancel,
                                              const std::function<void(size_t)>& on_dropped,
                                              const std::function<void()>& on_open) {
  Transfer transfer;
  transfer.on_line = &on_line;
  transfer.on_dropped = &on_dropped;
  transfer.on_open = &on_open;
  transfer.splitter = std::make_unique<LineSplitter>(options_.max_watch_line);
  if (Status st = Perform(path_and_query, true, transfer, cancel); !st.ok()) {
    return Status::Error("watch " + path_and_query + ": " + st.message());
  }
  // A clean end (the final zero-length chunk): a last line without its newline still counts.
  if (!transfer.stopped && transfer.response.status == 200 &&
      !transfer.splitter->pending().empty()) {
    on_line(transfer.splitter->pending());
  }
  return std::move(transfer.response);
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
