#include "tests/k8s-watch/client/fake_api_server.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "k8s-watch/client/base64.h"

namespace kpx::testing {

namespace {

constexpr size_t kMaxHeader = 64 * 1024;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      out[PercentDecode(pair)] = "";
    } else {
      out[PercentDecode(pair.substr(0, eq))] = PercentDecode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return out;
}

std::string StatusJson(int code, const std::string& reason, const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
         message + R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

const char* ReasonPhrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

std::string Chunk(const std::string& data) {
  char size[32];
  snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

int AcceptAnyCertificate(int, X509_STORE_CTX*) {
  // Verification results are checked per request, so that a bad client certificate yields the
  // API server's 401 rather than a failed handshake.
  return 1;
}

std::string CommonName(X509* cert) {
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  return cn;
}

const char* kResourceNames[] = {"services", "endpointslices", "nodes"};

}  // namespace

FakeApiServer::FakeApiServer(const TestPki& pki) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  CHECK(ctx_ != nullptr);
  auto read_cert = [](const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    CHECK(x != nullptr);
    return x;
  };
  X509* cert = read_cert(pki.server_cert_pem);
  CHECK_EQ(SSL_CTX_use_certificate(ctx_, cert), 1);
  X509_free(cert);
  BIO* bio =
      BIO_new_mem_buf(pki.server_key_pem.data(), static_cast<int>(pki.server_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  CHECK_EQ(SSL_CTX_use_PrivateKey(ctx_, key), 1);
  EVP_PKEY_free(key);
  X509* ca = read_cert(pki.ca_pem);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
  SSL_CTX_add_client_CA(ctx_, ca);
  X509_free(ca);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, AcceptAnyCertificate);
}

FakeApiServer::~FakeApiServer() {
  Stop();
  SSL_CTX_free(ctx_);
}

void FakeApiServer::Start(int port, const std::string& host) {
  CHECK_EQ(listen_fd_, -1) << "already started";
  // OpenSSL writes to its socket with write(2): a client that hung up would kill the test with
  // SIGPIPE instead of failing the write.
  signal(SIGPIPE, SIG_IGN);
  if (!host.empty()) host_ = host;
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host_.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else {
    CHECK_EQ(inet_pton(AF_INET6, host_.c_str(), &v6->sin6_addr), 1) << "not an address: " << host_;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  }
  listen_fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_GE(listen_fd_, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  CHECK_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len), 0)
      << "bind " << host_ << ":" << port << ": " << std::strerror(errno);
  CHECK_EQ(listen(listen_fd_, 64), 0);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
  stopping_ = false;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

void FakeApiServer::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  cv_.notify_all();
  accept_thread_.join();
  close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : connection_fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(connection_threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

void FakeApiServer::ServeInChild(int ready_fd, int done_fd) {
  Start();
  const int port = port_;
  if (write(ready_fd, &port, sizeof(port)) != sizeof(port)) _exit(2);
  char c;
  while (read(done_fd, &c, 1) > 0) {
  }
  Stop();
  _exit(0);
}

void FakeApiServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard<std::mutex> lock(mu_);
    connection_fds_.insert(fd);
    connection_threads_.emplace_back([this, fd] { ServeConnection(fd); });
  }
}

void FakeApiServer::ServeConnection(int fd) {
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    std::string buffer;
    char chunk[16 * 1024];
    bool open = true;
    while (open && !stopping_) {
      const size_t end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::string head = buffer.substr(0, end);
        buffer.erase(0, end + 4);
        open = HandleRequest(ssl, head);
        continue;
      }
      if (buffer.size() > kMaxHeader) break;
      const int n = SSL_read(ssl, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  {
    std::lock_guard<std::mutex> lock(mu_);
    connection_fds_.erase(fd);
  }
  close(fd);
}

bool FakeApiServer::WriteAll(SSL* ssl, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const int n = SSL_write(ssl, data.data() + done, static_cast<int>(data.size() - done));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool FakeApiServer::WriteResponse(SSL* ssl, int code, const std::string& body) {
  std::string head = "HTTP/1.1 " + std::to_string(code) + " " + ReasonPhrase(code) +
                     "\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  // Separately: a list body may be hundreds of MiB, not worth copying.
  return WriteAll(ssl, head) && WriteAll(ssl, body);
}

std::string FakeApiServer::Authenticate(SSL* ssl, const std::string& authorization) const {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) return CommonName(peer);
  if (authorization.starts_with("Bearer ")) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(authorization.substr(7));
    if (it != tokens_.end()) return it->second;
  }
  return std::string();
}

bool FakeApiServer::HandleRequest(SSL* ssl, const std::string& head) {
  Request req;
  std::map<std::string, std::string> headers;
  size_t line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    const std::string line = head.substr(pos, next - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers[Lower(line.substr(0, colon))] = value;
    }
    pos = next + 2;
  }
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return false;
  const std::string method = request_line.substr(0, sp1);
  const std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = ParseQuery(target.substr(q + 1));
  req.authorization = headers["authorization"];
  req.user_agent = headers["user-agent"];
  req.accept = headers["accept"];
  req.user = Authenticate(ssl, req.authorization);

  int resource = -1;
  if (req.path == "/api/v1/services") resource = 0;
  if (req.path == "/apis/discovery.k8s.io/v1/endpointslices") resource = 1;
  if (req.path == "/api/v1/nodes") resource = 2;

  int code = 200;
  std::string body;
  bool forbidden;
  int fail_all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    forbidden = forbidden_.contains(req.user);
    fail_all = fail_all_status_;
  }
  if (fail_all != 0) {
    code = fail_all;
    body = StatusJson(code, code == 503 ? "ServiceUnavailable" : "InternalError",
                      "injected failure: every request is answered " + std::to_string(code));
  } else if (req.user.empty()) {
    code = 401;
    body = StatusJson(401, "Unauthorized", "Unauthorized");
  } else if (forbidden) {
    code = 403;
    body = StatusJson(403, "Forbidden",
                      std::string(resource >= 0 ? kResourceNames[resource] : "resource") +
                          " is forbidden: User \\\"" + req.user +
                          "\\\" cannot list resource at the cluster scope");
  } else if (method != "GET" || resource < 0) {
    code = 404;
    body = StatusJson(404, "NotFound", "the server could not find the requested resource");
  }
  req.status = code;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(req);
  }
  if (code != 200) return WriteResponse(ssl, code, body);
  const Resource r = static_cast<Resource>(resource);
  const std::string watch = req.query.contains("watch") ? req.query.at("watch") : "";
  if (watch == "true" || watch == "1") return ServeWatch(ssl, r, req);
  return ServeList(ssl, r, req);
}

bool FakeApiServer::Matches(const std::map<std::string, std::string>& query,
                            const std::string& name,
                            const std::map<std::string, std::string>& labels) {
  auto field = query.find("fieldSelector");
  if (field != query.end() && !field->second.empty()) {
    const std::string prefix = "metadata.name=";
    if (!field->second.starts_with(prefix)) return false;
    if (field->second.substr(prefix.size()) != name) return false;
  }
  auto selector = query.find("labelSelector");
  if (selector == query.end()) return true;
  // Only the forms kube-proxy uses: "!key", "key", "key=value", comma-separated.
  size_t start = 0;
  const std::string& s = selector->second;
  while (start < s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    const std::string term = s.substr(start, end - start);
    start = end + 1;
    if (term.empty()) continue;
    if (term[0] == '!') {
      if (labels.contains(term.substr(1))) return false;
      continue;
    }
    const size_t eq = term.find('=');
    if (eq == std::string::npos) {
      if (!labels.contains(term)) return false;
      continue;
    }
    auto it = labels.find(term.substr(0, eq));
    if (it == labels.end() || it->second != term.substr(eq + 1)) return false;
  }
  return true;
}

std::string FakeApiServer::TypeMeta(Resource r) {
  switch (r) {
    case Resource::kServices:
      return R"({"kind":"Service","apiVersion":"v1",)";
    case Resource::kEndpointSlices:
      return R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1",)";
    case Resource::kNodes:
      return R"({"kind":"Node","apiVersion":"v1",)";
  }
  return "{";
}

std::string FakeApiServer::ListKind(Resource r) {
  switch (r) {
    case Resource::kServices:
      return R"("kind":"ServiceList","apiVersion":"v1")";
    case Resource::kEndpointSlices:
      return R"("kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1")";
    case Resource::kNodes:
      return R"("kind":"NodeList","apiVersion":"v1")";
  }
  return "";
}

bool FakeApiServer::ServeList(SSL* ssl, Resource r, const Request& req) {
  size_t limit = 0;
  if (auto it = req.query.find("limit"); it != req.query.end()) limit = std::stoul(it->second);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ignore_limit_) limit = 0;
  }
  std::string continue_token;
  if (auto it = req.query.find("continue"); it != req.query.end()) continue_token = it->second;

  Snapshot snapshot;
  size_t offset = 0;
  std::string snapshot_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ResourceState& state = state_[static_cast<int>(r)];
    ++state.lists;
    if (!continue_token.empty()) {
      // Our tokens read "<snapshot id>:<offset>", base64-encoded like the real (opaque) ones.
      std::optional<std::string> decoded = Base64::Decode(continue_token);
      const size_t colon = decoded ? decoded->find(':') : std::string::npos;
      auto it = colon == std::string::npos ? snapshots_.end()
                                           : snapshots_.find(decoded->substr(0, colon));
      if (it == snapshots_.end() || it->second.resource_version < oldest_watchable_) {
        if (it != snapshots_.end()) snapshots_.erase(it);
        return WriteResponse(
            ssl, 410,
            StatusJson(410, "Expired",
                       "The provided continue parameter is too old to display a consistent list "
                       "result. Start a new list without the continue parameter."));
      }
      snapshot_id = it->first;
      offset = std::stoul(decoded->substr(colon + 1));
      snapshot = it->second;
    } else {
      snapshot.resource_version = resource_version_;
      for (const auto& [key, stored] : state.objects) {
        if (Matches(req.query, stored.object.name, stored.object.labels)) {
          snapshot.items.push_back(state.rendered.at(key));
        }
      }
      if (limit > 0 && snapshot.items.size() > limit) {
        snapshot_id = std::to_string(next_snapshot_++);
        snapshots_[snapshot_id] = snapshot;
      }
    }
  }
  const size_t end =
      limit == 0 ? snapshot.items.size() : std::min(snapshot.items.size(), offset + limit);
  std::string body = "{" + ListKind(r) + R"(,"metadata":{"resourceVersion":")" +
                     std::to_string(snapshot.resource_version) + "\"";
  if (end < snapshot.items.size()) {
    body += R"(,"continue":")" + Base64::Encode(snapshot_id + ":" + std::to_string(end)) +
            R"(","remainingItemCount":)" + std::to_string(snapshot.items.size() - end);
  } else if (!snapshot_id.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.erase(snapshot_id);
  }
  body += R"(},"items":[)";
  for (size_t i = offset; i < end; ++i) {
    if (i > offset) body += ",";
    body += *snapshot.items[i];
  }
  body += "]}";
  return WriteResponse(ssl, 200, body);
}

bool FakeApiServer::ServeWatch(SSL* ssl, Resource r, const Request& req) {
  const std::string rv_text =
      req.query.contains("resourceVersion") ? req.query.at("resourceVersion") : "";
  const uint64_t start_rv = rv_text.empty() ? 0 : std::stoull(rv_text);
  int64_t timeout_seconds = 1800;
  if (auto it = req.query.find("timeoutSeconds"); it != req.query.end()) {
    timeout_seconds = std::stoll(it->second);
  }
  const bool bookmarks =
      req.query.contains("allowWatchBookmarks") && req.query.at("allowWatchBookmarks") == "true";
  const std::string headers =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-cache, "
      "private\r\nTransfer-Encoding: chunked\r\n\r\n";
  const int index = static_cast<int>(r);

  std::unique_lock<std::mutex> lock(mu_);
  ResourceState& state = state_[index];
  ++state.watches;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::min<std::chrono::milliseconds>(std::chrono::seconds(timeout_seconds),
                                                            max_watch_duration_);
  auto too_old = [&] {
    const std::string message = "too old resource version: " + std::to_string(start_rv) + " (" +
                                std::to_string(oldest_watchable_) + ")";
    return StatusJson(410, "Expired", message);
  };
  if (watches_gone_ || (start_rv != 0 && start_rv < oldest_watchable_)) {
    ++watches_gone_count_;
    const std::string status = too_old();
    if (gone_as_http_status_) {
      lock.unlock();
      return WriteResponse(ssl, 410, status);
    }
    lock.unlock();
    return WriteAll(ssl,
                    headers + Chunk(R"({"type":"ERROR","object":)" + status + "}\n") + "0\r\n\r\n");
  }
  ++state.open_watches;
  cv_.notify_all();
  const uint64_t start_seq = state.next_seq;
  uint64_t next = state.next_seq;
  for (const Event& e : state.log) {
    if (e.resource_version > start_rv && e.type != "RAW" && e.type != "BOOKMARK") {
      next = e.seq;
      break;
    }
  }
  const int end_generation = state.end_generation;
  const int drop_generation = state.drop_generation;
  const int gone_generation = gone_generation_;
  std::vector<std::string> initial;
  if (start_rv == 0) {
    // "Start from now" also replays the current objects as ADDED, as the API server does.
    for (const auto& [key, stored] : state.objects) {
      if (Matches(req.query, stored.object.name, stored.object.labels)) {
        initial.push_back(R"({"type":"ADDED","object":)" + TypeMeta(r) +
                          state.rendered.at(key)->substr(1) + "}\n");
      }
    }
  }
  lock.unlock();

  bool keep_alive = WriteAll(ssl, headers);
  for (const std::string& line : initial) keep_alive = keep_alive && WriteAll(ssl, Chunk(line));
  while (keep_alive) {
    std::vector<std::string> lines;
    bool drop = false;
    lock.lock();
    const bool woke = cv_.wait_until(lock, deadline, [&] {
      // A pending drop waits for the next event, so that event is the one cut in half.
      return stopping_.load() || state.next_seq > next || state.end_generation != end_generation ||
             gone_generation_ != gone_generation;
    });
    if (stopping_) {
      keep_alive = false;
      lock.unlock();
      break;
    }
    // Events already queued go out before an end or timeout takes effect.
    const bool gone = gone_generation_ != gone_generation;
    const bool ending = !woke || gone || state.end_generation != end_generation;
    drop = state.drop_generation != drop_generation;
    if (!state.log.empty() && next < state.log.front().seq) {
      // History this watcher still needed was compacted away under it.
      lines.push_back(R"({"type":"ERROR","object":)" + too_old() + "}\n");
      next = state.next_seq;
      ++watches_gone_count_;
    }
    const size_t first = state.log.empty() || next < state.log.front().seq
                             ? 0
                             : static_cast<size_t>(next - state.log.front().seq);
    for (size_t i = first; i < state.log.size(); ++i) {
      const Event& e = state.log[i];
      if (e.type == "RAW") {
        if (e.seq >= start_seq) lines.push_back(*e.object + "\n");
        continue;
      }
      if (e.type == "BOOKMARK") {
        if (e.seq >= start_seq && bookmarks) {
          lines.push_back(R"({"type":"BOOKMARK","object":)" + TypeMeta(r) +
                          R"("metadata":{"resourceVersion":")" +
                          std::to_string(e.resource_version) + "\"}}}\n");
        }
        continue;
      }
      const bool now = Matches(req.query, e.name, e.labels);
      const bool before = e.type == "MODIFIED" ? Matches(req.query, e.name, e.old_labels) : now;
      std::string type = e.type;
      if (e.type == "MODIFIED" && now != before) type = now ? "ADDED" : "DELETED";
      if (!now && !before) continue;
      if (e.type == "ADDED" && !now) continue;
      lines.push_back(R"({"type":")" + type + R"(","object":)" + *e.object + "}\n");
    }
    next = state.next_seq;
    // SetWatchesGone: the history this watch resumes from is declared gone after what it had.
    if (gone) {
      lines.push_back(R"({"type":"ERROR","object":)" + too_old() + "}\n");
      ++watches_gone_count_;
    }
    if (drop && !lines.empty()) ++watches_cut_;
    lock.unlock();
    for (size_t i = 0; i < lines.size() && keep_alive; ++i) {
      if (drop) {
        // Announce the whole chunk, send half of it, and vanish.
        const std::string chunk = Chunk(lines[i]);
        WriteAll(ssl, chunk.substr(0, chunk.size() / 2));
        keep_alive = false;
        break;
      }
      keep_alive = WriteAll(ssl, Chunk(lines[i]));
    }
    if (drop && !lines.empty()) break;
    if (ending) {
      keep_alive = keep_alive && WriteAll(ssl, "0\r\n\r\n");
      break;
    }
  }
  lock.lock();
  --state.open_watches;
  lock.unlock();
  cv_.notify_all();
  return keep_alive;
}

void FakeApiServer::SetTokens(std::map<std::string, std::string> token_to_user) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::move(token_to_user);
}

void FakeApiServer::Forbid(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  forbidden_.insert(user);
}

void FakeApiServer::AppendLocked(Resource r, Event e) {
  ResourceState& state = state_[static_cast<int>(r)];
  e.seq = state.next_seq++;
  state.log.push_back(std::move(e));
  cv_.notify_all();
}

uint64_t FakeApiServer::PutLocked(Resource r, Object object) {
  ResourceState& state = state_[static_cast<int>(r)];
  const std::string key =
      object.namespace_.empty() ? object.name : object.namespace_ + "/" + object.name;
  const uint64_t rv = ++resource_version_;
  const std::string rendered = object.render(rv);
  Event e;
  e.resource_version = rv;
  e.name = object.name;
  e.labels = object.labels;
  auto existing = state.objects.find(key);
  if (existing != state.objects.end()) {
    e.type = "MODIFIED";
    e.old_labels = existing->second.object.labels;
  } else {
    e.type = "ADDED";
  }
  e.object = std::make_shared<const std::string>(TypeMeta(r) + rendered.substr(1));
  state.rendered[key] = std::make_shared<const std::string>(rendered);
  state.objects[key] = Stored{std::move(object), rv};
  AppendLocked(r, std::move(e));
  return rv;
}

uint64_t FakeApiServer::Put(Resource r, Object object) {
  std::lock_guard<std::mutex> lock(mu_);
  return PutLocked(r, std::move(object));
}

uint64_t FakeApiServer::DeleteLocked(Resource r, const std::string& key) {
  ResourceState& state = state_[static_cast<int>(r)];
  auto it = state.objects.find(key);
  CHECK(it != state.objects.end()) << "deleting unknown " << key;
  const uint64_t rv = ++resource_version_;
  Event e;
  e.type = "DELETED";
  e.resource_version = rv;
  e.name = it->second.object.name;
  e.labels = it->second.object.labels;
  e.object =
      std::make_shared<const std::string>(TypeMeta(r) + it->second.object.render(rv).substr(1));
  state.objects.erase(it);
  state.rendered.erase(key);
  AppendLocked(r, std::move(e));
  return rv;
}

uint64_t FakeApiServer::Delete(Resource r, const std::string& namespace_, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  return DeleteLocked(r, namespace_.empty() ? name : namespace_ + "/" + name);
}

uint64_t FakeApiServer::resource_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

size_t FakeApiServer::object_count(Resource r) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_[static_cast<int>(r)].objects.size();
}

void FakeApiServer::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  oldest_watchable_ = resource_version_;
  for (ResourceState& state : state_) state.log.clear();
}

void FakeApiServer::AdvanceResourceVersion(uint64_t by) {
  std::lock_guard<std::mutex> lock(mu_);
  resource_version_ += by;
}

void FakeApiServer::Bookmark(Resource r) {
  std::lock_guard<std::mutex> lock(mu_);
  Event e;
  e.type = "BOOKMARK";
  e.resource_version = resource_version_;
  AppendLocked(r, std::move(e));
}

void FakeApiServer::InjectRawEvent(Resource r, const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  Event e;
  e.type = "RAW";
  e.resource_version = resource_version_;
  e.object = std::make_shared<const std::string>(line);
  AppendLocked(r, std::move(e));
}

void FakeApiServer::SetIgnoreLimit(bool ignore) {
  std::lock_guard<std::mutex> lock(mu_);
  ignore_limit_ = ignore;
}

void FakeApiServer::SetGoneAsHttpStatus(bool http_status) {
  std::lock_guard<std::mutex> lock(mu_);
  gone_as_http_status_ = http_status;
}

void FakeApiServer::EndWatches(Resource r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++state_[static_cast<int>(r)].end_generation;
  cv_.notify_all();
}

void FakeApiServer::DropWatchesMidEvent(Resource r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++state_[static_cast<int>(r)].drop_generation;
}

void FakeApiServer::SetMaxWatchDuration(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  max_watch_duration_ = d;
}

void FakeApiServer::SetFailAllRequests(int code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_all_status_ = code;
}

void FakeApiServer::SetWatchesGone(bool gone) {
  std::lock_guard<std::mutex> lock(mu_);
  if (gone && !watches_gone_) ++gone_generation_;
  watches_gone_ = gone;
  cv_.notify_all();
}

bool FakeApiServer::Contains(Resource r, const std::string& namespace_,
                             const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_[static_cast<int>(r)].objects.contains(namespace_.empty() ? name
                                                                         : namespace_ + "/" + name);
}

std::vector<FakeApiServer::Request> FakeApiServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int FakeApiServer::list_requests(Resource r) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_[static_cast<int>(r)].lists;
}

int FakeApiServer::watch_requests(Resource r) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_[static_cast<int>(r)].watches;
}

int FakeApiServer::open_watches(Resource r) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_[static_cast<int>(r)].open_watches;
}

int FakeApiServer::watches_cut() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watches_cut_;
}

int FakeApiServer::watches_gone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watches_gone_count_;
}

bool FakeApiServer::WaitForOpenWatches(Resource r, int n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return state_[static_cast<int>(r)].open_watches >= n; });
}

}  // namespace kpx::testing
