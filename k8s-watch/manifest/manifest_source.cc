#include "k8s-watch/manifest/manifest_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "k8s-watch/decode/label_filter.h"
#include "k8s-watch/manifest/manifest_parser.h"

namespace kpx {

namespace {

enum class ReadResult { kOk, kMissing, kError };

// Out of descriptors or memory: the failure passes by itself, so the scan must be retried.
bool Transient(int err) {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}

// Reads a regular file. O_NONBLOCK keeps a FIFO that happens to be named *.yaml from blocking the
// watcher forever; it is then refused as not a regular file.
ReadResult ReadFile(const std::string& path, std::string* content, std::string* error,
                    bool* transient) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return ReadResult::kMissing;  // removed since the directory listing
    *transient = Transient(errno);
    *error = std::string("cannot open: ") + std::strerror(errno);
    return ReadResult::kError;
  }
  struct stat st;
  ReadResult result = ReadResult::kOk;
  if (fstat(fd, &st) != 0) {
    *error = std::string("cannot stat: ") + std::strerror(errno);
    result = ReadResult::kError;
  } else if (!S_ISREG(st.st_mode)) {
    result = ReadResult::kMissing;
  } else if (static_cast<size_t>(st.st_size) > ManifestSource::kMaxFileBytes) {
    *error = "file too large (" + std::to_string(st.st_size) + " bytes)";
    result = ReadResult::kError;
  } else {
    content->clear();
    // Sized up front: appending doubles the capacity, and a 20 MiB file would briefly take 32.
    content->reserve(static_cast<size_t>(st.st_size));
    char buf[64 * 1024];
    while (true) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        *error = std::string("cannot read: ") + std::strerror(errno);
        result = ReadResult::kError;
        break;
      }
      content->append(buf, static_cast<size_t>(n));
      if (content->size() > ManifestSource::kMaxFileBytes) {
        *error = "file too large (grew while reading)";
        result = ReadResult::kError;
        break;
      }
    }
  }
  close(fd);
  return result;
}

// Sorted manifest file names, or nullopt if the directory cannot be listed right now (*transient
// when that should pass by itself).
std::optional<std::set<std::string>> ListManifests(const std::string& directory, bool* transient) {
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) {
    *transient = Transient(errno);
    PLOG(WARNING) << "manifest " << directory << ": cannot list directory; keeping current state"
                  << (*transient ? " and retrying" : "");
    return std::nullopt;
  }
  std::set<std::string> names;
  while (const dirent* entry = readdir(dir)) {
    if (ManifestParser::IsManifestName(entry->d_name)) names.insert(entry->d_name);
  }
  closedir(dir);
  return names;
}

std::string KeepNote(size_t kept) {
  if (kept == 0) return "";
  return "; keeping the " + std::to_string(kept) + " object(s) of its last good version";
}

template <typename T>
using Shared = std::shared_ptr<const T>;

std::array<unsigned char, 32> Sha256(const std::string& bytes) {
  std::array<unsigned char, 32> digest{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, EVP_sha256(), nullptr);
  return digest;
}

template <typename T>
Shared<T> FindByKey(const std::vector<Shared<T>>& objects, const std::string& key) {
  for (const Shared<T>& o : objects) {
    if (o->meta.Key() == key) return o;
  }
  return nullptr;
}

// Adds the object of `failure` from `old` to `into`, if there was one; true when it did.
template <typename T>
bool KeepOld(const DecodeFailure& failure, const std::vector<Shared<T>>& old,
             std::vector<Shared<T>>* into) {
  if (failure.key.empty()) return false;
  Shared<T> previous = FindByKey(old, failure.key);
  if (previous == nullptr || FindByKey(*into, failure.key) != nullptr) return false;
  into->push_back(std::move(previous));
  return true;
}

// Merges the objects of every file into one map; a later file replaces an earlier one's object.
// `objects_of` picks a kind's objects from a file's state.
template <typename T, typename Files, typename Pick>
std::map<std::string, Shared<T>> Merge(const Files& files, Pick objects_of, const char* kind,
                                       std::set<std::string>* duplicates) {
  std::map<std::string, Shared<T>> merged;
  std::map<std::string, std::string> origin;
  for (const auto& [file, state] : files) {
    for (const Shared<T>& o : objects_of(state)) {
      const std::string key = o->meta.Key();
      auto [it, inserted] = origin.emplace(key, file);
      if (!inserted) {
        duplicates->insert(std::string(kind) + " " + key + " is defined in " + it->second +
                           " and " + file + "; using the one in " + file);
        it->second = file;
      }
      merged.insert_or_assign(key, o);
    }
  }
  return merged;
}

// Calls the handler for every difference between what was delivered and what is desired, then
// makes `delivered` equal to `desired`. Each call is counted in *events before it is made, so a
// handler (or a test waiting on one) never sees a counter that lags behind. Returns the calls made.
// Objects are compared by pointer first: an object no file changed is the same one.
template <typename T, typename Add, typename Update, typename Delete>
uint64_t Reconcile(std::map<std::string, Shared<T>>* delivered,
                   std::map<std::string, Shared<T>> desired, const char* kind,
                   std::atomic<uint64_t>* events, Add add, Update update, Delete del) {
  uint64_t calls = 0;
  for (const auto& [key, old] : *delivered) {
    if (desired.contains(key)) continue;
    VLOG(4) << "manifest: " << kind << " delete " << key;
    ++*events;
    del(*old);
    ++calls;
  }
  for (const auto& [key, object] : desired) {
    auto it = delivered->find(key);
    if (it == delivered->end()) {
      VLOG(4) << "manifest: " << kind << " add " << key;
      ++*events;
      add(*object);
      ++calls;
    } else if (it->second != object && !(*it->second == *object)) {
      VLOG(4) << "manifest: " << kind << " update " << key;
      ++*events;
      update(*it->second, *object);
      ++calls;
    }
  }
  *delivered = std::move(desired);
  return calls;
}

}  // namespace

ManifestSource::ManifestSource(std::string directory, std::string node_name,
                               ServiceHandler* services, EndpointSliceHandler* endpoint_slices,
                               NodeHandler* node, SourceStats* stats)
    : directory_(std::move(directory)),
      node_name_(std::move(node_name)),
      service_handler_(services),
      slice_handler_(endpoint_slices),
      node_handler_(node),
      stats_(stats) {}

ManifestSource::~ManifestSource() { Stop(); }

Status ManifestSource::Start() {
  if (started_) return Status::Error("manifest source already started");
  started_ = true;
  // Watch before the first scan, so that a change racing with it triggers a rescan.
  if (Status s = watcher_.Open(directory_); !s.ok()) {
    return Status::Error("manifest source " + directory_ + ": " + s.message());
  }
  Rescan();
  if (service_handler_ != nullptr) service_handler_->OnServiceSynced();
  if (slice_handler_ != nullptr) slice_handler_->OnEndpointSliceSynced();
  if (node_handler_ != nullptr) node_handler_->OnNodeSynced();
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ManifestSource::Stop() {
  watcher_.Interrupt();
  if (thread_.joinable()) thread_.join();
}

void ManifestSource::Run() {
  while (true) {
    // A scan that failed for lack of descriptors or memory is retried: the change that triggered
    // it would otherwise wait for the next unrelated edit (issue 17).
    const auto timeout =
        retry_scan_ ? std::optional<std::chrono::milliseconds>(1000) : std::nullopt;
    switch (watcher_.Wait(timeout)) {
      case DirectoryWatcher::Event::kChanged:
      case DirectoryWatcher::Event::kTimeout:
        Rescan();
        break;
      case DirectoryWatcher::Event::kStopped:
        return;
      case DirectoryWatcher::Event::kGone:
        LOG(ERROR) << "manifest " << directory_
                   << ": directory was removed or moved; keeping the current objects and no "
                      "longer watching";
        return;
      case DirectoryWatcher::Event::kError:
        LOG(ERROR) << "manifest " << directory_ << ": watching failed; keeping the current "
                   << "objects and no longer watching";
        return;
    }
  }
}

void ManifestSource::Rescan() {
  retry_scan_ = false;
  auto names = ListManifests(directory_, &retry_scan_);
  if (!names) return;
  std::map<std::string, FileState> next;
  for (const std::string& name : *names) {
    auto it = files_.find(name);
    FileState state = it == files_.end() ? FileState() : std::move(it->second);
    if (LoadFile(name, &state)) next.emplace(name, std::move(state));
  }
  files_ = std::move(next);
  Deliver();
}

bool ManifestSource::LoadFile(const std::string& name, FileState* state) {
  const std::string path = directory_ + "/" + name;
  std::string content;
  std::string error;
  bool transient = false;
  switch (ReadFile(path, &content, &error, &transient)) {
    case ReadResult::kMissing:
      return false;
    case ReadResult::kError:
      if (transient) retry_scan_ = true;
      if (state->read_error != error) {
        LOG(WARNING) << "manifest " << path << ": skipped: " << error
                     << KeepNote(state->services.size() + state->endpoint_slices.size() +
                                 state->nodes.size());
        ++stats_->objects_rejected;
        state->read_error = error;
      }
      state->digest.reset();  // parse again once it can be read
      return true;
    case ReadResult::kOk:
      break;
  }
  state->read_error.clear();
  const Digest digest = Sha256(content);
  if (state->digest == digest) return true;
  state->digest = digest;

  DecodedObjects decoded;
  if (Status s = ManifestParser::Parse(name, content, &decoded); !s.ok()) {
    LOG(WARNING) << "manifest " << path << ": skipped: " << s.message()
                 << KeepNote(state->services.size() + state->endpoint_slices.size() +
                             state->nodes.size());
    ++stats_->objects_rejected;
    return true;
  }
  Accept(path, std::move(decoded), state);
  return true;
}

void ManifestSource::Accept(const std::string& path, DecodedObjects decoded, FileState* state) {
  std::vector<Shared<Service>> services;
  std::vector<Shared<EndpointSlice>> slices;
  std::vector<Shared<Node>> nodes;
  for (Service& svc : decoded.services) {
    // In a manifest written for the API server, spec.clusterIP is usually absent: the API server
    // allocates it. kpx has no allocator, so such a Service cannot be programmed; say so instead
    // of dropping it silently (issue: an ingress-nginx manifest lost two Services unnoticed).
    if (svc.type != ServiceType::kExternalName && !svc.headless && svc.cluster_ips.empty()) {
      LOG(WARNING) << "manifest " << path << ": service " << svc.meta.Key()
                   << " skipped: it has no spec.clusterIP (the API server assigns one; a "
                      "manifest read by kpx must give it)";
      ++stats_->objects_skipped;
      continue;
    }
    if (svc.headless || svc.type == ServiceType::kExternalName) {
      LOG(INFO) << "manifest " << path << ": service " << svc.meta.Key() << " is "
                << (svc.headless ? "headless" : "ExternalName")
                << ": no cluster IP, so no rules (as kube-proxy)";
    }
    if (LabelFilter::SkipService(svc)) {
      VLOG(2) << "manifest " << path << ": service " << svc.meta.Key()
              << " is labelled for another proxy; skipped";
      ++stats_->objects_skipped;
      continue;
    }
    services.push_back(std::make_shared<const Service>(std::move(svc)));
  }
  for (EndpointSlice& slice : decoded.endpoint_slices) {
    if (LabelFilter::SkipEndpointSlice(slice)) {
      VLOG(2) << "manifest " << path << ": endpointslice " << slice.meta.Key()
              << " is labelled headless or for another proxy; skipped";
      ++stats_->objects_skipped;
      continue;
    }
    slices.push_back(std::make_shared<const EndpointSlice>(std::move(slice)));
  }
  for (Node& node : decoded.nodes) {
    if (node.meta.name != node_name_) {
      VLOG(4) << "manifest " << path << ": node " << node.meta.name << " is not this node";
      continue;
    }
    nodes.push_back(std::make_shared<const Node>(std::move(node)));
  }
  for (const DecodeFailure& f : decoded.failures) {
    if (f.other_kind) {
      VLOG(1) << "manifest " << path << ": skipped: " << f.message;
      continue;
    }
    if (f.unsupported) {
      LOG(INFO) << "manifest " << path << ": skipped: " << f.message;
      ++stats_->objects_skipped;
      continue;
    }
    bool kept = false;
    // A rejected Service is withdrawn rather than kept at its last good version, which may be
    // less restrictive than what the file now asks for (see TypedReflectorStore).
    const bool withdrawn = f.kind == "Service" && FindByKey(state->services, f.key) != nullptr;
    if (f.kind == "EndpointSlice") kept = KeepOld(f, state->endpoint_slices, &slices);
    if (f.kind == "Node") kept = KeepOld(f, state->nodes, &nodes);
    LOG(WARNING) << "manifest " << path << ": rejected: " << f.message
                 << (kept ? "; keeping its last good version" : "")
                 << (withdrawn ? "; its last good version is withdrawn (fail closed)" : "");
    ++stats_->objects_rejected;
  }
  state->services = std::move(services);
  state->endpoint_slices = std::move(slices);
  state->nodes = std::move(nodes);
}

void ManifestSource::Deliver() {
  std::set<std::string> duplicates;
  auto desired_services = Merge<Service>(
      files_, [](const FileState& f) -> auto& { return f.services; }, "service", &duplicates);
  auto desired_slices = Merge<EndpointSlice>(
      files_, [](const FileState& f) -> auto& { return f.endpoint_slices; }, "endpointslice",
      &duplicates);
  auto desired_nodes = Merge<Node>(
      files_, [](const FileState& f) -> auto& { return f.nodes; }, "node", &duplicates);
  for (const std::string& d : duplicates) {
    if (!reported_duplicates_.contains(d)) LOG(WARNING) << "manifest " << directory_ << ": " << d;
  }
  reported_duplicates_ = std::move(duplicates);

  uint64_t calls = 0;
  if (service_handler_ != nullptr) {
    ServiceHandler* h = service_handler_;
    calls += Reconcile(
        &services_, std::move(desired_services), "service", &stats_->events_received,
        [h](const Service& s) { h->OnServiceAdd(s); },
        [h](const Service& o, const Service& s) { h->OnServiceUpdate(o, s); },
        [h](const Service& s) { h->OnServiceDelete(s); });
  }
  if (slice_handler_ != nullptr) {
    EndpointSliceHandler* h = slice_handler_;
    calls += Reconcile(
        &slices_, std::move(desired_slices), "endpointslice", &stats_->events_received,
        [h](const EndpointSlice& s) { h->OnEndpointSliceAdd(s); },
        [h](const EndpointSlice& o, const EndpointSlice& s) { h->OnEndpointSliceUpdate(o, s); },
        [h](const EndpointSlice& s) { h->OnEndpointSliceDelete(s); });
  }
  if (node_handler_ != nullptr) {
    NodeHandler* h = node_handler_;
    calls += Reconcile(
        &nodes_, std::move(desired_nodes), "node", &stats_->events_received,
        [h](const Node& n) { h->OnNodeAdd(n); },
        [h](const Node& o, const Node& n) { h->OnNodeUpdate(o, n); },
        [h](const Node& n) { h->OnNodeDelete(n); });
  }
  VLOG(2) << "manifest " << directory_ << ": " << files_.size() << " file(s), " << services_.size()
          << " service(s), " << slices_.size() << " endpointslice(s), " << nodes_.size()
          << " node(s); " << calls << " change(s) delivered";
}

}  // namespace kpx
