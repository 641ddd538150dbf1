#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/k8s-watch/client/test_pki.h"

namespace kpx::testing {

// An in-process stand-in for kube-apiserver speaking its wire protocol over HTTPS on 127.0.0.1:
// paginated LISTs (limit/continue, label and field selectors, metadata.resourceVersion), chunked
// WATCH streams (one JSON event per line, ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, resume from a
// resourceVersion, server-side timeout), 410 Gone for compacted versions, and authentication by
// bearer token or client certificate (401 for unknown credentials, 403 for forbidden users).
// Tests mutate its objects while clients watch, and inject faults: dropped connections, malformed
// events, outages and restarts with compacted history. Blocking OpenSSL sockets, one thread per
// connection; every wait is bounded, and Stop joins everything.
class FakeApiServer {
 public:
  enum class Resource { kServices = 0, kEndpointSlices = 1, kNodes = 2 };

  // An object to store: its identity and labels (for selectors) and a renderer that produces
  // its JSON for a given resourceVersion, without kind/apiVersion (list items carry none; the
  // server adds them to watch events).
  struct Object {
    std::string namespace_;
    std::string name;
    std::map<std::string, std::string> labels;
    std::function<std::string(uint64_t resource_version)> render;
  };

  struct Request {
    std::string path;
    std::map<std::string, std::string> query;  // decoded
    std::string authorization;                 // as sent (tests compare tokens, never log them)
    std::string user_agent;
    std::string accept;
    std::string user;  // authenticated identity, empty when refused
    int status = 0;
  };

  explicit FakeApiServer(const TestPki& pki);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Listens on host:port, host an IPv4 or IPv6 address (empty: the previous one, at first
  // 127.0.0.1); port 0 picks one (a restart passes the old port again).
  void Start(int port = 0, const std::string& host = "");
  // Closes the listener and every connection (watches end abruptly, like a crashed server) and
  // joins all threads. State (objects, history) survives for a later Start.
  void Stop();
  // For a server in a forked child (so the parent's memory is measured alone): starts, writes the
  // port (an int) to `ready_fd`, serves until `done_fd` reads end of file, stops and _exits.
  [[noreturn]] void ServeInChild(int ready_fd, int done_fd);
  int port() const { return port_; }
  std::string url() const {
    const std::string h = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
    return "https://" + h + ":" + std::to_string(port_);
  }

  // Credentials. Tokens map to user names; users in `forbidden` get 403.
  void SetTokens(std::map<std::string, std::string> token_to_user);
  void Forbid(const std::string& user);

  // Mutations: each takes the next resourceVersion and is recorded for watchers.
  uint64_t Put(Resource r, Object object);  // ADDED or MODIFIED
  uint64_t Delete(Resource r, const std::string& namespace_, const std::string& name);
  uint64_t resource_version() const;
  size_t object_count(Resource r) const;

  // Forgets all history: watches and continue tokens from older versions get 410 Gone.
  void Compact();
  // Jumps the resourceVersion counter forward (etcd restored elsewhere, a new cluster epoch).
  void AdvanceResourceVersion(uint64_t by);
  // Send a BOOKMARK at the current resourceVersion to watchers of `r`.
  void Bookmark(Resource r);
  // Send `line` verbatim (plus newline) as the next event to watchers of `r`.
  void InjectRawEvent(Resource r, const std::string& line);
  // Report 410 for too-old watches as the HTTP status instead of a 200 + ERROR event.
  void SetGoneAsHttpStatus(bool http_status);
  // Lists answer with every object in one page whatever `limit` asks (the field is advisory:
  // servers and proxies may ignore it).
  void SetIgnoreLimit(bool ignore);
  // Ends every open watch of `r` cleanly (final empty chunk), as the server's timeout does.
  void EndWatches(Resource r);
  // The next event to each open watch of `r` is cut half way and the connection dropped.
  void DropWatchesMidEvent(Resource r);
  // Cap on any watch's lifetime regardless of its timeoutSeconds.
  void SetMaxWatchDuration(std::chrono::milliseconds d);
  // Answers every request (before authentication) with HTTP status `code` and a Status body, as
  // an overloaded or broken API server does; 0 restores normal service. Open watches go on.
  void SetFailAllRequests(int code);
  // While on, every watch is answered 410 Gone (an ERROR event, or the HTTP status after
  // SetGoneAsHttpStatus), and turning it on ends each open watch with an ERROR 410 event after
  // the events it was already owed. Lists still succeed.
  void SetWatchesGone(bool gone);
  bool Contains(Resource r, const std::string& namespace_, const std::string& name) const;

  std::vector<Request> requests() const;
  int list_requests(Resource r) const;
  int watch_requests(Resource r) const;
  int open_watches(Resource r) const;
  // Watches cut by DropWatchesMidEvent, and watches answered 410 Gone (at once or later).
  int watches_cut() const;
  int watches_gone() const;
  // Waits (bounded) until at least `n` watches of `r` are open.
  bool WaitForOpenWatches(Resource r, int n, std::chrono::milliseconds timeout) const;

 private:
  struct Stored {
    Object object;
    uint64_t resource_version = 0;
  };
  struct Event {
    uint64_t seq = 0;
    uint64_t resource_version = 0;
    std::string type;  // ADDED MODIFIED DELETED BOOKMARK RAW
    std::string name;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> old_labels;
    std::shared_ptr<const std::string> object;  // rendered with kind and apiVersion
  };
  struct Snapshot {
    uint64_t resource_version = 0;
    std::vector<std::shared_ptr<const std::string>> items;
  };
  struct ResourceState {
    std::map<std::string, Stored> objects;  // by "namespace/name"
    std::deque<Event> log;
    std::map<std::string, std::shared_ptr<const std::string>> rendered;  // list bodies by key
    uint64_t next_seq = 1;    // sequence number of the next event in `log`
    int end_generation = 0;   // bumped by EndWatches
    int drop_generation = 0;  // bumped by DropWatchesMidEvent
    int lists = 0;
    int watches = 0;
    int open_watches = 0;
  };

  void AcceptLoop();
  void ServeConnection(int fd);
  // One request; false when the connection must close.
  bool HandleRequest(SSL* ssl, const std::string& head);
  bool ServeList(SSL* ssl, Resource r, const Request& req);
  bool ServeWatch(SSL* ssl, Resource r, const Request& req);
  uint64_t PutLocked(Resource r, Object object);
  uint64_t DeleteLocked(Resource r, const std::string& key);
  void AppendLocked(Resource r, Event e);
  static bool WriteAll(SSL* ssl, const std::string& data);
  static bool WriteResponse(SSL* ssl, int code, const std::string& body);
  std::string Authenticate(SSL* ssl, const std::string& authorization) const;

  static bool Matches(const std::map<std::string, std::string>& query, const std::string& name,
                      const std::map<std::string, std::string>& labels);
  static std::string TypeMeta(Resource r);
  static std::string ListKind(Resource r);

  SSL_CTX* ctx_ = nullptr;
  int port_ = 0;
  int listen_fd_ = -1;
  std::string host_ = "127.0.0.1";
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::thread> connection_threads_;
  std::set<int> connection_fds_;
  std::map<std::string, std::string> tokens_;
  std::set<std::string> forbidden_;
  ResourceState state_[3];
  uint64_t resource_version_ = 1000;
  uint64_t oldest_watchable_ = 0;  // watching from a version below this is 410 Gone
  std::map<std::string, Snapshot> snapshots_;
  uint64_t next_snapshot_ = 1;
  bool gone_as_http_status_ = false;
  bool ignore_limit_ = false;
  int fail_all_status_ = 0;
  bool watches_gone_ = false;
  int gone_generation_ = 0;  // bumped when watches_gone_ is turned on
  int watches_cut_ = 0;
  int watches_gone_count_ = 0;
  std::chrono::milliseconds max_watch_duration_{60000};
  std::vector<Request> requests_;
};

}  // namespace kpx::testing
